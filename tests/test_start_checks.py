"""Many models in one process on two replicas (the package's own strategy choice), and bad starts
that fail at once in one line naming the setting and the fix."""

import json

import imageio.v3 as iio
import numpy as np
import pytest

from vsr_latent.data.dataset_root import check_training_root
from vsr_latent.errors import ConfigError, InputError
from vsr_latent.paper.results import read_results_csv
from vsr_latent.training.strategy import CPU_REPLICAS_ENV, cpu_replicas

TWO = {CPU_REPLICAS_ENV: "2"}


def test_cpu_replicas_setting():
    assert cpu_replicas({}) == 1
    assert cpu_replicas({CPU_REPLICAS_ENV: "2"}) == 2
    with pytest.raises(ConfigError, match=CPU_REPLICAS_ENV):
        cpu_replicas({CPU_REPLICAS_ENV: "two"})


def _one_error_line(r, prog):
    errors = [line for line in r.stderr.splitlines() if line.startswith(prog)]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    return errors[0]


def test_a_batch_the_replicas_do_not_divide_fails_before_any_training(run_cli, tmp_path):
    r = run_cli("table1", "--budget", "tiny", "--set", "data.batch_size=3", "--out",
                tmp_path / "res", "--runs", tmp_path / "runs", "--quiet",
                module="vsr_latent.paper", env=TWO, timeout=180)
    assert r.returncode != 0
    line = _one_error_line(r, "reproduce table1")
    assert "data.batch_size=3 is not a multiple of the 2 replicas" in line
    assert "e.g. data.batch_size=2" in line
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_full_budget_without_data_fails_at_once(run_cli, tmp_path):
    # The table runner: no --data_root at --budget full.
    r = run_cli("table1", "--budget", "full", "--out", tmp_path / "res", module="vsr_latent.paper",
                timeout=120)
    assert r.returncode != 0
    assert "--budget full needs the paper's data: pass --data_root DIR" in _one_error_line(
        r, "reproduce table1")


def test_train_full_budget_on_builtin_names_the_field(capsys, tmp_path):
    from vsr_latent.cli import main

    assert main(["train", "--config", "ours", "--run_dir", str(tmp_path / "run"),
                 "--no_progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert len(err) == 1 and "data.source is 'builtin'" in err[0] and "full budget" in err[0]


def _root(tmp_path, lengths_by_split, *, drop=()):
    """A dataset root made by data_tools.make_dataset from frame folders, one source per clip."""
    from data_tools.make_dataset import main as make_dataset

    src = tmp_path / "src"
    rng = np.random.default_rng(0)
    for i, n in enumerate(lengths_by_split):
        d = src / f"s{i}"
        d.mkdir(parents=True)
        for t in range(n):
            iio.imwrite(d / f"{t:03d}.png", rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    root = tmp_path / "root"
    clip_len = min(lengths_by_split)
    make_dataset([str(src), str(root), "--clip_len", str(clip_len), "--num_train", "1",
                  "--num_val", "1", "--no_progress"])
    return root


def test_training_root_checks(tmp_path):
    root = _root(tmp_path, [6, 6, 6, 6])
    split = check_training_root(root, 5)
    assert split["train"] and split["validation"]
    with pytest.raises(InputError, match=r"data.source: clip has 6 frames, fewer than L = 7 "
                                         r"\(model.seq_len\); remake the root with --clip_len 7"):
        check_training_root(root, 7)
    n_val = len(split["validation"])
    with pytest.raises(InputError, match=rf"{n_val} validation clip\(s\), fewer than the "
                                         rf"{n_val + 5} asked for"):
        check_training_root(root, 4, val_clips=n_val + 5)
    # A clip the index lists but that is not finished (an interrupted make_dataset).
    victim = split["train"][0].dir
    (victim / "manifest.json").unlink()
    with pytest.raises(InputError, match="are not finished .* rerun `python -m "
                                         "data_tools.make_dataset SRC .*` to finish"):
        check_training_root(root, 4)
    # A Vid4-style folder given as the training root.
    vid4 = tmp_path / "Vid4"
    (vid4 / "GT" / "calendar").mkdir(parents=True)
    iio.imwrite(vid4 / "GT" / "calendar" / "000.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="Vid4-style test set.*not a training root"):
        check_training_root(vid4, 4)
    with pytest.raises(InputError, match="no such folder"):
        check_training_root(tmp_path / "nope", 4)
    assert json.loads((root / "dataset.json").read_text())["splits"]


@pytest.mark.slow  # about 2 minutes on 2 cores: three models trained and scored
def test_table1_on_two_replicas_measures_every_row(run_cli, tmp_path):
    """The runner's real path, as a researcher with two GPUs runs it (two logical CPU devices
    stand in for them; the package chooses the strategy): every row of Table 1 is measured."""
    out, runs = tmp_path / "results", tmp_path / "runs"
    run_cli("table1", "--budget", "tiny", "--out", out, "--runs", runs, "--quiet",
            module="vsr_latent.paper", env=TWO, timeout=900, returncode=0)
    rows = read_results_csv(out / "table1.csv")
    assert len(rows) == 6 and all(r["status"] == "measured" for r in rows), rows
    md = (out / "table1.md").read_text()
    for config in ("table1_res16", "table1_satn10", "table1_latn10"):
        line = next(x for x in md.splitlines() if f"`{config}` ->" in x)
        assert "on 2 replica(s)" in line, line


def test_rehearsal_budget_keeps_the_full_scale_and_cuts_steps_and_frames():
    from vsr_latent.configs import get_config
    from vsr_latent.configs.budgets import REHEARSAL_STEPS
    from vsr_latent.paper.reproduction_budget import (
        REHEARSAL_VAL_FRAMES,
        choose_budget,
        reproduction_budget,
    )

    full, reh = get_config("ours", budget="full"), get_config("ours", budget="rehearsal")
    assert (reh.stage1_steps, reh.stage2_steps) == (REHEARSAL_STEPS, max(1, REHEARSAL_STEPS // 2))
    assert reh.model == full.model and reh.data.batch_size == full.data.batch_size == 16
    assert (reh.data.lr_patch, reh.data.degradation) == (full.data.lr_patch, full.data.degradation)
    b = reproduction_budget("rehearsal", data_root="/data/root")
    assert b.val_max_frames == REHEARSAL_VAL_FRAMES and b.val_max_clips is None
    assert reproduction_budget("rehearsal", data_root="/data/root").data_source == "/data/root"
    with pytest.raises(ConfigError, match="--budget rehearsal needs the paper's data"):
        choose_budget("rehearsal", None, [])


def test_projection_is_the_full_budget_steps_times_flops_over_throughput():
    from vsr_latent.configs import get_config
    from vsr_latent.paper import projection

    full = get_config("ours", budget="full")
    got = projection.projected_seconds("ours", 2e12, 10e12, utilisation=0.5)
    # The paper's configs run stage 2 in one sampled pass (§5.3): a stage-2 step costs a stage-1's.
    assert full.stage2_forward == "one_pass"
    assert got == pytest.approx(2e12 * (full.stage1_steps + full.stage2_steps) / 5e12)


@pytest.mark.slow  # about 4 minutes on 2 cores: the full-size final model at batch 16
def test_rehearsal_cut_trains_full_size_on_real_1080p_and_records_its_costs(
        run_cli, tmp_path, shared_data, vid4_gt):
    """A cut of `reproduce/all.sh --budget rehearsal`: Table 5 on two replicas from a root of the
    real 1080p stream (linked, as downloads are), the full-size `ours` at the full budget's batch;
    its results record peak memory, phase times, steady seconds per step and a labelled
    projection of the full budget's training time."""
    from data_tools.make_dataset import main as make_dataset
    from vsr_latent.configs import get_config
    from vsr_latent.paper.projection import HARDWARE

    stream = shared_data / "train_clips" / "openh264_drive1080"
    if not stream.is_dir():
        pytest.skip(f"{stream} is absent")
    src, root = tmp_path / "downloads", tmp_path / "root"
    src.mkdir()
    (src / "drive.264").symlink_to(next(stream.glob("*.264")))
    assert make_dataset([str(src), str(root), "--clip_len", "27", "--no_progress"]) == 0
    out, runs = tmp_path / "results", tmp_path / "runs"
    run_cli("table5", "--budget", "rehearsal", "--data_root", root, "--vid4_root",
            vid4_gt.parent, "--out", out, "--runs", runs, "--quiet",
            module="vsr_latent.paper", env=TWO, timeout=1200, returncode=0)
    rows = {(r["row"], r["metric"]): r for r in read_results_csv(out / "table5.csv")}
    assert rows[("ours", "params")]["ours"] == 4_120_212  # full size, not a narrow network
    assert all(r["scale"] == "rehearsal" for r in rows.values())
    md = (out / "table5.md").read_text()
    assert "REHEARSAL — NOT COMPARABLE" in md and "on 2 replica(s)" in md
    config = json.loads((runs / "rehearsal" / "ours" / "config.json").read_text())
    full = get_config("ours", budget="full")
    assert config["data"]["batch_size"] == full.data.batch_size == 16
    assert config["data"]["lr_patch"] == full.data.lr_patch
    record = {line.split("**")[1]: line for line in md.splitlines() if line.startswith("- **")}
    peak = float(record["Peak RSS"].split(": ")[1].split(" MiB")[0])
    assert 500 < peak < 24 * 1024
    assert "training" in record["Phase times"] and "scoring" in record["Phase times"]
    steady = record["Seconds per training step"]
    assert "s steady (median after the first step)" in steady and "2 replica(s)" in steady
    projection = record["Projected full-budget training time (PROJECTION, not measured)"]
    assert all(hw in projection for hw in HARDWARE)
