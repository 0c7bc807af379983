"""mixed_float16 training: Keras' dynamic loss scaling in the trainer's real step.

A float16 step's loss and (unscaled) gradients agree with float32's from the same weights; a
forced overflow is skipped (weights and Adam untouched), halves the scale and is counted in
TensorBoard; the scale is checkpointed and a resumed run goes on from it; clipping acts on the
unscaled gradient.

Tolerances: measured on these tiny networks (8 filters, L = 3), float16 moves the loss by about
2e-4 and the gradient by about 1.5e-3 (relative, global L2), so 2e-3 and 1.5e-2 leave a factor
of ten; an unscaled or wrongly scaled gradient is off by orders of magnitude.
"""

import numpy as np
import pytest
import tensorflow as tf

from vsr_latent import run_folder
from vsr_latent.configs import get_config
from vsr_latent.training.optimizer import INITIAL_LOSS_SCALE
from vsr_latent.training.trainer import Trainer, train

TINY = ["model.seq_len=3", "model.num_layers=2", 'model.blocks=["long"]',
        "model.upscaler_init_scale=1.0"]
LOSS_RTOL = 2e-3
GRAD_RTOL = 1.5e-2


def tiny_config(name, *overrides):
    return get_config(name, budget="tiny", overrides=TINY + list(overrides))


def quiet(config, run_dir, strategy=None):
    return Trainer(config, run_dir, strategy=strategy or tf.distribute.get_strategy(),
                   progress=False, log=lambda m: None)


def read_scalars(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    acc = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        values = [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]
        if all(v.ndim == 0 and v.dtype.kind == "f" for _, v in values):  # scalars, not pictures
            out[tag] = [(step, float(v)) for step, v in values]
    return out


def flat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays])


@pytest.mark.parametrize("stage", [1, 2])
def test_float16_step_agrees_with_float32(tmp_path, stage):
    runs = {}
    for precision in ("float32", "mixed_float16"):
        trainer = quiet(tiny_config("table3_vlatn10_7", f"precision={precision}"),
                        tmp_path / precision)
        batch = next(iter(trainer.distributed_dataset(0)))
        total, _ = trainer.train_step.replica_losses(*batch, stage)
        runs[precision] = (float(total), trainer.train_step.gradients(batch, stage),
                           flat(trainer.model.get_weights()), trainer)
    (loss32, grads32, w32, _), (loss16, grads16, w16, t16) = runs["float32"], runs["mixed_float16"]
    np.testing.assert_array_equal(w32, w16)  # the same seed: the same float32 weights
    assert t16.model.layers[0].compute_dtype == "float16"
    assert loss16 == pytest.approx(loss32, rel=LOSS_RTOL)
    g32, g16 = flat(grads32), flat(grads16)
    assert np.isfinite(g16).all()
    # Unscaled: the loss scale (2^15) is divided out again.
    assert np.linalg.norm(g16 - g32) / np.linalg.norm(g32) < GRAD_RTOL


def test_forced_overflow_is_skipped_and_lowers_the_scale(tmp_path):
    config = tiny_config("table1_latn10", "precision=mixed_float16", "stage1_steps=1")
    trainer = quiet(config, tmp_path / "run")
    batch = next(iter(trainer.distributed_dataset(0)))
    # A loss scale near float32's maximum makes the float16 backward pass overflow.
    trainer.train_step.optimizer.dynamic_scale.assign(2.0**120)
    before = trainer.model.get_weights()
    trainer.train_step.step_fn(1)(batch)
    assert int(trainer.train_step.skipped_steps.numpy()) == 1
    assert float(trainer.train_step.loss_scale()) == 2.0**119
    assert int(trainer.train_step.optimizer.iterations.numpy()) == 0  # Adam did not step
    for a, b in zip(before, trainer.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    metrics = trainer.read_metrics()
    assert metrics["optimizer/skipped_steps"] == 1.0
    assert "optimizer/grad_norm" not in metrics  # no applied step in the interval
    assert np.isfinite(metrics["loss/total"])  # the loss itself was fine: the run goes on

    # At a normal scale the next step is applied.
    trainer.train_step.optimizer.dynamic_scale.assign(INITIAL_LOSS_SCALE)
    trainer.train_step.step_fn(1)(batch)
    assert int(trainer.train_step.skipped_steps.numpy()) == 1
    assert int(trainer.train_step.optimizer.iterations.numpy()) == 1
    assert not np.array_equal(before[0], trainer.model.get_weights()[0])


@pytest.mark.slow  # a whole run with pictures and the saved model: 15-30 s
def test_overflow_in_a_real_run_is_counted_in_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    config = tiny_config("table1_latn10", "precision=mixed_float16", "stage1_steps=3",
                         "log_every=1", "data.val_clips=0")
    trainer = quiet(config, tmp_path / "run")
    trainer.train_step.optimizer.dynamic_scale.assign(2.0**120)
    trainer.run()
    events = read_scalars(run_folder.log_dir(tmp_path / "run") / "train")
    skipped = [v for _, v in events["optimizer/skipped_steps"]]
    scales = [v for _, v in events["optimizer/loss_scale"]]
    # Every step at 2^120..2^118 overflows: skipped, the scale halved each time.
    assert skipped == [1.0, 2.0, 3.0]
    assert scales == [2.0**119, 2.0**118, 2.0**117]
    assert "optimizer/grad_norm" not in events


def test_resumed_run_carries_the_loss_scale_on(tmp_path):
    pytest.importorskip("tensorboard")
    run_dir = tmp_path / "run"
    first = tiny_config("table1_latn10", "precision=mixed_float16", "stage1_steps=2",
                        "checkpoint_every=2")
    trainer = quiet(first, run_dir)
    # Not the initial scale, so that a resume that started over would show.
    trainer.train_step.optimizer.dynamic_scale.assign(1024.0)
    trainer.run()
    reader = tf.train.load_checkpoint(run_folder.latest_checkpoint(run_dir))
    keys = [k for k in reader.get_variable_to_shape_map() if "dynamic_scale" in k]
    assert keys and reader.get_tensor(keys[0]) == 1024.0

    longer = tiny_config("table1_latn10", "precision=mixed_float16", "stage1_steps=4",
                         "checkpoint_every=2")
    metrics = train(longer, run_dir, strategy=tf.distribute.get_strategy(), progress=False,
                    log=lambda m: None)
    assert metrics["step"] == 4
    assert metrics["optimizer/loss_scale"] == 1024.0
    assert metrics["optimizer/skipped_steps"] == 0.0
    events = read_scalars(run_folder.log_dir(run_dir) / "train")
    assert [(s, v) for s, v in events["optimizer/loss_scale"]] == [
        (1, 1024.0), (2, 1024.0), (3, 1024.0), (4, 1024.0)]


def test_clipping_acts_on_the_unscaled_gradient(tmp_path):
    """The norm the clip sees (logged as optimizer/grad_norm) is the true gradient's, not the
    loss-scaled one's (2^15 times larger), and the update matches float32's."""
    norms, updates = {}, {}
    for precision in ("float32", "mixed_float16"):
        config = tiny_config("table1_latn10", f"precision={precision}", "stage1_steps=1",
                             "optimizer.global_clipnorm=1.0", "optimizer.learning_rate=1e-2")
        trainer = quiet(config, tmp_path / precision)
        batch = next(iter(trainer.distributed_dataset(0)))
        before = flat(trainer.model.get_weights())
        trainer.train_step.step_fn(1)(batch)
        norms[precision] = trainer.read_metrics()["optimizer/grad_norm"]
        updates[precision] = flat(trainer.model.get_weights()) - before
    # Below the clip norm (1.0) unscaled, so nothing is clipped; scaled it would be 2^15 times
    # larger, far above it.
    assert norms["float32"] < 1.0
    assert norms["mixed_float16"] == pytest.approx(norms["float32"], rel=GRAD_RTOL)
    u32, u16 = updates["float32"], updates["mixed_float16"]
    # A gradient clipped at 2^15 times its size would be about 1e-8 per weight, near Adam's
    # epsilon (1e-7), and shrink the update visibly.
    assert np.linalg.norm(u16 - u32) / np.linalg.norm(u32) < 0.05


@pytest.mark.slow  # a fresh process: about 30 s on two shared cores
def test_mixed_float16_trains_from_the_command_line(tmp_path, run_cli):
    pytest.importorskip("tensorboard")
    run_dir = tmp_path / "run"
    sets = [a for o in TINY + ["precision=mixed_float16", "stage1_steps=2", "stage2_steps=0"]
            for a in ("--set", o)]
    run_cli("train", "--config", "table1_latn10", "--budget", "tiny", "--run_dir", run_dir,
            "--no-progress", *sets, returncode=0)
    events = read_scalars(run_folder.log_dir(run_dir) / "train")
    assert [v for _, v in events["optimizer/loss_scale"]] == [INITIAL_LOSS_SCALE] * 2
    assert all(np.isfinite(v) for _, v in events["loss/total"])
    model = run_folder.restore_model(run_dir)
    assert all(np.isfinite(w).all() for w in model.get_weights())
