"""Named, typed experiment configs (one per model of the paper's experiments).

    from vsr_latent.configs import get_config, CONFIG_NAMES
    config = get_config("table3_vlatn10_7")                   # the paper-scale run
    config = get_config("table1_latn10", scale="smoke")        # seconds on a CPU, built-in data
    config = get_config("ours", overrides=["data.batch_size=8", "model_overrides.filters=16"])

``scale="smoke"`` keeps the model and L but shrinks everything else (a few steps, built-in data,
8×8 LR patches, batch 2, a narrow network) so that the whole training path runs in seconds; a
stage-2 config at smoke scale runs its own short stage 1 instead of needing ``init_from``.
The config named ``smoke`` is ``ours`` at smoke scale.
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

SCALES = ("full", "smoke")

# The smoke scale: small enough for a CPU test, large enough to exercise every code path.
SMOKE_STEPS = 6
SMOKE_LR_PATCH = 8
SMOKE_BATCH_SIZE = 2
SMOKE_MODEL_OVERRIDES = {"filters": 8}

CONFIG_NAMES = tuple(REGISTRY) + ("smoke",)


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
