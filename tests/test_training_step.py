"""The compiled training step: nothing read by the host between log steps, metrics accumulated
on the device as interval means, and the XLA option (``jit_compile``) giving the same loss."""


import numpy as np
import pytest
import tensorflow as tf

from tests.training_helpers import tiny_config, two_replicas
from vsr_latent.configs import get_config
from vsr_latent.errors import ConfigError
from vsr_latent.training.device_metrics import STEP_METRICS, DeviceMetrics
from vsr_latent.training.trainer import Trainer


def test_device_metrics_are_interval_means_against_hand_computed_values():
    acc = DeviceMetrics(guarded=STEP_METRICS)
    steps = [
        {"loss/total": 1.0, "loss/re": 1.0, "psnr/train": 20.0, "optimizer/grad_norm": 0.5},
        {"loss/total": 3.0, "loss/re": 2.0, "loss/vae": 1.0, "psnr/train": 22.0,
         "optimizer/grad_norm": 9.0},
    ]
    for i, (values, applied) in enumerate(zip(steps, (True, False)), start=1):
        acc.update({k: tf.constant(v) for k, v in values.items()}, tf.constant(i, tf.int64),
                   tf.constant(applied))
    got = acc.read()
    # loss/vae only in the second step; the gradient norm only of the applied step.
    assert got == {"loss/total": 2.0, "loss/re": 1.5, "loss/vae": 1.0, "psnr/train": 21.0,
                   "optimizer/grad_norm": 0.5}
    assert acc.read() == {}  # a new interval
    assert acc.bad_step() is None
    acc.update({"loss/total": tf.constant(np.nan), "loss/re": tf.constant(np.inf)},
               tf.constant(7, tf.int64), tf.constant(True))
    acc.update({"loss/total": tf.constant(np.nan)}, tf.constant(8, tf.int64), tf.constant(True))
    assert acc.bad_step() == (7, ["loss/total", "loss/re"])  # the first bad step is kept


def test_compiled_step_returns_nothing_and_the_loop_reads_only_at_log_steps(tmp_path):
    config = tiny_config("table3_vlatn10_7", "stage1_steps=4", "stage2_steps=2", "log_every=3",
                         "checkpoint_every=6", "validate_every=100", "image_every=100",
                         "data.val_clips=0")
    trainer = Trainer(config, tmp_path / "run", strategy=tf.distribute.get_strategy(),
                      progress=False, log=lambda m: None)
    batch = next(iter(trainer.distributed_dataset(0)))
    for stage in (1, 2):
        concrete = trainer.train_step.step_fn(stage).get_concrete_function(batch)
        # No output tensor: the host has nothing to wait for after a step.
        assert concrete.structured_outputs is None and concrete.outputs == []
    # Tracing above ran no step.
    assert int(trainer.step.numpy()) == 0

    reads, steps_run = [], []
    read_metrics, step_fn = trainer.read_metrics, trainer.train_step.step_fn

    def counted_read():
        reads.append(int(trainer.step.numpy()))
        return read_metrics()

    def counted_step_fn(stage):
        fn = step_fn(stage)

        def run(batch):
            steps_run.append(stage)
            return fn(batch)

        return run

    trainer.read_metrics = counted_read
    trainer.train_step.step_fn = counted_step_fn
    metrics = trainer.run()
    assert steps_run == [1, 1, 1, 1, 2, 2]
    assert reads == [3, 6]  # log_every=3 of 6 steps
    # The last interval (steps 4-6) holds one stage-1 and two stage-2 steps.
    assert metrics["step"] == 6 and np.isfinite(metrics["loss/vae"])


@pytest.mark.slow  # XLA compiles the forward and backward pass: 30-50 s on two shared cores
@pytest.mark.parametrize("replicas", [1, 2])
def test_xla_step_gives_the_same_loss_and_update(tmp_path, replicas):
    strategy = two_replicas() if replicas == 2 else tf.distribute.get_strategy()
    results = {}
    for jit in (False, True):
        config = tiny_config("table1_latn10", f"jit_compile={jit}", "stage1_steps=2",
                             "data.batch_size=4")
        trainer = Trainer(config, tmp_path / str(jit), strategy=strategy, progress=False,
                          log=lambda m: None)
        assert trainer.config.jit_compile is jit
        it = iter(trainer.distributed_dataset(0))
        losses = []
        for _ in range(2):  # the second step's loss depends on the first update
            trainer.train_step.step_fn(1)(next(it))
            losses.append(trainer.read_metrics()["loss/total"])
        results[jit] = losses, trainer.model.get_weights()
    (l_off, w_off), (l_on, w_on) = results[False], results[True]
    np.testing.assert_allclose(l_on, l_off, rtol=1e-4)
    for a, b in zip(w_off, w_on):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6)


def test_jit_compile_is_a_boolean_setting():
    assert get_config("ours").jit_compile is False
    assert get_config("ours", overrides=["jit_compile=true"]).jit_compile is True
    with pytest.raises(ConfigError, match="jit_compile=maybe: not a valid bool"):
        get_config("ours", overrides=["jit_compile=maybe"])


def _noise_states(model):
    """The seed states of the model's variance heads (to replay the same draws)."""
    from vsr_latent.layers.variational import VariationalHead

    heads = [la for la in model._flatten_layers() if isinstance(la, VariationalHead)]
    assert heads
    return [(h.seed_generator.state, h.seed_generator.state.numpy()) for h in heads]


def _replay(states):
    for var, value in states:
        var.assign(value)


def _stage2_losses_and_grads(trainer, lr, hr):
    with tf.GradientTape() as tape:
        total, metrics = trainer.train_step.replica_losses(lr, hr, stage=2)
    grads = tape.gradient(total, trainer.model.trainable_variables)
    return float(total), {k: float(v) for k, v in metrics.items()}, grads


def _hand_l2(sr, hr, global_batch):
    """Eq. 22/23's L2 written out: per clip the mean of ((sr - hr) / 255)^2 over every pixel,
    summed over the clips and divided by the global batch."""
    d = (tf.cast(sr, tf.float32) - hr) / 255.0
    per_clip = tf.reduce_mean(tf.reshape(d * d, [tf.shape(d)[0], -1]), axis=1)
    return tf.reduce_sum(per_clip) / global_batch


@pytest.mark.parametrize("forward", ["one_pass", "two_pass"])
def test_stage2_loss_and_gradient_equal_a_hand_written_reference(tmp_path, forward):
    """§5.3 one pass: L_re and λ·L_vae both on ONE sampled output; the two-pass choice: L_re on
    the mean path and L_vae on a sampled second pass (the trainer's earlier value)."""
    weight = 0.5
    config = tiny_config("table3_vlatn10_7", f"stage2_forward={forward}", f"vae_weight={weight}",
                         "data.val_clips=0", "seed=3")
    assert config.stage2_forward == forward
    trainer = Trainer(config, tmp_path / "run", strategy=tf.distribute.get_strategy(),
                      progress=False, log=lambda m: None)
    model = trainer.model
    # A variance head whose sigma is not tiny, so the sampled path is far from the mean path.
    for var in model.trainable_variables:
        if "sigma" in var.path and var.path.endswith("bias"):
            var.assign(tf.fill(var.shape, 0.5))
    batch = next(iter(trainer.distributed_dataset(0)))
    lr, hr = (trainer.strategy.experimental_local_results(t)[0] for t in batch)
    states = _noise_states(model)
    total, metrics, grads = _stage2_losses_and_grads(trainer, lr, hr)

    _replay(states)  # the same noise draws
    with tf.GradientTape() as tape:
        if forward == "one_pass":
            sr = model(lr, training=True, sampling=True)
            loss_re = loss_vae = _hand_l2(sr, hr, config.data.batch_size)
        else:
            loss_re = _hand_l2(model(lr, training=True, sampling=False), hr,
                               config.data.batch_size)
            loss_vae = _hand_l2(model(lr, training=True, sampling=True), hr,
                                config.data.batch_size)
        want = loss_re + weight * loss_vae
    want_grads = tape.gradient(want, model.trainable_variables)

    assert metrics["loss/re"] == pytest.approx(float(loss_re), rel=1e-6)
    assert metrics["loss/vae"] == pytest.approx(float(loss_vae), rel=1e-6)
    assert total == metrics["loss/total"] == pytest.approx(float(want), rel=1e-6)
    assert all(g is not None for g in grads)
    for got, ref, var in zip(grads, want_grads, model.trainable_variables):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-9, err_msg=var.path)
    # The variance heads learn in stage 2 under both readings.
    sigma = [g for g, v in zip(grads, model.trainable_variables) if "sigma" in v.path]
    assert sigma and all(float(tf.reduce_max(tf.abs(g))) > 0 for g in sigma)
    # One pass: the two losses are one number; two passes: the mean and sampled paths differ.
    mean_loss = float(_hand_l2(model(lr, training=True), hr, config.data.batch_size))
    if forward == "one_pass":
        assert metrics["loss/re"] == metrics["loss/vae"] != pytest.approx(mean_loss, rel=1e-4)
    else:
        assert metrics["loss/re"] == pytest.approx(mean_loss, rel=1e-6)
        assert metrics["loss/vae"] != pytest.approx(metrics["loss/re"], rel=1e-4)
