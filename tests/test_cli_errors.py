"""The command line on bad input: a one-line ``vsr-latent <command>: error: ...`` on stderr, a
non-zero exit, no traceback (unless ``--verbose``), and no output left behind.

Every case runs the real ``python -m vsr_latent.cli`` in a subprocess; the cases run a few at a
time in parallel (most of their time is Python / TensorFlow start-up). TensorFlow's own native
start-up log lines (absl messages written before Python can configure logging, e.g. "I0000 ...
cudart_stub.cc ...") are not the package's output and are set aside before counting lines.
"""

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
PARALLEL = 4
TF_NATIVE_LOG = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWEF]\d{4} \d\d:\d\d:\d\d|"
    r"To enable the following instructions:)"
)
TINY = {"seq_len": 2, "num_layers": 1, "filters": 4}


def _tiny_run_folder(path, config_name, blocks, weights_of_blocks=None):
    """A run folder (config.json + one checkpoint) without training: the checkpoint holds the
    fresh weights of the model with ``weights_of_blocks`` (default: the config's own)."""
    import tensorflow as tf

    from vsr_latent.configs import get_config
    from vsr_latent.models import build_model
    from vsr_latent import run_folder

    overrides = [f"seq_len={TINY['seq_len']}", f"model_overrides.num_layers={TINY['num_layers']}",
                 f"model_overrides.blocks={json.dumps(blocks)}"]
    config = get_config(config_name, scale="smoke", overrides=overrides)
    run_folder.write_config(path, config)
    model = build_model(config.model, seq_len=TINY["seq_len"], num_layers=TINY["num_layers"],
                        filters=config.model_overrides["filters"],
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
    tiny_train = ["--scale", "smoke", "--no-progress", "--set", "seq_len=2",
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


def _run(argv):
    cmd = [sys.executable, "-m", "vsr_latent.cli", *map(str, argv)]
    res = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    return res


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    _frame_folders(d)
    cases = _cases(d)
    with ThreadPoolExecutor(PARALLEL) as pool:
        runs = dict(zip(cases, pool.map(_run, [argv for argv, *_ in cases.values()])))
    return {k: (runs[k], *cases[k][1:]) for k in cases}


def package_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip() and not TF_NATIVE_LOG.match(line)]


CASE_IDS = [
    "upscale-missing-input", "upscale-garbage-input", "upscale-empty-folder",
    "degrade-missing-input", "degrade-yuv-without-size", "evaluate-missing-folders",
    "upscale-output-under-a-file", "degrade-output-under-a-file", "export-output-under-a-file",
    "upscale-unknown-model", "export-unknown-model", "upscale-missing-model-file",
    "train-unknown-config", "train-unknown-key", "train-bad-value", "train-bad-model-override",
    "degrade-unknown-method",
    "evaluate-unknown-protocol", "upscale-checkpoint-of-another-model",
    "export-checkpoint-of-another-model", "degrade-scale-zero", "train-model-scale-2",
    "evaluate-sr-of-another-scale",
]


@pytest.mark.parametrize("case", CASE_IDS)
def test_one_line_error_and_nonzero_exit(results, case):
    res, expected, absent = results[case]
    command = case.split("-")[0]
    lines = package_lines(res.stderr)
    assert res.returncode != 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert len(lines) == 1, res.stderr[-3000:]
    assert lines[0].startswith(f"vsr-latent {command}: error: "), lines
    assert expected in lines[0], lines
    for path in absent:
        assert not Path(path).exists(), path


def test_case_list_is_complete(results):
    assert sorted(CASE_IDS) == sorted(results)


def test_verbose_shows_the_traceback(tmp_path):
    res = _run(["--verbose", "upscale", tmp_path / "nope.mp4", tmp_path / "o.mp4", "--model",
                "bicubic"])
    assert res.returncode != 0
    assert "Traceback" in res.stderr and "InputError" in res.stderr


def test_argument_errors_end_with_one_vsr_latent_line(tmp_path):
    res = _run(["upscale", "--model"])
    lines = package_lines(res.stderr)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    # argparse prints its usage first, then one error line.
    assert lines[-1].startswith("vsr-latent upscale: error: "), lines
