"""The one place a model spec is resolved, for every command that takes ``--model SPEC``.

A spec is one of

- ``"bicubic"``: the bicubic baseline (``predictors.BicubicPredictor``);
- a pretrained model shipped with the package (``vsr_latent.pretrained.PRETRAINED``, e.g.
  ``"ours_cpu"``);
- a model name of the registry (``vsr_latent.models.MODEL_NAMES``): fresh, untrained weights, for
  smoke tests;
- a training run folder (``RUN/config.json`` with ``RUN/checkpoints/`` or ``RUN/model.keras``);
- a ``.keras`` file;
- a SavedModel folder (``serving_default``: ``frames`` (B, L, H, W, 3) -> ``sr``);
- an ``.onnx`` file (``vsr-latent export --format onnx``), run in onnxruntime without TensorFlow.

:func:`load_predictor` gives a ``Predictor`` for any of them; :func:`load_model` gives the Keras
model of those that hold one (pretrained, registry name, run folder, ``.keras`` file), which is
what export converts. Files and folders win over names. ``.keras`` files are read by
``vsr_latent.run_folder.load_keras_model``, the package's one reader.

Nothing here imports TensorFlow at module level: an ``.onnx`` spec never imports it at all.
"""

import contextlib
from pathlib import Path

from vsr_latent.errors import CheckpointError, ConfigError
from vsr_latent.precision import check_precision, dtype_policy, resolve_precision
from vsr_latent.pretrained import PRETRAINED, pretrained_path
from vsr_latent.run_folder import CONFIG_FILE, load_keras_model, restore_model
from vsr_latent.serving.onnx_runtime import OnnxPredictor
from vsr_latent.serving.predictors import (
    BicubicPredictor,
    KerasPredictor,
    SavedModelPredictor,
)

BACKENDS = ("tensorflow", "onnxruntime")
"""What runs a model: TensorFlow (every spec but ``.onnx`` files) or onnxruntime (``.onnx``
files only). ``backend=None`` picks by the spec."""

SAVED_MODEL_FILE = "saved_model.pb"
ONNX_SUFFIX = ".onnx"
KERAS_SUFFIX = ".keras"


def load_predictor(spec, *, seq_len=None, precision="float32", backend=None):
    """A ``Predictor`` for ``spec`` (see the module docstring).

    ``seq_len`` overrides the model's nominal clip length used for chunking; ``precision``
    ("float32", "mixed_bfloat16" or "auto", see ``vsr_latent.precision.resolve_precision``) is
    the compute precision of a Keras model (SavedModel and ONNX files keep the precision they
    were exported in); ``backend`` is one of ``BACKENDS`` or None.

    Raises ``CheckpointError`` for a missing or unreadable path, ``ConfigError`` for an unknown
    name or a setting that does not fit the spec. Settings are checked before anything is loaded.
    """
    seq_len = _check_seq_len(seq_len)
    _check_precision(precision)
    spec = str(spec)
    path = Path(spec).expanduser()
    if _backend_for(spec, backend) == "onnxruntime":
        return OnnxPredictor(path, seq_len=seq_len)
    if spec.lower() == "bicubic":
        return BicubicPredictor(seq_len=seq_len)
    if path.is_dir() and (path / SAVED_MODEL_FILE).is_file():
        return SavedModelPredictor(path, seq_len=seq_len)
    model = load_model(spec, seq_len=seq_len, precision=precision)
    name = str(path) if path.exists() else spec.lower()
    return KerasPredictor(model, name=name, seq_len=seq_len)


def load_model(spec, *, seq_len=None, precision=None):
    """The Keras model of a pretrained name, a registry name (fresh weights built with
    ``seq_len``), a run folder or a ``.keras`` file, on its mean path (``sampling`` off).

    ``precision``: the dtype policy its layers compute in ("auto" resolved as for
    :func:`load_predictor`); None: the one in force, so a caller's ``dtype_policy`` applies.
    """
    seq_len = _check_seq_len(seq_len)
    _check_precision(precision)
    load = _keras_loader(str(spec), seq_len)
    with _policy(precision):
        return load()


def _keras_loader(spec, seq_len):
    """A function loading the Keras model ``spec`` names; errors for a spec that names none
    come first, before anything is loaded."""
    path = Path(spec).expanduser()
    name = spec.lower()
    if path.exists():
        if path.is_dir() and (path / CONFIG_FILE).is_file():
            return lambda: restore_model(path)
        if path.is_file() and path.suffix == KERAS_SUFFIX:
            return lambda: load_keras_model(path)
        if path.is_dir() and (path / SAVED_MODEL_FILE).is_file():
            raise ConfigError(f"{path}: a SavedModel folder holds no Keras model; give the run "
                              f"folder, {KERAS_SUFFIX} file or model name it was exported from")
        if path.is_dir():
            raise CheckpointError(f"{path}: neither a training run folder ({CONFIG_FILE}) nor a "
                                  f"SavedModel folder ({SAVED_MODEL_FILE})")
        raise CheckpointError(f"{path}: not a {KERAS_SUFFIX} file, {ONNX_SUFFIX} file, run "
                              "folder or SavedModel folder")
    if name in PRETRAINED:
        return lambda: load_keras_model(pretrained_path(name))
    if "/" in spec or "\\" in spec or path.suffix:  # no model name looks like a path
        raise CheckpointError(f"{spec}: no such file or folder")
    from vsr_latent.models import MODEL_NAMES, build_model  # imports TensorFlow

    if name in MODEL_NAMES:
        return lambda: build_model(name, seq_len=seq_len)
    known = ", ".join(("bicubic",) + tuple(PRETRAINED) + tuple(MODEL_NAMES))
    raise ConfigError(f"unknown model {spec!r}: not a file or folder and not one of: {known}")


def _backend_for(spec, backend):
    """The backend that runs ``spec``: ``backend`` when it fits the spec, else a ConfigError."""
    is_onnx = spec.lower().endswith(ONNX_SUFFIX)
    if backend is None:
        return "onnxruntime" if is_onnx else "tensorflow"
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend == "onnxruntime" and not is_onnx:
        raise ConfigError(f"{spec}: the onnxruntime backend runs {ONNX_SUFFIX} files (make one "
                          "with `vsr-latent export --format onnx --model SPEC OUT.onnx`)")
    if backend == "tensorflow" and is_onnx:
        raise ConfigError(f"{spec}: an ONNX file runs on backend onnxruntime, not tensorflow",
                          fields=("backend",))
    return backend


def _check_seq_len(seq_len):
    if seq_len is None:
        return None
    if int(seq_len) < 1:
        raise ConfigError(f"seq_len must be >= 1, got {seq_len}", fields=("seq_len",))
    return int(seq_len)


def _check_precision(precision):
    if precision not in (None, "auto"):
        check_precision(precision)


def _policy(precision):
    if precision is None:
        return contextlib.nullcontext()
    return dtype_policy(resolve_precision(precision))


def model_catalogue():
    """Every model name a spec may be, as rows ``{"name", "params", "seq_len", "weights"}``:
    the registry's models (fresh weights), then the pretrained ones (``"file"`` and
    ``"summary"`` added; ``"weights"`` says when the file is missing)."""
    from vsr_latent.models import MODEL_NAMES, build_model, count_params

    rows = []
    for name in MODEL_NAMES:
        model = build_model(name)
        rows.append({"name": name, "params": count_params(model), "seq_len": model.seq_len,
                     "weights": "fresh"})
    for entry in PRETRAINED.values():
        model = build_model(entry.model)
        rows.append({"name": entry.name, "params": count_params(model), "seq_len": model.seq_len,
                     "weights": "pretrained" if entry.path.is_file() else "pretrained (missing)",
                     "file": str(entry.path), "summary": entry.summary})
    return rows
