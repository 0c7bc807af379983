"""An experiment config from its JSON form (a run folder's ``config.json``), older forms included.

Run folders written before the model config was typed store ``"model": "<registry name>"`` with
``seq_len`` and ``model_overrides`` beside it, the budget as ``scale`` and the paper's numbers as
``paper_psnr``; :func:`config_from_dict` reads them as the config they describe (the paper's
numbers are no part of a config any more: see `vsr_latent.configs.paper_numbers`). A file without
``stage2_forward`` was written before the setting existed, when stage 2 always ran two passes
(`LEGACY_STAGE2_FORWARD`): it reads as that, so a resumed older run keeps its reading.
"""

from vsr_latent.configs.base import (
    DataConfig,
    ExperimentConfig,
    OptimizerConfig,
    check_field_types,
)
from vsr_latent.errors import ConfigError

NOT_A_CONFIG = "not an experiment config"
# Keys of older config.json files: dropped, or renamed.
DROPPED_KEYS = ("paper_psnr",)
RENAMED_KEYS = {"scale": "budget"}
# What a config.json without ``stage2_forward`` trained stage 2 with.
LEGACY_STAGE2_FORWARD = "two_pass"


def _model(d):
    """The ModelConfig of a config dict (popping its model keys): ``model`` an object with the
    registry ``name`` and the architecture fields that differ from the registry's, or (older
    files) a registry name with ``seq_len`` and ``model_overrides`` beside it."""
    from vsr_latent.models import model_config

    model = d.pop("model", None)
    if isinstance(model, str):
        fields = {"name": model}
    elif isinstance(model, dict):
        fields = dict(model)
    else:
        raise ConfigError(f"{NOT_A_CONFIG}: model must be an object, got {model!r}")
    overrides = d.pop("model_overrides", {})
    if not isinstance(overrides, dict):
        raise ConfigError(f"{NOT_A_CONFIG}: model_overrides must be an object, got {overrides!r}")
    fields.update(overrides)
    if "seq_len" in d:
        fields["seq_len"] = d.pop("seq_len")
    name = fields.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(f"{NOT_A_CONFIG}: model.name must be a registry model name, got "
                          f"{name!r}")
    config = model_config(name).replace(**fields)
    check_field_types(config, "model.")
    return config


def config_from_dict(d):
    """The inverse of `ExperimentConfig.to_dict` (e.g. a run folder's config.json), checked as
    every config is when made."""
    if not isinstance(d, dict):
        raise ConfigError(f"{NOT_A_CONFIG}: a JSON object is needed, got {type(d).__name__}")
    d = dict(d)
    for key in DROPPED_KEYS:
        d.pop(key, None)
    for old, new in RENAMED_KEYS.items():
        if old in d:
            d.setdefault(new, d.pop(old))
    d.setdefault("stage2_forward", LEGACY_STAGE2_FORWARD)
    model = _model(d)
    try:
        parts = {k: d.pop(k, {}) for k in ("data", "optimizer")}
        for key, value in parts.items():
            if not isinstance(value, dict):
                raise ConfigError(f"{NOT_A_CONFIG}: {key} must be an object, got {value!r}")
        data = DataConfig(**parts["data"])
        optimizer = OptimizerConfig(**parts["optimizer"])
        return ExperimentConfig(model=model, data=data, optimizer=optimizer, **d)
    except TypeError as e:  # a key that is no field
        raise ConfigError(f"{NOT_A_CONFIG}: {e}") from None
