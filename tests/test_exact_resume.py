"""Exact resumption and reproducibility through the command a user runs (``vsr-latent train``).

Every training sample is a pure function of (seed, index), so a run killed with SIGKILL at any
moment (past step 2,000, in stage 2, in the middle of a checkpoint write) and resumed ends with
the same bits as the run that was never interrupted, and one config and seed trained twice ends
with the same bits, on one replica and on two.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.training_helpers import TINY
from vsr_latent import run_folder
from vsr_latent.configs import get_config
from vsr_latent.data.pipelines import build_train_dataset

REPO = Path(__file__).resolve().parent.parent
# A variational model (stage 2 exists) small enough for thousands of steps in a minute or two.
SMALL = TINY + ["image_every=1000000", "validate_every=1000000", "data.val_clips=0",
                "data.batch_size=2", "data.lr_patch=4", "log_every=50"]


def _cmd(run_dir, *overrides):
    return [sys.executable, "-m", "vsr_latent.cli", "train", "--config", "ours", "--budget",
            "tiny", "--run_dir", str(run_dir), "--no_progress",
            *[a for o in SMALL + list(overrides) for a in ("--set", o)]]


def _env(replicas=1):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": str(REPO)}
    env.pop("VSR_LATENT_CPU_REPLICAS", None)
    if replicas > 1:
        env["VSR_LATENT_CPU_REPLICAS"] = str(replicas)
    return env


def _run(cmd, env):
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _final_state(run_dir):
    """Every tensor of the run's last checkpoint (weights, optimiser moments, step, position)."""
    reader = tf.train.load_checkpoint(run_folder.latest_checkpoint(run_dir))
    return {k: reader.get_tensor(k) for k in sorted(reader.get_variable_to_shape_map())
            if "_CHECKPOINTABLE_OBJECT_GRAPH" not in k}


def _assert_same_bits(a, b):
    sa, sb = _final_state(a), _final_state(b)
    assert sa.keys() == sb.keys()
    different = [k for k in sa if not np.array_equal(sa[k], sb[k])]
    assert not different, f"{len(different)} of {len(sa)} tensors differ, e.g. {different[:3]}"
    wa = run_folder.restore_model(a).get_weights()
    wb = run_folder.restore_model(b).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb))


def _checkpoints(run_dir):
    d = run_folder.checkpoint_dir(run_dir)
    return d, sorted(int(p.name[5:-6]) for p in d.glob("ckpt-*.index")) if d.is_dir() else []


def _kill_when(proc, ready, what, timeout=600):
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the run ended before {what}: {proc.stdout.read()[-3000:]}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow  # about 3 minutes: 2,300 steps twice, two kills and two resumes
def test_killed_past_step_2000_in_stage_2_and_while_saving_resumes_to_the_same_bits(tmp_path):
    steps = ["stage1_steps=2150", "stage2_steps=150", "checkpoint_every=50"]
    _run(_cmd(tmp_path / "whole", *steps), _env())

    run = tmp_path / "killed"
    env = _env()
    # 1. Killed in stage 1 after its checkpoint at step 2,100: it resumes past step 2,000.
    proc = subprocess.Popen(_cmd(run, *steps), cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    _kill_when(proc, lambda: 2100 in _checkpoints(run)[1], "checkpoint at step 2,100")
    assert max(_checkpoints(run)[1]) < 2150  # stopped in stage 1
    # 2. Resumed, then killed in stage 2 while a checkpoint is being written (TensorFlow writes
    # it under a temporary name first).
    proc = subprocess.Popen(_cmd(run, *steps), cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)

    def saving_in_stage_2():
        folder, done = _checkpoints(run)
        return done and done[-1] >= 2200 and any("_temp" in p.name for p in folder.iterdir())

    _kill_when(proc, saving_in_stage_2, "checkpoint write in stage 2")
    # The run resumes from the newest checkpoint the state file records: one caught in the
    # middle of its write (its files there, the state not yet updated) is not used.
    latest = run_folder.latest_checkpoint(run)
    killed_at = int(latest.rsplit("-", 1)[1])
    assert 2200 <= killed_at < 2300
    # 3. Resumed to the end.
    out = _run(_cmd(run, *steps), env)
    assert f"Resuming ours from step {killed_at}" in out
    assert "Finished ours at step 2300" in out
    _assert_same_bits(tmp_path / "whole", run)


@pytest.mark.slow  # about 1.5 minutes: four short runs through both stages
@pytest.mark.parametrize("replicas", [1, 2])
def test_one_config_and_seed_twice_gives_the_same_bits(tmp_path, replicas):
    steps = ["stage1_steps=40", "stage2_steps=20", "checkpoint_every=1000"]
    for name in ("a", "b"):
        _run(_cmd(tmp_path / name, *steps), _env(replicas))
    _assert_same_bits(tmp_path / "a", tmp_path / "b")


def test_another_seed_gives_other_samples_and_a_position_is_reached_at_once():
    data = get_config("ours", budget="tiny", overrides=TINY).data
    seq_len = 3

    def batch(seed, start):
        d = type(data)(**{**data.__dict__, "seed": seed})
        return next(iter(build_train_dataset(d, seq_len=seq_len, start_batch=start)))[1].numpy()

    assert np.array_equal(batch(0, 5), batch(0, 5))
    assert not np.array_equal(batch(0, 5), batch(1, 5))
    assert not np.array_equal(batch(0, 5), batch(0, 6))
    started = time.perf_counter()
    batch(0, 10**12)  # a trillion batches in: nothing before it is made
    assert time.perf_counter() - started < 30
