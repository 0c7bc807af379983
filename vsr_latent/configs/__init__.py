"""Named, typed experiment configs (one per model of the paper's experiments).

    from vsr_latent.configs import get_config, CONFIG_NAMES
    config = get_config("table3_vlatn10_7")                   # the paper-scale run
    config = get_config("table1_latn10", scale="smoke")        # seconds on a CPU, built-in data
    config = get_config("ours", overrides=["data.batch_size=8", "model_overrides.filters=16"])

``scale="smoke"`` keeps the model and L but shrinks everything else (a few steps, built-in data,
8×8 LR patches, batch 2, a narrow network) so that the whole training path runs in seconds; a
stage-2 config at smoke scale runs its own short stage 1 instead of needing ``init_from``.
The config named ``smoke`` is ``ours`` at smoke scale.

``scale="cpu"`` trains the registry's full-size model for real on a 2-core CPU (about 1.7 h for
``ours``) on a dataset root made from ``../shared/data/train_clips`` (``CPU_DATA_COMMAND``), with a
warm-up + cosine learning rate; the settings are the ``CPU_*`` constants below, chosen by
measurement (see docs/cpu_scale.md). It made the shipped ``ours_cpu`` model.
"""

import dataclasses

from vsr_latent.configs.base import (  # noqa: F401
    AUGMENTATIONS,
    DEFAULT_AUGMENTATION,
    DEFAULT_BATCH_SIZE,
    DEFAULT_LR_PATCH,
    DEFAULT_STAGE1_STEPS,
    DEFAULT_STAGE2_STEPS,
    DEFAULT_TRAIN_STEPS,
    DEFAULT_VAE_WEIGHT,
    DataConfig,
    ExperimentConfig,
    OptimizerConfig,
    apply_overrides,
    config_from_dict,
    override_keys,
)
from vsr_latent.configs.experiments import REGISTRY
from vsr_latent.errors import ConfigError

SCALES = ("full", "smoke", "cpu")

# The smoke scale: small enough for a CPU test, large enough to exercise every code path.
SMOKE_STEPS = 6
SMOKE_LR_PATCH = 8
SMOKE_BATCH_SIZE = 2
SMOKE_MODEL_OVERRIDES = {"filters": 8}

CONFIG_NAMES = tuple(REGISTRY) + ("smoke",)

# The CPU scale: the registry's full-size models trained for real on a 2-core CPU in under two
# hours. Measured for `ours` in float32 at batch 8, L = 7: about 1.5 s a step at 24x24 LR patches
# (0.65 steps/s), 3.5 s at 32x32; stage-2 steps cost about twice a stage-1 step (two forward
# passes). mixed_bfloat16 was only 1.07x faster than float32 in training on this AVX512-BF16 CPU
# without AMX, so the CPU scale trains in float32. The data is a dataset root made from
# ../shared/data/train_clips by data_tools (CPU_DATA_COMMAND); Vid4 is never used for training.
CPU_DATA_ROOT = "data/cpu_root"
CPU_DATA_COMMAND = ("python -m data_tools.make_dataset ../shared/data/train_clips data/cpu_root "
                    "--clip_len 40 --max_size 640x360")
CPU_STAGE1_STEPS = 3_300
CPU_STAGE2_STEPS = 300
CPU_BATCH_SIZE = 8
CPU_LR_PATCH = 24
# Few steps: a higher peak rate than the paper's 1e-4, warmed up and decayed (cosine).
CPU_LEARNING_RATE = 4e-4
CPU_WARMUP_STEPS = 150
CPU_MIN_LEARNING_RATE = 4e-6
CPU_PRECISION = "float32"
CPU_VALIDATE_EVERY = 250
CPU_VAL_CLIPS = 8
CPU_CHECKPOINT_EVERY = 250
CPU_IMAGE_EVERY = 500
CPU_LOG_EVERY = 25

# Phase 2 of the CPU budget, for the shipped `ours_cpu` only: the phase-1 weights fine-tuned on
# 40x40 LR patches. Why: at 24x24 most output pixels see the zero padding of the patch border (the
# 16 residual 3x3x3 layers alone see 33 pixels across), while Vid4 frames are whole; phase 1's
# validation PSNR had flattened (+0.07 dB over its last 1,550 steps). Batch 4 keeps a step's
# pixels near phase 1's (6,400 vs 4,608) at 0.47 steps/s; a restart at half the peak rate.
CPU_FINETUNE_STAGE1_STEPS = 1_000
CPU_FINETUNE_STAGE2_STEPS = 150
CPU_FINETUNE_BATCH_SIZE = 4
CPU_FINETUNE_LR_PATCH = 40
CPU_FINETUNE_LEARNING_RATE = 2e-4
CPU_FINETUNE_WARMUP_STEPS = 50
CPU_FINETUNE_MIN_LEARNING_RATE = 2e-6


def _smoke(config):
    variational_stage2 = config.stage2_steps > 0
    return dataclasses.replace(
        config,
        model_overrides={**config.model_overrides, **SMOKE_MODEL_OVERRIDES},
        data=dataclasses.replace(
            config.data,
            source="builtin",
            lr_patch=SMOKE_LR_PATCH,
            batch_size=SMOKE_BATCH_SIZE,
        ),
        stage1_steps=SMOKE_STEPS // 2 if variational_stage2 else SMOKE_STEPS,
        stage2_steps=SMOKE_STEPS // 2 if variational_stage2 else 0,
        init_from=None,
        checkpoint_every=2,
        log_every=1,
        image_every=SMOKE_STEPS,
        scale="smoke",
    )


def cpu_finetune(config, init_from):
    """Phase 2 of the CPU budget (``CPU_FINETUNE_*``): ``config`` (a CPU-budget config) continued
    from the finished run folder ``init_from`` on larger patches with a fresh warm-up + cosine."""
    return dataclasses.replace(
        config,
        data=dataclasses.replace(config.data, lr_patch=CPU_FINETUNE_LR_PATCH,
                                 batch_size=CPU_FINETUNE_BATCH_SIZE),
        optimizer=dataclasses.replace(
            config.optimizer, learning_rate=CPU_FINETUNE_LEARNING_RATE,
            warmup_steps=CPU_FINETUNE_WARMUP_STEPS,
            min_learning_rate=CPU_FINETUNE_MIN_LEARNING_RATE),
        stage1_steps=CPU_FINETUNE_STAGE1_STEPS,
        stage2_steps=CPU_FINETUNE_STAGE2_STEPS if config.stage2_steps else 0,
        init_from=str(init_from),
    )


def _cpu(config):
    variational_stage2 = config.stage2_steps > 0
    total = CPU_STAGE1_STEPS + CPU_STAGE2_STEPS
    return dataclasses.replace(
        config,
        data=dataclasses.replace(
            config.data, source=CPU_DATA_ROOT, lr_patch=CPU_LR_PATCH, batch_size=CPU_BATCH_SIZE,
            val_clips=CPU_VAL_CLIPS,
        ),
        optimizer=dataclasses.replace(
            config.optimizer, learning_rate=CPU_LEARNING_RATE, schedule="cosine",
            warmup_steps=CPU_WARMUP_STEPS, min_learning_rate=CPU_MIN_LEARNING_RATE,
        ),
        # A model without stage 2 gets the same number of steps in stage 1.
        stage1_steps=CPU_STAGE1_STEPS if variational_stage2 else total,
        stage2_steps=CPU_STAGE2_STEPS if variational_stage2 else 0,
        init_from=None,
        precision=CPU_PRECISION,
        checkpoint_every=CPU_CHECKPOINT_EVERY,
        validate_every=CPU_VALIDATE_EVERY,
        image_every=CPU_IMAGE_EVERY,
        log_every=CPU_LOG_EVERY,
        scale="cpu",
    )


def get_config(name, scale=None, overrides=None):
    """The named config as a fresh `ExperimentConfig`, at ``scale`` ("full" or "smoke").

    ``overrides`` is a list of ``"dotted.key=value"`` strings (see `apply_overrides`). Unknown
    names, scales or keys raise ConfigError listing the valid ones.
    """
    if name == "smoke":
        name, scale = "ours", "smoke"
    if name not in REGISTRY:
        raise ConfigError(
            f"unknown config {name!r}; known configs: {', '.join(CONFIG_NAMES)}"
        )
    scale = scale or "full"
    if scale not in SCALES:
        raise ConfigError(f"unknown scale {scale!r}; known scales: {', '.join(SCALES)}")
    config = REGISTRY[name]()
    if scale == "smoke":
        config = _smoke(config)
    elif scale == "cpu":
        config = _cpu(config)
    config = apply_overrides(config, overrides)
    return config.validate()


def describe(name):
    """The docstring of a named config (what it reproduces, the paper number, the command)."""
    if name == "smoke":
        return "ours at smoke scale: a few steps on built-in data (checks the training path)."
    if name not in REGISTRY:
        raise ConfigError(
            f"unknown config {name!r}; known configs: {', '.join(CONFIG_NAMES)}"
        )
    return (REGISTRY[name].__doc__ or "").strip()
