"""``key=value`` overrides of an experiment config (``vsr-latent train --set``).

Dotted keys reach nested settings (``data.batch_size=8``) and the text is converted to the
field's type. The model's fields (``model.filters=8``, ``model.seq_len=5``,
``model.blocks=["long"]``) are given as JSON and checked by the model config itself;
``model.name=NAME`` trains another registry model: its architecture, with the run's ``seq_len``
and the model settings changed so far carried over. The names of older scripts still work:
``seq_len`` for ``model.seq_len``, ``model_overrides.KEY`` for ``model.KEY`` and ``model`` for
``model.name``.

An item that cannot be applied (an unknown key, text that is no value of the field's type) raises
:class:`OverrideError` naming the item; the command line says which flag gave it
(`vsr_latent.command_runner.flag_error`). A value of the right type that no run can use is the config's own error.
"""

import dataclasses
import json
import types
import typing

from vsr_latent.configs.base import type_hints, value_has_type
from vsr_latent.errors import ConfigError

LEGACY_KEYS = {"seq_len": "model.seq_len", "model": "model.name"}
LEGACY_PREFIXES = {"model_overrides.": "model."}
MODEL_PREFIX = "model."


class OverrideError(ConfigError):
    """An override item that cannot be applied; the message begins with the item's key."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _field_paths(obj, prefix=""):
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out += _field_paths(value, f"{prefix}{f.name}.")
        else:
            out.append(f"{prefix}{f.name}")
    return out


def override_keys(config):
    """The dotted keys `apply_overrides` accepts."""
    return _field_paths(config)


def _canonical(key):
    if key in LEGACY_KEYS:
        return LEGACY_KEYS[key]
    for old, new in LEGACY_PREFIXES.items():
        if key.startswith(old) and len(key) > len(old):
            return new + key[len(old):]
    return key


def _unknown(key, root):
    return OverrideError(f"{key}: unknown key; valid keys: {', '.join(override_keys(root))}")


def _parse_literal(text):
    """A model setting's value: JSON if it parses, else the text itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _coerce(key, text, hint):
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        if text.strip().lower() in ("none", "null", ""):
            return None
        (hint,) = [a for a in args if a is not type(None)]
    try:
        if hint is bool:
            low = text.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(text)
        if hint is int:
            value = float(text)
            if value != int(value):
                raise ValueError(text)
            return int(value)
        if hint is float:
            return float(text)
        if hint is str:
            return text
        if hint is tuple:
            if text.strip().lower() in ("", "none", "()"):
                return ()
            if text.strip().startswith("["):
                value = json.loads(text)
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(text)
                return tuple(value)
            return tuple(p.strip() for p in text.split(",") if p.strip())
    except (ValueError, OverflowError):  # int(float("inf")) overflows
        raise OverrideError(
            f"{key}={text}: not a valid {getattr(hint, '__name__', hint)}"
        ) from None
    raise OverrideError(f"{key}: unsupported field type {hint}")


def _replace_fields(obj, changes, root):
    """``obj`` (a config dataclass) with ``changes`` ({dotted path: (key, text)}) applied."""
    hints = type_hints(type(obj))
    values, nested = {}, {}
    for path, (key, text) in changes.items():
        head, _, rest = path.partition(".")
        if head not in hints:
            raise _unknown(key, root)
        if dataclasses.is_dataclass(getattr(obj, head)):
            if not rest:
                raise _unknown(key, root)
            nested.setdefault(head, {})[rest] = (key, text)
        elif rest:
            raise _unknown(key, root)
        else:
            values[head] = _coerce(key, text, hints[head])
    for head, sub in nested.items():
        values[head] = _replace_fields(getattr(obj, head), sub, root)
    return dataclasses.replace(obj, **values)


def _switched_model(model, name):
    """Registry model ``name`` with ``model``'s seq_len and the settings ``model`` changed from
    its own registry entry."""
    from vsr_latent.models import model_config, registry_changes

    if not isinstance(name, str):
        raise OverrideError(f"model.name: a registry model name is needed, got {name!r}")
    return model_config(name).replace(**{**registry_changes(model), "seq_len": model.seq_len})


def _changed_model(model, changes, root):
    """``model`` with ``changes`` ({field: (key, text)}) applied, all at once (a field may only
    be valid with another, e.g. fewer ``num_layers`` with fewer ``blocks``)."""
    known = {f.name for f in dataclasses.fields(model)}
    values = {}
    for name, (key, text) in changes.items():
        if name not in known:
            raise _unknown(key, root)
        values[name] = _parse_literal(text)
    if "name" in values:
        model = _switched_model(model, values.pop("name"))
    model = model.replace(**values)
    hints = type_hints(type(model))
    for name in values:
        if not value_has_type(getattr(model, name), hints[name]):
            key, text = changes[name]
            raise OverrideError(f"{key}={text}: {name} must be "
                                f"{getattr(hints[name], '__name__', hints[name])}")
    return model


def override_item(key, value):
    """The ``"key=value"`` text that `apply_overrides` reads as ``value`` (a budget's setting):
    ``override_item("data.augmentation", ("hflip",))`` is ``'data.augmentation=["hflip"]'``."""
    if value is None:
        text = "none"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (tuple, list)):
        text = json.dumps(list(value))
    elif isinstance(value, str):
        text = value
    else:
        text = repr(value)
    return f"{key}={text}"


def apply_overrides(config, overrides):
    """A copy of ``config`` with ``["key=value", ...]`` applied (see the module docstring), made
    and so checked as every config is; an unknown key raises ConfigError listing the valid ones.
    A key given twice: the last wins."""
    changes = {}
    for item in overrides or ():
        if "=" not in item:
            raise OverrideError(f"{item!r}: expected key=value")
        key, text = item.split("=", 1)
        key = key.strip()
        changes[_canonical(key)] = (key, text)
    model = {path[len(MODEL_PREFIX):]: v for path, v in changes.items()
             if path.startswith(MODEL_PREFIX)}
    rest = {path: v for path, v in changes.items() if not path.startswith(MODEL_PREFIX)}
    config = _replace_fields(config, rest, config)
    if model:
        config = dataclasses.replace(config, model=_changed_model(config.model, model, config))
    return config
