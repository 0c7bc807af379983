"""tf.data service as the training input (``data_service``): a dispatcher and two workers on
loopback, started by the test; a run reads through them, trains, is killed and resumes."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from vsr_latent import run_folder
from vsr_latent.configs import get_config
from vsr_latent.errors import ConfigError
from vsr_latent.training.trainer import Trainer

REPO = Path(__file__).resolve().parent.parent
TINY = ["model.seq_len=3", "model.num_layers=2", 'model.blocks=["long"]',
        "model.upscaler_init_scale=1.0"]


@pytest.fixture(scope="module")
def data_service():
    """A dispatcher and two workers in this process, on loopback."""
    service = tf.data.experimental.service
    dispatcher = service.DispatchServer()
    host_port = dispatcher.target.split("://", 1)[1]
    workers = [service.WorkerServer(service.WorkerConfig(dispatcher_address=host_port))
               for _ in range(2)]
    yield dispatcher.target
    for w in workers:
        w.stop()
    dispatcher.stop()


def test_data_service_address_is_checked():
    with pytest.raises(ConfigError, match="data_service must be a dispatcher address"):
        get_config("ours", overrides=["data_service=localhost:5000"])
    assert get_config("ours").data_service is None


def test_batches_through_the_service_are_the_pipelines_samples(tmp_path, data_service):
    config = get_config("table1_latn10", budget="tiny", overrides=TINY)
    direct = Trainer(config, tmp_path / "a", strategy=tf.distribute.get_strategy(),
                     progress=False, log=lambda m: None)
    served = Trainer(get_config("table1_latn10", budget="tiny",
                                overrides=TINY + [f"data_service={data_service}"]),
                     tmp_path / "b", strategy=tf.distribute.get_strategy(), progress=False,
                     log=lambda m: None)

    def clips(trainer, n):
        it = iter(trainer.distributed_dataset(0))
        return [clip.tobytes() for _ in range(n) for clip in next(it)[1].numpy()]

    want, got = clips(direct, 8), clips(served, 8)
    # Each window made once, by one worker or the other: the same clips, maybe reordered.
    assert len(set(want) & set(got)) >= len(want) // 2
    assert len(set(got)) == len(got)


@pytest.mark.slow  # two training processes: about a minute
def test_training_through_the_service_is_killed_and_resumes(tmp_path, data_service):
    run_dir = tmp_path / "run"
    steps = 30
    cmd = [sys.executable, "-m", "vsr_latent.cli", "train", "--config", "table1_latn10",
           "--budget", "tiny", "--run_dir", str(run_dir), "--no-progress",
           *[a for o in TINY + [f"data_service={data_service}", f"stage1_steps={steps}",
                                "checkpoint_every=5", "log_every=5", "image_every=1000",
                                "data.val_clips=0"] for a in ("--set", o)]]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    state = run_folder.checkpoint_dir(run_dir) / "checkpoint"
    deadline = time.monotonic() + 180
    while not state.exists():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "no checkpoint within 180 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    out = proc.communicate()[0].decode()
    assert f"Data: through the tf.data service at {data_service}" in out
    killed_at = int(run_folder.latest_checkpoint(run_dir).rsplit("-", 1)[1])
    assert 5 <= killed_at < steps

    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    resumed = re.search(r"Resuming table1_latn10 from step (\d+)", done.stdout)
    assert resumed and int(resumed.group(1)) >= killed_at, done.stdout
    assert f"Data: through the tf.data service at {data_service}" in done.stdout
    assert f"Finished table1_latn10 at step {steps}" in done.stdout
    reader = tf.train.load_checkpoint(run_folder.latest_checkpoint(run_dir))
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == steps
    model = run_folder.restore_model(run_dir)
    assert all(np.isfinite(w).all() for w in model.get_weights())
