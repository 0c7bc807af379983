"""Training options of the cpu budget: warm-up + cosine learning rate, mixed_bfloat16 training,
the fixed validation crops and their PSNR, and the ``cpu`` budget itself."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from vsr_latent.configs import BUDGETS, CPU_DATA_ROOT, get_config
from vsr_latent.configs.base import RECONSTRUCTION_LOSS_NAMES, OptimizerConfig
from vsr_latent.data import pipelines
from vsr_latent.data.degrade import degrade
from vsr_latent.errors import ConfigError
from vsr_latent.training import losses
from vsr_latent.training.optimizer import learning_rate_schedule
from vsr_latent.training.trainer import Trainer

TINY = ["model.seq_len=3", "model.num_layers=2", 'model.blocks=["long"]',
        "model.upscaler_init_scale=1.0"]


def test_cosine_schedule_with_warmup_against_the_formula():
    opt = OptimizerConfig(learning_rate=4e-4, schedule="cosine", warmup_steps=10,
                          min_learning_rate=4e-6)
    sched = learning_rate_schedule(opt, total_steps=110)

    def lr(step):
        return float(sched(step))

    assert lr(0) == 0.0
    assert lr(5) == pytest.approx(2e-4, rel=1e-5)  # linear warm-up
    assert lr(10) == pytest.approx(4e-4, rel=1e-5)
    for step in (35, 60, 85, 110):
        t = (step - 10) / 100
        want = 4e-6 + (4e-4 - 4e-6) * 0.5 * (1 + math.cos(math.pi * t))
        assert lr(step) == pytest.approx(want, rel=1e-4)
    assert learning_rate_schedule(OptimizerConfig(), 100) == OptimizerConfig().learning_rate


def test_schedule_and_precision_are_checked():
    with pytest.raises(ConfigError, match="optimizer.schedule"):
        get_config("ours", overrides=["optimizer.schedule=linear"])
    with pytest.raises(ConfigError, match="warmup_steps"):
        get_config("smoke", overrides=["optimizer.schedule=cosine", "optimizer.warmup_steps=99"])
    with pytest.raises(ConfigError, match="precision"):
        get_config("ours", overrides=["precision=float16"])
    with pytest.raises(ConfigError, match="reconstruction_loss must be one of l2, charbonnier"):
        get_config("ours", overrides=["reconstruction_loss=l1"])


def test_charbonnier_loss_against_hand_computed_values():
    # Differences of 0, 0.255 and 25.5 levels: 1e-3 of the range is the quadratic floor.
    target = np.zeros((2, 1, 1, 3, 1), np.float32)
    prediction = np.array([0.0, 0.255, 25.5, 25.5, 25.5, 25.5], np.float32).reshape(2, 1, 1, 3, 1)
    got = losses.per_example_charbonnier(prediction, target).numpy()
    eps = losses.CHARBONNIER_EPSILON
    want = [np.mean([eps, math.sqrt(1e-6 + eps**2), math.sqrt(0.01 + eps**2)]),
            math.sqrt(0.01 + eps**2)]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # Inside a tf.function (as the train step calls it) too; the config's names are the trainer's.
    graph = tf.function(losses.per_example_charbonnier)(prediction, target).numpy()
    np.testing.assert_allclose(graph, want, rtol=1e-6)
    assert set(losses.RECONSTRUCTION_LOSSES) == set(RECONSTRUCTION_LOSS_NAMES)


def test_training_on_the_charbonnier_loss_logs_it(tmp_path):
    # Two passes: L_re on the mean path, compared exactly below.
    config = get_config("smoke", overrides=TINY + ["reconstruction_loss=charbonnier",
                                                   "stage1_steps=1", "stage2_steps=1",
                                                   "log_every=1", "stage2_forward=two_pass"])
    trainer = Trainer(config, tmp_path / "run", progress=False, log=lambda m: None)
    batch = next(iter(trainer.distributed_dataset(0)))
    lr, hr = (trainer.strategy.experimental_local_results(t)[0] for t in batch)
    total, metrics = trainer.train_step.replica_losses(lr, hr, stage=2)
    sr_mean, sr_sample = trainer.model.dual_forward(lr, training=True)
    # Stage 2 draws fresh noise, so only the mean path is compared exactly.
    want_re = float(tf.reduce_mean(losses.per_example_charbonnier(sr_mean, hr)))
    assert float(metrics["loss/re"]) == pytest.approx(want_re, rel=1e-5)
    assert float(metrics["loss/vae"]) > 0
    assert float(total) == pytest.approx(float(metrics["loss/re"]) + float(metrics["loss/vae"]),
                                         rel=1e-5)


def test_cpu_budget_is_the_full_size_model_on_a_dataset_root():
    from vsr_latent.models import model_config

    # The settings docs/cpu_scale.md documents (they made the shipped ours_cpu).
    c = get_config("ours", budget="cpu")
    assert c.budget == "cpu" and c.model == model_config("ours", residual_init_scale=0.01)
    assert (c.stage1_steps, c.stage2_steps) == (5_400, 150)
    assert c.data.source == CPU_DATA_ROOT == "data/cpu_root"
    assert (c.data.batch_size, c.data.lr_patch, c.data.val_clips) == (4, 32, 8)
    o = c.optimizer
    assert (o.schedule, o.learning_rate, o.warmup_steps, o.min_learning_rate) == (
        "cosine", 4e-4, 150, 4e-6)
    # Not the paper's L2 and 3: see CPU_RECONSTRUCTION_LOSS and CPU_GLOBAL_CLIPNORM.
    assert (c.reconstruction_loss, o.global_clipnorm) == ("charbonnier", 1.5)
    assert get_config("ours").reconstruction_loss == "l2"
    assert c.data.degradation == "bi" and c.precision == "float32"
    # ours_cpu's stage 2 ran two passes; the paper's configs default to one (§5.3).
    assert c.stage2_forward == "two_pass" and get_config("ours").stage2_forward == "one_pass"
    assert (c.log_every, c.checkpoint_every, c.validate_every, c.image_every) == (25, 250, 250, 500)
    # A model without variance heads gets the same number of steps in stage 1 alone.
    r = get_config("table1_res16", budget="cpu")
    assert (r.stage1_steps, r.stage2_steps) == (5_550, 0)
    assert r.data.degradation == "scipy"
    assert r.model == model_config("res16", seq_len=4, residual_init_scale=0.01)
    v = get_config("table3_vlatn10_7", budget="cpu")
    assert v.init_from is None and (v.stage1_steps, v.stage2_steps) == (5_400, 150)
    assert BUDGETS["cpu"].stage1_steps + BUDGETS["cpu"].stage2_steps == 5_550


def test_validation_crops_are_centre_crops_of_the_first_frames():
    crops = pipelines.validation_crops("builtin", seq_len=3, lr_crop=8, max_clips=2)
    assert len(crops) == 2
    from vsr_latent.data import builtin

    clips = builtin.builtin_clips(pipelines.BUILTIN_VALIDATION_CLIPS, pipelines.BUILTIN_NUM_FRAMES,
                                  pipelines.BUILTIN_VALIDATION_SIZE, split="validation")
    picks = [0, len(clips) - 1]  # spread over the split
    for (lr, hr), i in zip(crops, picks):
        assert lr.shape == (1, 3, 8, 8, 3) and hr.shape == (1, 3, 32, 32, 3)
        h, w = clips[i].shape[1:3]
        top, left = (h - 32) // 2 // 4 * 4, (w - 32) // 2 // 4 * 4
        np.testing.assert_array_equal(hr[0], clips[i][:3, top:top + 32, left:left + 32])
        np.testing.assert_array_equal(lr[0], np.clip(np.round(degrade(hr[0], "bi", 4)), 0, 255))


def test_validation_psnr_is_the_mean_path_psnr_of_the_crops(tmp_path):
    config = get_config("table3_vlatn10_7", budget="tiny",
                        overrides=TINY + ["data.val_clips=2", "data.val_lr_crop=8"])
    trainer = Trainer(config, tmp_path / "run", progress=False, log=lambda m: None)
    got = trainer.validation_psnr()
    want = []
    for lr, hr in trainer.validation_crops():
        sr = trainer.model.dual_forward(tf.constant(lr), training=False)[0].numpy()
        mse = np.mean((np.clip(np.round(sr), 0, 255) - hr) ** 2)
        want.append(10 * np.log10(255**2 / mse))
    assert got == pytest.approx(float(np.mean(want)), abs=1e-4)
    # A stage-2 pass samples (it draws the variance heads' noise); validation still scores the
    # mean path.
    lr, hr = (tf.cast(x, tf.float32) for x in trainer.validation_crops()[0])
    trainer.train_step.replica_losses(lr, hr, stage=2)
    assert trainer.validation_psnr() == pytest.approx(got, abs=1e-4)


def test_mixed_bfloat16_training_computes_in_bfloat16_and_keeps_float32_weights(tmp_path):
    config = get_config("smoke", overrides=TINY + ["precision=mixed_bfloat16", "stage1_steps=2",
                                                   "stage2_steps=1", "validate_every=3"])
    before = keras.config.dtype_policy().name
    trainer = Trainer(config, tmp_path / "run", progress=False, log=lambda m: None)
    assert keras.config.dtype_policy().name == before  # the global policy is restored
    assert trainer.model.stem.compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in trainer.model.trainable_variables)
    first = [v.numpy().copy() for v in trainer.model.trainable_variables]
    metrics = trainer.run()
    assert metrics["step"] == 3 and np.isfinite(metrics["loss/total"])
    assert np.isfinite(metrics["psnr/validation"])
    assert any(not np.array_equal(a, v.numpy())
               for a, v in zip(first, trainer.model.trainable_variables))
