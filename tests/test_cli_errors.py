"""The command line on bad input: exactly one line ``vsr-latent <command>: error: ...`` on stderr,
a non-zero exit, no traceback (unless ``--verbose``), and no output left behind.

Every case runs the real ``python -m vsr_latent`` in a subprocess (``run_cli``); the cases run a
few at a time in parallel (most of their time is Python / TensorFlow start-up). Nothing on stderr
is set aside: TensorFlow's native start-up lines are the command's to keep out
(``vsr_latent.native_logs``), and ``--verbose`` lets them through.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from vsr_latent.native_logs import is_native_log_line

# No GPU start-up in these short runs; TensorFlow's native lines all printed, so that the filter
# (not the log level) is what keeps them off stderr.
ENV = {"CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "0"}
# Plain ``python -c`` children importing this checkout.
REPO_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
PARALLEL = 4
TINY = {"seq_len": 2, "num_layers": 1, "filters": 4}


def _tiny_run_folder(path, config_name, blocks, weights_of_blocks=None):
    """A run folder (config.json + one checkpoint) without training: the checkpoint holds the
    fresh weights of the model with ``weights_of_blocks`` (default: the config's own)."""
    import tensorflow as tf

    from vsr_latent import run_folder
    from vsr_latent.configs import get_config
    from vsr_latent.models import build_model

    overrides = [f"seq_len={TINY['seq_len']}", f"model_overrides.num_layers={TINY['num_layers']}",
                 f"model_overrides.blocks={json.dumps(blocks)}"]
    config = get_config(config_name, budget="tiny", overrides=overrides)
    run_folder.write_config(path, config)
    model = build_model(config.model.name, seq_len=TINY["seq_len"], num_layers=TINY["num_layers"],
                        filters=config.model.filters,
                        blocks=weights_of_blocks or blocks)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model),
                               str(run_folder.checkpoint_dir(path)), max_to_keep=1).save()
    return path


def _small_video(path):
    from vsr_latent.data.video_io import FrameWriter

    with FrameWriter(path) as w:
        for v in (30, 90, 150):
            w.write(np.full((16, 24, 3), v, np.uint8))
    return path


def _cases(d):
    """{case id: (argv, expected text in the error line, outputs that must not exist)}."""
    video = _small_video(d / "in.mp4")
    (d / "garbage.mp4").write_bytes(os.urandom(2000))
    (d / "afile").write_text("not a folder\n")
    (d / "empty_dir").mkdir()
    mixed = _tiny_run_folder(d / "mixed_run", "table1_satn10", ["short"],
                             weights_of_blocks=["long"])
    tiny_train = ["--budget", "tiny", "--no-progress", "--set", "seq_len=2",
                  "--set", "model_overrides.num_layers=1", "--set", 'model_overrides.blocks=["long"]',
                  "--set", "stage1_steps=1"]
    return {
        # missing or unreadable input
        "upscale-missing-input": (["upscale", d / "nope.mp4", d / "o1.mp4", "--model", "bicubic"],
                                  "does not exist", [d / "o1.mp4"]),
        "upscale-garbage-input": (["upscale", d / "garbage.mp4", d / "o2.mp4", "--model",
                                   "bicubic"], "cannot decode video", [d / "o2.mp4"]),
        "upscale-empty-folder": (["upscale", d / "empty_dir", d / "o3", "--model", "bicubic"],
                                 "empty folder", [d / "o3"]),
        "degrade-missing-input": (["degrade", d / "nope.yuv", d / "o4"], "nope.yuv", [d / "o4"]),
        "degrade-yuv-without-size": (["degrade", d / "garbage.mp4", d / "o5", "--yuv_size",
                                      "7x5"], "garbage.mp4", [d / "o5"]),
        "evaluate-missing-folders": (["evaluate", "--sr_dir", d / "nope_sr", "--gt_dir",
                                      d / "nope_gt"], "nope", []),
        # unwritable output
        "upscale-output-under-a-file": (["upscale", video, d / "afile" / "o.mp4", "--model",
                                         "bicubic", "--no_progress"], "afile", []),
        "degrade-output-under-a-file": (["degrade", video, d / "afile" / "o"], "afile", []),
        "export-output-under-a-file": (["export", "--model", "res16", d / "afile" / "sm"],
                                       "afile", []),
        # unknown names
        "upscale-unknown-model": (["upscale", video, d / "o6.mp4", "--model", "nope"],
                                  "unknown model 'nope'", [d / "o6.mp4"]),
        "export-unknown-model": (["export", "--model", "nope", d / "o7"], "'nope'", [d / "o7"]),
        "upscale-missing-model-file": (["upscale", video, d / "o8.mp4", "--model",
                                        d / "nope.keras"], "nope.keras", [d / "o8.mp4"]),
        "train-unknown-config": (["train", "--config", "nope"], "unknown config 'nope'", []),
        "train-unknown-key": (["train", "--config", "table1_latn10", "--set", "nope=1"],
                              "--set nope: unknown key", []),
        "train-bad-value": (["train", "--config", "table1_latn10", "--set",
                             "data.batch_size=abc"], "not a valid int", []),
        "benchmark-unknown-key": (["benchmark", "--train", "--config", "ours", "--set", "nope=1"],
                                  "--set nope: unknown key", []),
        "train-bad-model-override": (["train", "--config", "table1_latn10", "--run_dir",
                                      d / "bad_override", *tiny_train, "--set",
                                      "model_overrides.filters=abc"],
                                     "filters must be an integer", [d / "bad_override"]),
        "degrade-unknown-method": (["degrade", video, d / "o9", "--method", "nearest"],
                                   "nearest", [d / "o9"]),
        "evaluate-unknown-protocol": (["evaluate", "--sr_dir", d, "--gt_dir", d, "--protocol",
                                       "nope"], "nope", []),
        # a checkpoint of a different model
        "upscale-checkpoint-of-another-model": (["upscale", video, d / "o10.mp4", "--model",
                                                 mixed], "does not match", [d / "o10.mp4"]),
        "export-checkpoint-of-another-model": (["export", "--model", mixed, d / "o11"],
                                               "does not match", [d / "o11"]),
        # a scale the model / data were not built for
        "degrade-scale-zero": (["degrade", video, d / "o12", "--scale", "0"], "--scale",
                               [d / "o12"]),
        "train-model-scale-2": (["train", "--config", "table1_latn10", "--run_dir", d / "s2",
                                 *tiny_train, "--set", "model_overrides.scale=2"],
                                "is built for x2 but the training data are made at x4",
                                [d / "s2" / "model.keras"]),
        "evaluate-sr-of-another-scale": (["evaluate", "--sr_dir", d / "sr_x2", "--gt_dir",
                                          d / "gt", "--no_progress"], "differs in size", []),
    }


def _frame_folders(d):
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    for name, size in (("gt", (48, 48)), ("sr_x2", (24, 24))):
        (d / name).mkdir()
        for i in range(4):
            iio.imwrite(d / name / f"{i:04d}.png",
                        rng.integers(0, 256, (*size, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def results(tmp_path_factory, run_cli):
    d = tmp_path_factory.mktemp("cli")
    _frame_folders(d)
    cases = _cases(d)

    def run(argv):
        return run_cli(*argv, env=ENV)

    with ThreadPoolExecutor(PARALLEL) as pool:
        runs = dict(zip(cases, pool.map(run, [argv for argv, *_ in cases.values()])))
    return {k: (runs[k], *cases[k][1:]) for k in cases}


CASE_IDS = [
    "upscale-missing-input", "upscale-garbage-input", "upscale-empty-folder",
    "degrade-missing-input", "degrade-yuv-without-size", "evaluate-missing-folders",
    "upscale-output-under-a-file", "degrade-output-under-a-file", "export-output-under-a-file",
    "upscale-unknown-model", "export-unknown-model", "upscale-missing-model-file",
    "train-unknown-config", "train-unknown-key", "train-bad-value", "train-bad-model-override",
    "benchmark-unknown-key",
    "degrade-unknown-method",
    "evaluate-unknown-protocol", "upscale-checkpoint-of-another-model",
    "export-checkpoint-of-another-model", "degrade-scale-zero", "train-model-scale-2",
    "evaluate-sr-of-another-scale",
]


@pytest.mark.parametrize("case", CASE_IDS)
def test_one_line_error_and_nonzero_exit(results, case):
    res, expected, absent = results[case]
    command = case.split("-")[0]
    lines = res.stderr.splitlines()
    assert res.returncode != 0, res.stdout + res.stderr
    assert len(lines) == 1, res.stderr[-3000:]
    assert lines[0].startswith(f"vsr-latent {command}: error: "), lines
    assert expected in lines[0], lines
    for path in absent:
        assert not Path(path).exists(), path


def test_case_list_is_complete(results):
    assert sorted(CASE_IDS) == sorted(results)


def test_unknown_model_is_one_line_and_verbose_shows_tensorflows_lines(tmp_path, run_cli):
    """The issue's example: without --verbose one line; with it, TensorFlow's own native lines
    and the traceback come through."""
    video = _small_video(tmp_path / "clip.mp4")
    argv = ["upscale", video, tmp_path / "out.mp4", "--model", "no_such_model"]
    quiet = run_cli(*argv, env=ENV, returncode=2)
    assert len(quiet.stderr.splitlines()) == 1, quiet.stderr[-3000:]
    assert quiet.stderr.startswith("vsr-latent upscale: error: unknown model 'no_such_model'")
    verbose = run_cli("--verbose", *argv, env=ENV)
    assert verbose.returncode != 0
    assert any(is_native_log_line(line) for line in verbose.stderr.splitlines()), verbose.stderr
    assert "Traceback" in verbose.stderr and "ConfigError" in verbose.stderr


def test_verbose_shows_the_traceback(tmp_path, run_cli):
    res = run_cli("--verbose", "upscale", tmp_path / "nope.mp4", tmp_path / "o.mp4", "--model",
                  "bicubic", env=ENV)
    assert res.returncode != 0
    assert "Traceback" in res.stderr and "InputError" in res.stderr


@pytest.mark.parametrize("module,argv,start", [
    ("vsr_latent", ["upscale", "--model"],
     "vsr-latent upscale: error: argument --model: expected one argument"),
    ("vsr_latent", ["nope"], "vsr-latent: error: argument COMMAND: invalid choice: 'nope'"),
    ("vsr_latent.paper", ["table1", "--budget", "huge"],
     "python -m vsr_latent.paper: error: argument --budget/--scale: invalid choice: 'huge'"),
])
def test_usage_errors_are_one_line(run_cli, module, argv, start):
    res = run_cli(*argv, module=module, env=ENV, returncode=2)
    assert len(res.stderr.splitlines()) == 1, res.stderr[-3000:]
    assert res.stderr.startswith(start) and res.stderr.strip().endswith("--help)"), res.stderr


def test_unexpected_errors_keep_their_traceback():
    """A bug is not the user's to fix: its traceback stays, without --verbose too."""
    code = ("import sys; from vsr_latent.command_runner import run_command; "
            "sys.exit(run_command('prog', lambda: 1 / 0))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False, env=REPO_ENV)
    assert res.returncode == 1 and "ZeroDivisionError" in res.stderr and "Traceback" in res.stderr


# ---- the native-log filter on its own ----------------------------------------------------------

NATIVE_LINES = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"I0000 00:00:1731012345.678901   12345 cpu_feature_guard.cc:210] This TensorFlow binary is "
    b"optimized to use available CPU instructions in performance-critical operations.",
    b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    b"TensorFlow with the appropriate compiler flags.",
    b"E0000 00:00:1731012345.678901   12345 cuda_executor.cc:1228] failed call to cuInit: "
    b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    b"2024-05-01 12:34:56.789012: W tensorflow/core/util/port.cc:113] oneDNN custom operations "
    b"are on. You may see slightly different numerical results.",
]
KEPT_LINES = [
    b"vsr-latent upscale: error: unknown model 'x'",
    b"F0000 00:00:1731012345.678901   12345 check.cc:12] Check failed: a == b",
    b"Error 2024: not a native line",
    b"/x/y.py:3: UserWarning: To enable the following, set a flag",
]

_FILTERED_CHILD = r"""
import os, sys
from vsr_latent.native_logs import quiet_native_logs
quiet_native_logs()
for line in sys.argv[1:]:
    os.write(2, line.encode() + b"\n")
os.write(2, b"\rprogress 1/2")
os.write(2, b"\rprogress 2/2")
os.abort()  # the filter process still passes on everything written before the crash
"""


def test_native_lines_are_recognised():
    assert all(is_native_log_line(line) for line in NATIVE_LINES)
    assert not any(is_native_log_line(line) for line in KEPT_LINES)


def test_filtered_stderr_keeps_every_other_line_even_through_a_crash():
    # Every native line, with a kept line between each two.
    mixed = [NATIVE_LINES[0]] + [line for pair in zip(KEPT_LINES, NATIVE_LINES[1:]) for line in pair]
    mixed = [line.decode() for line in mixed]
    res = subprocess.run([sys.executable, "-c", _FILTERED_CHILD, *mixed], capture_output=True,
                         timeout=60, check=False, env=REPO_ENV)
    assert res.returncode != 0  # aborted
    want = b"".join(line + b"\n" for line in KEPT_LINES) + b"\rprogress 1/2\rprogress 2/2"
    assert res.stderr == want
