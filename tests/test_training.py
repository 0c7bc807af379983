"""Training: a real 2-replica MirroredStrategy run on the built-in data, per-replica loss scaling,
Algorithm 1's stage switch, init_from, checkpoints (restore, kill and resume), TensorBoard events
read back with TensorBoard's reader, and the non-finite-loss stop.

Models are the real registry networks made tiny (8 filters, 2 residual layers, one attention
block, L = 3, 8x8 LR patches) so that each test stays within seconds of tracing.
"""

import dataclasses
import json
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

from tests.training_helpers import TINY, tiny_config, two_replicas
from vsr_latent import run_folder
from vsr_latent.errors import CheckpointError, TrainingError
from vsr_latent.run_folder import restore_model
from vsr_latent.training.checkpoints import noise_seed_states
from vsr_latent.training.trainer import Trainer, train

REPO = Path(__file__).resolve().parent.parent



def read_tensors(logdir):
    """{tag: [(step, numpy value)]} of every summary in the event files, via TensorBoard."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    acc = EventAccumulator(str(logdir), size_guidance={"tensors": 0, "images": 0})
    acc.Reload()
    return {
        tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]
        for tag in acc.Tags()["tensors"]
    }


# ---- one real 2-replica run shared by several tests ------------------------------------------

STAGE1, STAGE2 = 16, 4


@pytest.fixture(scope="module")
def mirrored_run(tmp_path_factory):
    pytest.importorskip("tensorboard", reason="the tensorboard package writes/reads the events")
    run_dir = tmp_path_factory.mktemp("mirrored") / "run"
    config = tiny_config(
        "table3_vlatn10_7",
        f"stage1_steps={STAGE1}",
        f"stage2_steps={STAGE2}",
        "optimizer.learning_rate=3e-3",
        "checkpoint_every=4",
        f"image_every={STAGE1 + STAGE2}",
        "data.batch_size=4",
    )
    trainer = Trainer(config, run_dir, strategy=two_replicas(), progress=False, log=lambda m: None)
    assert trainer.num_replicas == 2
    # The stages of the compiled steps the loop runs, in order, each listed once per switch.
    stages = []
    step_fn = trainer.train_step.step_fn

    def record(stage):
        if not stages or stages[-1] != stage:
            stages.append(stage)
        return step_fn(stage)

    trainer.train_step.step_fn = record
    # A fixed batch the run never trains on (another seed), scored before and after training.
    from vsr_latent.data.pipelines import train_dataset

    held_lr, held_hr = next(iter(train_dataset("builtin", seq_len=3, lr_size=(8, 8),
                                               batch_size=8, seed=99)))

    def held_loss():
        sr = trainer.model(held_lr, training=False)
        return float(tf.reduce_mean(tf.square((sr - held_hr) / 255.0)))

    trainer.held_loss_before = held_loss()
    metrics = trainer.run()
    del trainer.train_step.step_fn  # the recording wrapper: the tests read the step functions
    trainer.held_loss_after = held_loss()
    return trainer, metrics, run_dir, stages


def test_mirrored_run_loss_falls(mirrored_run):
    trainer, metrics, run_dir, _ = mirrored_run
    assert metrics["step"] == STAGE1 + STAGE2
    events = read_tensors(run_folder.log_dir(run_dir) / "train")
    re_loss = [float(v) for _, v in events["loss/re"]]
    assert [s for s, _ in events["loss/re"]] == list(range(1, STAGE1 + STAGE2 + 1))
    assert all(np.isfinite(re_loss))
    # The L2 loss on a fixed held-out batch falls (the per-step losses are of varying batches).
    assert trainer.held_loss_after < 0.5 * trainer.held_loss_before, (
        trainer.held_loss_before, trainer.held_loss_after)


def test_events_read_back_equal_the_returned_metrics(mirrored_run):
    _trainer, metrics, run_dir, _ = mirrored_run
    events = read_tensors(run_folder.log_dir(run_dir) / "train")
    for tag in ("loss/total", "loss/re", "loss/vae", "psnr/train", "optimizer/grad_norm"):
        step, value = events[tag][-1]
        assert step == STAGE1 + STAGE2
        assert float(value) == pytest.approx(metrics[tag], rel=1e-6), tag
    lr = [float(v) for _, v in events["optimizer/learning_rate"]]
    assert lr == pytest.approx([3e-3] * (STAGE1 + STAGE2))
    assert all(float(v) > 0 for _, v in events["perf/steps_per_sec"][1:])
    # PSNR of the batch agrees with the L2 loss of the same batch up to the [0, 255] clip.
    for (_, p), (_, loss) in zip(events["psnr/train"], events["loss/re"]):
        assert float(p) >= -10 * np.log10(float(loss)) - 1e-3
    # The pre-clip global norm is logged, not the clipped one (clip norm 3).
    assert max(float(v) for _, v in events["optimizer/grad_norm"]) > 0


def test_stage_switch_flips_sampling_and_adds_l_vae(mirrored_run):
    trainer, _metrics, run_dir, stages = mirrored_run
    # The model holds no mode: stage 2's sampled path is an argument of its calls; the loop runs
    # stage 1's compiled step, then stage 2's, each traced once.
    assert stages == [1, 2]
    assert [trainer.train_step.step_fn(s).experimental_get_tracing_count() for s in stages] == [
        1, 1]
    assert not any("sampling" in w.path for w in trainer.model.weights)
    events = read_tensors(run_folder.log_dir(run_dir) / "train")
    assert [s for s, _ in events["loss/vae"]] == list(range(STAGE1 + 1, STAGE1 + STAGE2 + 1))
    # The stage is a text (a smoothed scalar would ramp from 1 to 2), written at the first step
    # and at the switch.
    stage_texts = [(s, v.item().decode("utf-8")) for s, v in events["train/stage"]]
    assert [s for s, _ in stage_texts] == [1, STAGE1 + 1]
    assert stage_texts[0][1].startswith("stage 1: L_re, variance heads off")
    assert stage_texts[1][1].startswith(
        f"stage 2: L_re + λ·L_vae, variance heads on, from step {STAGE1 + 1}")
    for (_, total), (_, re_), (_, vae) in zip(
        events["loss/total"][STAGE1:], events["loss/re"][STAGE1:], events["loss/vae"]
    ):
        # lambda = 1; one sampled pass (the paper's configs' default stage2_forward): L_re and
        # L_vae are both computed on the same sampled output.
        assert float(total) == pytest.approx(float(re_) + float(vae), rel=1e-5)
        assert trainer.config.stage2_forward == "one_pass"
        assert float(vae) == float(re_)
    assert [float(v) for _, v in events["loss/total"][:STAGE1]] == [
        float(v) for _, v in events["loss/re"][:STAGE1]
    ]
    # After training the model's plain call is the deterministic mean path.
    x = tf.random.uniform([1, 3, 8, 8, 3], 0, 255, seed=4)
    np.testing.assert_array_equal(trainer.model(x).numpy(), trainer.model(x).numpy())


def test_images_and_attention_pictures(mirrored_run):
    from vsr_latent import pictures as P

    _trainer, _metrics, run_dir, _ = mirrored_run
    events = read_tensors(run_folder.log_dir(run_dir) / "train")
    decoded = {}
    for tag in ("images/lr_sr_hr", "attention/long_corr_0", "attention/variance_0"):
        # image_every = 20 in a 20-step run, but pictures are logged at least 5 times a run.
        assert [s for s, _ in events[tag]] == [4, 8, 12, 16, 20], tag
        _step, value = events[tag][-1]
        width, height = int(value[0]), int(value[1])
        img = tf.io.decode_png(value[2]).numpy()
        assert img.shape == (height, width, 3)
        decoded[tag] = img
    L, p, s = 3, 8, 4
    # The panel's layout depends on the shapes only: lay out a blank clip of the same shapes.
    layout = P.lr_sr_hr_panel(np.zeros((L, p, p, 3)), np.zeros((L, p * s, p * s, 3)),
                              np.zeros((L, p * s, p * s, 3)), s)
    panel = decoded["images/lr_sr_hr"]
    assert panel.shape == layout.image.shape
    assert panel.shape[1] > panel.shape[0]
    first_top = min(top for top, _, _, _ in layout.boxes.values())
    # The label strip above the tiles is drawn (not background).
    assert (panel[:first_top] != np.array(P.BACKGROUND, np.uint8)).any(axis=-1).sum() > 100
    for t in layout.info["frames"]:
        top, left, h, w = layout.boxes[("lr", t)]
        assert (h, w) == (p * s, p * s)
        # The LR column is nearest-neighbour upscaled: constant over each 4x4 block.
        blocks = panel[top:top + h, left:left + w].astype(int).reshape(p, s, p, s, 3)
        assert (blocks == blocks[:, :1, :, :1]).all()
    # The long-attention picture outlines the query's latent cell in white and its 3 most
    # similar other positions in red (viridis over grey never reaches either colour). The
    # latent map is 4 x 4 for 8 x 8 LR frames: one cell is 2 x 2 LR pixels, 8 x 8 shown (x4),
    # so a 28-pixel outline.
    corr = decoded["attention/long_corr_0"]
    assert int((corr == P.QUERY_MARKER).all(axis=-1).sum()) == 28
    assert int((corr == P.KEY_MARKER).all(axis=-1).sum()) == 3 * 28
    # The variance picture: one LR frame shown x4 with its title and colour bar.
    var_layout = P.variance_picture(np.full((L, 4, 4, 1), 1e-3), np.zeros((L, p, p, 3)))
    assert decoded["attention/variance_0"].shape == var_layout.image.shape
    assert var_layout.boxes[("frame", L // 2)][2:] == (p * s, p * s)


def test_checkpoint_restores_the_same_weights(mirrored_run):
    trainer, _metrics, run_dir, _ = mirrored_run
    latest = run_folder.latest_checkpoint(run_dir)
    assert latest.endswith(f"ckpt-{STAGE1 + STAGE2}")
    reader = tf.train.load_checkpoint(latest)
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == STAGE1 + STAGE2
    assert reader.get_tensor("data_position/.ATTRIBUTES/VARIABLE_VALUE") == STAGE1 + STAGE2
    restored = restore_model(run_dir)
    assert restored.variational
    trained = [np.asarray(w) for w in trainer.model.get_weights()]
    assert len(trained) == len(restored.get_weights())
    for a, b in zip(trained, restored.get_weights()):
        np.testing.assert_array_equal(a, b)
    # model.keras (written atomically at the end) holds the same weights.
    from vsr_latent.run_folder import load_keras_model

    final = load_keras_model(run_folder.model_path(run_dir))
    for a, b in zip(trained, final.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = tf.random.uniform([1, 3, 8, 8, 3], 0, 255, seed=1)
    np.testing.assert_allclose(final(x).numpy(), restored(x).numpy(), rtol=1e-5, atol=1e-3)
    # config.json describes the model that was trained.
    config = run_folder.read_config(run_dir)
    assert (config.model.name, config.model.seq_len, config.model.filters) == ("vlatn10", 3, 8)
    assert config == trainer.config
    assert not list(Path(run_dir).glob("**/*.part*"))


# ---- per-replica loss scaling -------------------------------------------------------------------


def test_two_replica_gradient_equals_one_device_gradient(tmp_path):
    from vsr_latent.data.pipelines import train_dataset

    config = tiny_config("table1_latn10", "data.batch_size=4")
    lr, hr = next(iter(train_dataset("builtin", seq_len=3, lr_size=(8, 8), batch_size=4, seed=3)))
    one = Trainer(config, tmp_path / "one", strategy=tf.distribute.get_strategy(), progress=False)
    two = Trainer(config, tmp_path / "two", strategy=two_replicas(), progress=False)
    two.model.set_weights(one.model.get_weights())

    def split(strategy):
        n = strategy.num_replicas_in_sync
        per = 4 // n
        return strategy.experimental_distribute_values_from_function(
            lambda ctx: (
                lr[ctx.replica_id_in_sync_group * per:(ctx.replica_id_in_sync_group + 1) * per],
                hr[ctx.replica_id_in_sync_group * per:(ctx.replica_id_in_sync_group + 1) * per],
            )
        )

    g1 = one.train_step.gradients(split(one.strategy))
    g2 = two.train_step.gradients(split(two.strategy))
    # Reference: the plain mean-over-the-global-batch L2 loss, one device, no strategy code.
    with tf.GradientTape() as tape:
        sr = one.model(lr, training=True)
        loss = tf.reduce_mean(tf.square((sr - hr) / 255.0))
    ref = tape.gradient(loss, one.model.trainable_variables)
    assert len(g1) == len(g2) == len(ref)
    for a, b, r in zip(g1, g2, ref):
        np.testing.assert_allclose(a, r.numpy(), rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(b, r.numpy(), rtol=1e-4, atol=1e-7)
    # One optimiser step: same weights and same Adam moments (the summed gradient is applied
    # once, not all-reduced a second time by the optimiser).
    one.train_step.step_fn(1)(split(one.strategy))
    two.train_step.step_fn(1)(split(two.strategy))
    for a, b in zip(one.model.get_weights(), two.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    import keras

    for va, vb in zip(one.train_step.optimizer.variables, two.train_step.optimizer.variables):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(va), keras.ops.convert_to_numpy(vb), rtol=1e-4, atol=1e-9
        )


# ---- init_from (Table 3: VLatn10_7 from Latn10_7) ------------------------------------------------


def test_stage2_starts_from_a_stage1_run(tmp_path):
    src_dir = tmp_path / "latn"
    train(tiny_config("table1_latn10", "stage1_steps=2"), src_dir, progress=False,
          strategy=tf.distribute.get_strategy(), log=lambda m: None)
    source = restore_model(src_dir)
    assert not source.variational
    messages = []
    config = tiny_config("table3_vlatn10_7", f"init_from={src_dir}", "stage1_steps=0",
                         "stage2_steps=2")
    trainer = Trainer(config, tmp_path / "vlatn", strategy=tf.distribute.get_strategy(),
                      progress=False, log=messages.append)
    assert trainer.restore_or_initialize() == 0
    assert messages[0].startswith("Training table3_vlatn10_7 (2 steps)"), messages
    assert re.match(r"Initialised \d+ weights from .*; \d+ start fresh", messages[1]), messages
    # Every weight of the stage-1 model is now in the variational model under the same
    # object-graph path; the paths only the variational model has are its variance heads.
    def model_values(model, where):
        prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / where / "ckpt"))
        reader = tf.train.load_checkpoint(prefix)
        return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
                if k.startswith("model/")}

    src = model_values(source, "src")
    dst = model_values(trainer.model, "dst")
    assert len(src) == len(source.weights) and set(src) < set(dst)
    for k in src:
        np.testing.assert_array_equal(src[k], dst[k])
    fresh = sorted(set(dst) - set(src))
    assert fresh and all("/head/" in k for k in fresh), fresh
    # The mean head starts as the identity: on its mean path the variational model computes
    # exactly what its stage-1 model computes.
    x = tf.random.uniform([1, 3, 8, 8, 3], 0, 255, seed=2)
    np.testing.assert_allclose(trainer.model(x).numpy(), source(x).numpy(), rtol=1e-5, atol=1e-3)
    metrics = trainer.run()
    assert metrics["step"] == 2 and "loss/vae" in metrics


def test_init_from_a_different_architecture_is_refused(tmp_path):
    src_dir = tmp_path / "wide"
    train(tiny_config("table1_latn10", "stage1_steps=1", "model.filters=12"), src_dir,
          progress=False, strategy=tf.distribute.get_strategy(), log=lambda m: None)
    config = tiny_config("table3_vlatn10_7", f"init_from={src_dir}")
    trainer = Trainer(config, tmp_path / "v", strategy=tf.distribute.get_strategy(),
                      progress=False, log=lambda m: None)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        trainer.restore_or_initialize()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        (tmp_path / "empty").mkdir()
        restore_model(tmp_path / "empty")


# ---- non-finite loss -----------------------------------------------------------------------------


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tmp_path):
    run_dir = tmp_path / "nan"
    # A learning rate of 1e30 makes the first update blow the weights up: step 2 is non-finite.
    config = tiny_config("table1_latn10", "optimizer.learning_rate=1e30", "checkpoint_every=1",
                         "stage1_steps=5")
    trainer = Trainer(config, run_dir, strategy=tf.distribute.get_strategy(), progress=False,
                      log=lambda m: None)
    with pytest.raises(TrainingError, match=r"non-finite loss/.* at step 2 \(stage 1\)"):
        trainer.run()
    latest = run_folder.latest_checkpoint(run_dir)
    assert latest.endswith("ckpt-1")
    model = restore_model(run_dir)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert not run_folder.model_path(run_dir).exists()


# ---- kill and resume a real training process ----------------------------------------------------


def _train_cmd(run_dir, steps):
    return [
        sys.executable, "-m", "vsr_latent.cli", "train", "--config", "table1_latn10",
        "--budget", "tiny", "--run_dir", str(run_dir), "--no-progress",
        *[arg for o in TINY for arg in ("--set", o)],
        "--set", f"stage1_steps={steps}", "--set", "checkpoint_every=5",
        "--set", "log_every=5", "--set", "image_every=1000",
    ]


@pytest.mark.slow  # about 20 s: a training process killed and resumed
def test_sigkill_then_resume_goes_on_from_the_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    steps = 40
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(_train_cmd(run_dir, steps), cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    state = run_folder.checkpoint_dir(run_dir) / "checkpoint"
    deadline = time.monotonic() + 120
    while not state.exists():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    latest = run_folder.latest_checkpoint(run_dir)
    killed_at = int(latest.rsplit("-", 1)[1])
    assert 5 <= killed_at < steps and killed_at % 5 == 0
    assert not run_folder.model_path(run_dir).exists()

    done = subprocess.run(_train_cmd(run_dir, steps), cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    resumed = re.search(r"Resuming table1_latn10 from step (\d+)", done.stdout)
    assert resumed, done.stdout
    assert int(resumed.group(1)) >= killed_at
    assert f"Finished table1_latn10 at step {steps}" in done.stdout
    reader = tf.train.load_checkpoint(run_folder.latest_checkpoint(run_dir))
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == steps
    assert reader.get_tensor("data_position/.ATTRIBUTES/VARIABLE_VALUE") == steps
    assert run_folder.model_path(run_dir).is_file()


def test_resumed_run_equals_an_uninterrupted_run(tmp_path):
    """Data position and optimiser state survive a restart: 3 + 3 steps == 6 steps, bit for bit."""
    whole = tiny_config("table1_latn10", "stage1_steps=6", "checkpoint_every=3")
    half = tiny_config("table1_latn10", "stage1_steps=3", "checkpoint_every=3")
    one = tf.distribute.get_strategy()
    train(whole, tmp_path / "whole", strategy=one, progress=False, log=lambda m: None)
    train(half, tmp_path / "split", strategy=one, progress=False, log=lambda m: None)
    train(whole, tmp_path / "split", strategy=one, progress=False, log=lambda m: None)
    a = restore_model(tmp_path / "whole").get_weights()
    b = restore_model(tmp_path / "split").get_weights()
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-8)


def test_checkpoint_without_noise_seeds_still_resumes(tmp_path):
    """Checkpoints written before the variance heads' noise states were saved: the model, the
    optimiser, the step and the data position resume; the noise starts from the generators'
    seeds."""
    config = tiny_config("table3_vlatn10_7", "stage1_steps=2", "stage2_steps=1",
                         "data.val_clips=0")
    one = tf.distribute.get_strategy()
    old = Trainer(config, tmp_path / "run", strategy=one, progress=False, log=lambda m: None)
    old.train_step.step_fn(1)(next(iter(old.distributed_dataset(0))))
    state = old.train_step
    legacy = tf.train.Checkpoint(model=state.model, optimizer=state.optimizer, step=state.step,
                                 data_position=state.data_position,
                                 skipped_steps=state.skipped_steps)
    path = tf.train.CheckpointManager(legacy, str(run_folder.checkpoint_dir(tmp_path / "run")),
                                      max_to_keep=1).save(checkpoint_number=1)
    assert not any("noise_seeds" in k
                   for k in tf.train.load_checkpoint(path).get_variable_to_shape_map())

    messages = []
    new = Trainer(config, tmp_path / "run", strategy=one, progress=False, log=messages.append)
    fresh_noise = [s.numpy() for s in noise_seed_states(new.model)]
    assert fresh_noise
    assert new.restore_or_initialize() == 1
    assert messages == [f"Resuming table3_vlatn10_7 from step 1 ({path})"]
    assert int(new.train_step.data_position.numpy()) == 1
    for a, b in zip(old.model.get_weights(), new.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(old.train_step.optimizer.variables, new.train_step.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for s, want in zip(noise_seed_states(new.model), fresh_noise):
        np.testing.assert_array_equal(s.numpy(), want)
    # It trains on (stage 2 included) and its next checkpoint holds the noise states.
    assert new.run()["step"] == 3
    saved = tf.train.load_checkpoint(run_folder.latest_checkpoint(tmp_path / "run"))
    assert any("noise_seeds" in k for k in saved.get_variable_to_shape_map())


def test_worker_count_from_the_strategy_or_tf_config(monkeypatch):
    from vsr_latent.training.workers import num_workers

    cluster = {"chief": ["a:1"], "worker": ["b:1", "c:1"]}

    class Resolver:
        def cluster_spec(self):
            return tf.train.ClusterSpec(cluster)

    class MultiWorker:
        cluster_resolver = Resolver()

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert num_workers(None) == 1
    assert num_workers(tf.distribute.get_strategy()) == 1
    assert num_workers(MultiWorker()) == 3
    # Before a strategy exists, TF_CONFIG says; a strategy without a cluster is one process.
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "chief",
                                                                              "index": 0}}))
    assert num_workers(None) == 3
    assert num_workers(tf.distribute.get_strategy()) == 1
    monkeypatch.setenv("TF_CONFIG", "not json")
    assert num_workers(None) == 1


# ---- the data position --------------------------------------------------------------------------


def test_data_position_skips_exactly_across_replicas(tmp_path):
    from vsr_latent.data.pipelines import build_train_dataset

    config = tiny_config("table1_latn10", "data.batch_size=4")
    t = Trainer(config, tmp_path / "run", strategy=two_replicas(), progress=False)

    def batches(position, n):
        it = iter(t.distributed_dataset(position))
        out = []
        for _ in range(n):
            _lr, hr = next(it)
            out.append(np.concatenate(
                [x.numpy() for x in t.strategy.experimental_local_results(hr)]))
        return out

    run = batches(0, 5)
    # Resuming at position 3 gives the 4th and 5th global batches of the uninterrupted stream,
    # on both replicas (each step consumes one per-replica batch per replica).
    resumed = batches(3, 2)
    np.testing.assert_array_equal(resumed[0], run[3])
    np.testing.assert_array_equal(resumed[1], run[4])
    assert not np.array_equal(run[3], run[4])
    # Any position, however far: its batch is the samples 4P .. 4P + 3 of the stream, each a
    # function of (seed, index) alone (a one-sample pipeline started at that index), made
    # without computing the batches before it.
    far = 10**9
    started = time.perf_counter()
    got = batches(far, 1)[0]
    assert time.perf_counter() - started < 60
    one = dataclasses.replace(config.data, batch_size=1)
    for r in range(4):
        want = next(iter(build_train_dataset(one, seq_len=config.model.seq_len,
                                             start_batch=4 * far + r)))[1].numpy()[0]
        np.testing.assert_array_equal(got[r], want)
    assert not np.array_equal(got, run[0]) and not np.array_equal(got, run[3])


def test_a_finished_run_leaves_no_graph_behind(tmp_path):
    """Many models in one process: TensorFlow registers a gradient function (holding its whole
    traced graph) each time a graph traces the long attention's custom gradient and never removes
    it; train() and the released_custom_gradients block remove what they registered."""
    from vsr_latent.training.graph_memory import custom_gradient_names, released_custom_gradients

    config = tiny_config("table1_latn10", "stage1_steps=2", "data.val_clips=0")
    before = custom_gradient_names()
    with released_custom_gradients():
        model = run_folder.build_model_for(config)
        x = tf.random.uniform([1, 3, 8, 8, 3], 0, 255, seed=1)

        @tf.function
        def grads(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(x, training=True))
            return tape.gradient(loss, model.trainable_variables)

        grads(x)
        assert custom_gradient_names() - before  # the trace registered its gradient functions
    assert custom_gradient_names() == before
    train(config, tmp_path / "run", strategy=tf.distribute.get_strategy(), progress=False,
          log=lambda m: None)
    assert custom_gradient_names() == before
