"""Named, typed experiment configs (one per model of the paper's experiments) and budgets.

    from vsr_latent.configs import get_config, CONFIG_NAMES
    config = get_config("table3_vlatn10_7")                     # the paper-scale run
    config = get_config("table1_latn10", budget="tiny")          # seconds on a CPU, built-in data
    config = get_config("ours", overrides=["data.batch_size=8", "model.filters=16"])

A budget (``full``, ``tiny``, ``smoke``, ``rehearsal``, ``cpu``: `vsr_latent.configs.budgets`)
sets how much compute a run gets and keeps the model and L: a named set of overrides, applied as
``overrides`` are. Configs are frozen and checked when made. The config named ``smoke`` is
``ours`` at the ``tiny`` budget (a few steps that check the training path).
"""

from vsr_latent.configs.base import (
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
)
from vsr_latent.configs.budgets import (
    BUDGET_NAMES,
    BUDGETS,
    CPU_DATA_COMMAND,
    CPU_DATA_ROOT,
    Budget,
    apply_budget,
    get_budget,
)
from vsr_latent.configs.config_json import config_from_dict
from vsr_latent.configs.experiments import REGISTRY, docstring, paper_psnr
from vsr_latent.configs.overrides import apply_overrides, override_item, override_keys
from vsr_latent.errors import ConfigError

__all__ = [
    "AUGMENTATIONS",
    "BUDGETS",
    "BUDGET_NAMES",
    "CONFIG_NAMES",
    "CPU_DATA_COMMAND",
    "CPU_DATA_ROOT",
    "DEFAULT_AUGMENTATION",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LR_PATCH",
    "DEFAULT_STAGE1_STEPS",
    "DEFAULT_STAGE2_STEPS",
    "DEFAULT_TRAIN_STEPS",
    "DEFAULT_VAE_WEIGHT",
    "Budget",
    "DataConfig",
    "ExperimentConfig",
    "OptimizerConfig",
    "apply_budget",
    "apply_overrides",
    "config_from_dict",
    "describe",
    "get_budget",
    "get_config",
    "override_item",
    "override_keys",
    "paper_psnr",
]

# The config ``smoke``: ``ours`` at this budget unless another is asked for.
SMOKE_CONFIG = ("ours", "tiny")
CONFIG_NAMES = tuple(REGISTRY) + ("smoke",)


def _registry_name(name):
    if name == "smoke":
        return SMOKE_CONFIG[0]
    if name not in REGISTRY:
        raise ConfigError(
            f"unknown config {name!r}; known configs: {', '.join(CONFIG_NAMES)}"
        )
    return name


def get_config(name, budget=None, overrides=None):
    """The named config as a checked `ExperimentConfig` at ``budget`` (a name or a `Budget`;
    default ``full``, for ``smoke`` ``tiny``).

    ``overrides`` is a list of ``"dotted.key=value"`` strings (see `apply_overrides`), applied
    after the budget's own. Unknown names, budgets or keys raise ConfigError listing the valid
    ones.
    """
    if name == "smoke":
        budget = budget or SMOKE_CONFIG[1]
    config = REGISTRY[_registry_name(name)]()
    config = apply_budget(config, budget or "full")
    return apply_overrides(config, overrides)


def describe(name):
    """The docstring of a named config (what it reproduces, the paper number, the command)."""
    if name == "smoke":
        return ("ours at the tiny budget: a few steps on built-in data (checks the training "
                "path).")
    return docstring(_registry_name(name))
