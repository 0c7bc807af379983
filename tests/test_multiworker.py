"""Multi-worker training from TF_CONFIG: two real worker processes on 127.0.0.1.

Each worker is ``python -m vsr_latent.cli train`` with its own TF_CONFIG and its own run folder
(as on two machines), a tiny Latn10 on the built-in data, so the whole path is the package's:
`default_strategy` builds a MultiWorkerMirroredStrategy, the custom loop all-reduces the
gradients, the chief writes RUN/checkpoints + model.keras, the other worker writes its
(collective) checkpoint saves aside under RUN/checkpoints/.worker_<i>.

- both workers end with numerically identical weights and optimiser state (fast, default run);
- a worker killed mid-run makes the other stop with a one-line error in bounded time, and both
  restarted resume from the same last checkpoint (slow);
- a worker that hangs (SIGSTOP) is detected by the peer health checks / collective timeout (slow).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

REPO = Path(__file__).resolve().parent.parent
TINY = ["seq_len=3", "model_overrides.num_layers=2", 'model_overrides.blocks=["long"]']
# A worker that has lost its peer must give up within this (health checks: <= ~70 s).
GIVE_UP_WITHIN_S = 150


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(ports, index):
    return json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index},
    })


def train_cmd(run_dir, *overrides):
    return [
        sys.executable, "-m", "vsr_latent.cli", "train", "--config", "table1_latn10",
        "--budget", "tiny", "--run_dir", str(run_dir), "--no-progress",
        *[arg for o in TINY + list(overrides) for arg in ("--set", o)],
    ]


# Loaded by each worker (sitecustomize): records every eager all-reduce, which runs in a thread
# pool of TensorFlow's that stays open when a peer is lost during it (its finaliser then fails
# at exit with a traceback).
EAGER_REDUCE_RECORDER = """
import multiprocessing.pool, os, traceback
_init = multiprocessing.pool.ThreadPool.__init__
def _recording_init(self, *args, **kwargs):
    with open(os.environ["EAGER_REDUCES"], "a") as f:
        f.write("".join(traceback.format_stack(limit=12)) + "\\n----\\n")
    _init(self, *args, **kwargs)
multiprocessing.pool.ThreadPool.__init__ = _recording_init
"""


def start_cluster(tmp_path, *overrides, ports=None, tag="", shared_run_dir=False,
                  record_eager_reduces=False):
    """Starts two workers; returns (processes, run dirs, log paths). With
    ``record_eager_reduces`` each worker's eager all-reduces are listed in
    ``tmp_path/eager_reduces_<i>.txt``."""
    ports = ports or free_ports(2)
    procs, dirs, logs = [], [], []
    hook = tmp_path / "hook"
    if record_eager_reduces:
        hook.mkdir(exist_ok=True)
        (hook / "sitecustomize.py").write_text(EAGER_REDUCE_RECORDER)
    for i in range(2):
        run_dir = tmp_path / ("shared" if shared_run_dir else f"worker{i}")
        log = tmp_path / f"worker{i}{tag}.log"
        env = {**os.environ, "TF_CONFIG": tf_config(ports, i), "CUDA_VISIBLE_DEVICES": "",
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        if record_eager_reduces:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(hook)] + [p for p in [env.get("PYTHONPATH")] if p])
            env["EAGER_REDUCES"] = str(tmp_path / f"eager_reduces_{i}.txt")
        with open(log, "wb") as out:
            procs.append(subprocess.Popen(train_cmd(run_dir, *overrides), cwd=REPO, env=env,
                                          stdout=out, stderr=subprocess.STDOUT))
        dirs.append(run_dir)
        logs.append(log)
    return procs, dirs, logs


def wait_all(procs, logs, timeout):
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            p.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise AssertionError(f"workers still running after {timeout} s:\n{read_logs(logs)}")
    finally:
        stop(procs)


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.kill()
            p.wait()


def read_logs(logs):
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)


def checkpoint_of(run_dir, index):
    ckpt_dir = run_dir / "checkpoints"
    return tf.train.latest_checkpoint(str(ckpt_dir if index == 0 else ckpt_dir / f".worker_{index}"))


def assert_same_state(a, b):
    """Every variable (model, optimizer, step, data position) of two checkpoints is equal."""
    ra, rb = tf.train.load_checkpoint(a), tf.train.load_checkpoint(b)
    keys = sorted(k for k in ra.get_variable_to_shape_map() if k != "_CHECKPOINTABLE_OBJECT_GRAPH")
    assert keys == sorted(
        k for k in rb.get_variable_to_shape_map() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"
    )
    # The model's variables are saved under the first object path that reaches them (some
    # through the optimizer): the tiny Latn10 has 18, Adam two moments of each.
    trainable = [k for k in keys if k.startswith("optimizer/_trainable_variables/")]
    assert len([k for k in keys if k.startswith("model/")]) + len(trainable) == 18, keys
    assert len([k for k in keys if k.startswith("optimizer/_variables/")]) == 2 * 18, keys
    for k in keys:
        np.testing.assert_array_equal(ra.get_tensor(k), rb.get_tensor(k), err_msg=k)
    return ra


@pytest.mark.slow  # about 20 s: two worker processes
def test_two_workers_end_with_identical_weights(tmp_path):
    steps = 4
    procs, dirs, logs = start_cluster(tmp_path, f"stage1_steps={steps}", "checkpoint_every=2",
                                      record_eager_reduces=True)
    wait_all(procs, logs, timeout=300)
    assert [p.returncode for p in procs] == [0, 0], read_logs(logs)
    # No eager all-reduce: the training loop's collectives all run in its compiled step (an
    # iterator over a stream of unknown length made one per batch, see pipelines.endless).
    for i in range(2):
        made = tmp_path / f"eager_reduces_{i}.txt"
        assert not made.exists(), made.read_text()[-3000:]
    chief, worker = checkpoint_of(dirs[0], 0), checkpoint_of(dirs[1], 1)
    assert chief.endswith(f"ckpt-{steps}") and worker.endswith(f"ckpt-{steps}"), read_logs(logs)
    reader = assert_same_state(chief, worker)
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == steps
    # Training moved the weights: the two workers agree on a trained model, not on the init.
    first = tf.train.load_checkpoint(str(dirs[0] / "checkpoints" / "ckpt-2"))
    key = "model/stem/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert not np.array_equal(first.get_tensor(key), reader.get_tensor(key))
    # Only the chief writes the run's files; the other worker's saves stay aside.
    assert (dirs[0] / "model.keras").is_file() and (dirs[0] / "config.json").is_file()
    assert not (dirs[1] / "model.keras").exists()
    assert not (dirs[1] / "checkpoints" / "checkpoint").exists()
    # The chief's model.keras holds the same weights as both checkpoints.
    from vsr_latent.run_folder import load_keras_model

    model = load_keras_model(dirs[0] / "model.keras")
    np.testing.assert_array_equal(model.stem.kernel.numpy(), reader.get_tensor(key))


@pytest.mark.slow
def test_two_workers_sharing_one_run_folder_do_not_collide(tmp_path):
    """On a shared file system both workers may get the same --run_dir: only the chief writes
    the run's files; the other worker's collective saves go to checkpoints/.worker_1/."""
    procs, dirs, logs = start_cluster(tmp_path, "stage1_steps=4", "checkpoint_every=2",
                                      shared_run_dir=True)
    wait_all(procs, logs, timeout=300)
    assert [p.returncode for p in procs] == [0, 0], read_logs(logs)
    run = dirs[0]
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.json", "logs",
                                                      "model.keras"]
    assert_same_state(checkpoint_of(run, 0), checkpoint_of(run, 1))
    assert checkpoint_of(run, 0).endswith("ckpt-4")


def _wait_for_checkpoint(run_dir, procs, logs, timeout=240):
    state = run_dir / "checkpoints" / "checkpoint"
    deadline = time.monotonic() + timeout
    while not state.exists():
        if any(p.poll() is not None for p in procs):
            stop(procs)
            raise AssertionError("a worker exited early:\n" + read_logs(logs))
        if time.monotonic() > deadline:
            stop(procs)
            raise AssertionError(f"no checkpoint within {timeout} s:\n{read_logs(logs)}")
        time.sleep(0.05)


def _survivor_error(proc, log, started):
    try:
        proc.wait(timeout=GIVE_UP_WITHIN_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the surviving worker hangs: still running {GIVE_UP_WITHIN_S} s "
                             f"after losing its peer")
    took = time.monotonic() - started
    text = log.read_text(errors="replace")
    assert proc.returncode == 2, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    errors = [line for line in text.splitlines() if line.startswith("vsr-latent")]
    assert len(errors) == 1, text[-3000:]
    assert errors[0].startswith("vsr-latent train: error: lost contact with another worker")
    assert "resume from the last checkpoint" in errors[0]
    return took, errors[0]


@pytest.mark.slow
def test_killed_worker_stops_the_other_and_both_resume(tmp_path):
    long_run = ["stage1_steps=100000", "checkpoint_every=3", "log_every=1000",
                "image_every=100000"]
    procs, dirs, logs = start_cluster(tmp_path, *long_run)
    _wait_for_checkpoint(dirs[0], procs, logs)
    time.sleep(1.0)  # mid-run, between checkpoints or inside one
    procs[1].kill()
    procs[1].wait()
    killed = time.monotonic()
    took, message = _survivor_error(procs[0], logs[0], killed)
    print(f"survivor stopped {took:.1f} s after its peer was killed: {message}")
    stop(procs)

    # Both restarted (a few steps beyond the last checkpoint) resume from the same step.
    last = [checkpoint_of(dirs[i], i) for i in range(2)]
    steps = [int(c.rsplit("-", 1)[1]) for c in last]
    assert steps[0] >= 3, last
    resume_to = max(steps) + 2
    procs, dirs, logs = start_cluster(tmp_path, *long_run[1:], f"stage1_steps={resume_to}",
                                      tag="_resumed")
    wait_all(procs, logs, timeout=300)
    assert [p.returncode for p in procs] == [0, 0], read_logs(logs)
    resumed = [
        [line for line in log.read_text().splitlines() if line.startswith("Resuming")]
        for log in logs
    ]
    assert all(len(r) == 1 for r in resumed), read_logs(logs)
    assert resumed[0][0].split(" (")[0] == resumed[1][0].split(" (")[0], resumed
    reader = assert_same_state(checkpoint_of(dirs[0], 0), checkpoint_of(dirs[1], 1))
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == resume_to


@pytest.mark.slow
def test_hung_worker_is_detected_in_bounded_time(tmp_path):
    procs, dirs, logs = start_cluster(tmp_path, "stage1_steps=100000", "checkpoint_every=3",
                                      "log_every=1000", "image_every=100000")
    _wait_for_checkpoint(dirs[0], procs, logs)
    procs[1].send_signal(signal.SIGSTOP)  # alive, connection open, but never answers
    stopped = time.monotonic()
    try:
        took, message = _survivor_error(procs[0], logs[0], stopped)
    finally:
        stop(procs)
    print(f"survivor stopped {took:.1f} s after its peer hung: {message}")
