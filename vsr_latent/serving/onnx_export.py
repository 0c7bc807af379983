"""ONNX export: a model -> SavedModel (``serving.saved_model``) -> ONNX file, checked in onnxruntime.

The ONNX file is converted by tf2onnx (the optional extra ``pip install 'vsr_latent[onnx]'``) from
the SavedModel's ``serving_default`` signature, so it is the same graph TensorFlow serving runs:

* input ``frames``: float32 ``[batch, length, height, width, 3]`` on [0, 255], every dimension but
  the channels dynamic (named ``batch``, ``length``, ``height``, ``width`` in the file);
* output ``sr``: float32 ``[batch, length, 4 height, 4 width, 3]`` on [0, 255], unclipped.

The file carries its model's facts as ONNX metadata (``MODEL_METADATA_KEYS``: ``seq_len``,
``scale``, ...) so ``serving.onnx_runtime`` can chunk and tile a video without TensorFlow.

Decisions, each named once here:

* ``ONNX_OPSET`` = 17: the ONNX operator set of the file (onnxruntime >= 1.12 runs it).
* ``EXPORT_MEAN_PATH``: variational models are exported on their deterministic mean path
  (z = mu, the default inference mode, SPEC §Variational): the export traces the model's plain
  call, which is the mean path (the mode is a call argument, ``sampling=False`` by default).
  Draws of the latent attention (``--samples K``) need the
  Keras model or the SavedModel.
* ``TF2ONNX_SKIPPED_OPTIMIZERS``: tf2onnx 1.17's ``reshape_optimizer`` rewrites the reshapes of the
  long-attention block (dynamic batch and frame size) into a Reshape whose target shape does not
  fit its input, which onnxruntime rejects at load time; the other optimizers run.
* ``AGREEMENT_TOLERANCE`` / ``AGREEMENT_RELATIVE``: the exported file is run in onnxruntime beside
  the Keras model on the same input (``check_agreement``) and must agree within a max absolute
  difference of ``AGREEMENT_TOLERANCE`` on the [0, 255] scale, or ``AGREEMENT_RELATIVE`` times the
  largest output magnitude when that is larger (untrained models reach outputs of several
  thousand; float32 round-off grows with them). Measured: 1e-4 to 3e-4 for tiny models, about
  5e-3 for the full-size ``ours`` with fresh weights (outputs up to about 2000).
* Key frames (the SavedModel's ``serve_with_keys``) are not exported: the ONNX file takes the
  clip only, so long attention uses the clip's own frames as keys and values.

Everything written goes through :mod:`vsr_latent.atomic`: the ONNX file appears only once complete.
"""

import contextlib
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from vsr_latent import __version__
from vsr_latent.atomic import atomic_path
from vsr_latent.errors import CheckpointError, ConfigError, VsrError
from vsr_latent.serving.onnx_runtime import (
    INPUT_NAME,
    OUTPUT_NAME,
    open_session,
    require_module,
    require_onnxruntime,
)
from vsr_latent.serving.saved_model import export_saved_model

ONNX_OPSET = 17
"""ONNX operator set of exported files."""

EXPORT_MEAN_PATH = True
"""Variational models are exported with sampling off (z = mu)."""

TF2ONNX_SKIPPED_OPTIMIZERS = ("reshape_optimizer",)
"""tf2onnx graph optimizers left out (see the module docstring)."""

AGREEMENT_TOLERANCE = 1e-2
"""Largest accepted |onnxruntime - Keras| on the [0, 255] scale (see ``agreement_tolerance``)."""

AGREEMENT_RELATIVE = 1e-5
"""Accepted |onnxruntime - Keras| relative to the largest |output|, when above the absolute one."""

CHECK_INPUT_SHAPE = (1, 3, 16, 20, 3)
"""Input (batch, L, H, W, 3) of the agreement check run after every export: H and W are not
multiples of 8, so the attention blocks' padding and cropping are exercised too."""

INPUT_DIM_NAMES = ("batch", "length", "height", "width")
OUTPUT_DIM_NAMES = ("batch", "length", "out_height", "out_width")
MODEL_METADATA_KEYS = ("model", "seq_len", "scale", "variational", "path", "opset",
                       "vsr_latent_version")


def agreement_tolerance(max_abs_output, tolerance=AGREEMENT_TOLERANCE):
    """The accepted max abs difference for outputs reaching ``max_abs_output``."""
    return max(float(tolerance), AGREEMENT_RELATIVE * float(max_abs_output))


class OnnxAgreementError(VsrError):
    """The exported ONNX file does not reproduce the Keras model within the tolerance."""


def require_tf2onnx():
    """``(tf2onnx, onnx)``, or a ConfigError naming the ``onnx`` extra."""
    tf2onnx = require_module("tf2onnx", "ONNX export")
    onnx = require_module("onnx", "ONNX export")
    return tf2onnx, onnx


def require_extras(check=True):
    """ConfigError naming the ``onnx`` extra unless ONNX export (and, with ``check``, the
    onnxruntime agreement check) can run here; cheap, so callers check before building a
    model."""
    require_tf2onnx()
    if check:
        require_onnxruntime()


@contextlib.contextmanager
def mean_path(model):
    """The model on its mean path (``EXPORT_MEAN_PATH``): its plain call already is, since the
    sampling mode is an argument of each call; nothing is switched."""
    yield model


def _name_dims(value_info, names):
    dims = value_info.type.tensor_type.shape.dim
    for dim, name in zip(dims, names):
        if not dim.HasField("dim_value"):
            dim.dim_param = name


def saved_model_to_onnx(saved_model_dir, out_path, *, opset=ONNX_OPSET, metadata=None,
                        signature="serving_default"):
    """Converts the ``signature`` of a SavedModel folder into an ONNX file at ``out_path``.

    ``metadata`` (str -> str-able) is stored as the file's ONNX metadata. The file is written
    aside and renamed (atomic). Returns ``out_path`` as a Path.

    Raises ConfigError without tf2onnx, CheckpointError for an unreadable SavedModel or a
    failed conversion.
    """
    tf2onnx, onnx = require_tf2onnx()
    from tf2onnx import convert, optimizer, tf_loader

    saved_model_dir, out_path = Path(saved_model_dir), Path(out_path)
    if not (saved_model_dir / "saved_model.pb").is_file():
        raise CheckpointError(f"{saved_model_dir}: not a SavedModel folder (no saved_model.pb)")
    _quiet_tf2onnx(tf2onnx)
    try:
        graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
            str(saved_model_dir), None, None, "serve", [signature], None, False,
            return_initialized_tables=True, return_tensors_to_rename=True)
    except Exception as e:  # TF raises many unrelated types for unreadable folders
        raise CheckpointError(f"{saved_model_dir}: cannot load the SavedModel's {signature!r} "
                              f"signature: {e}") from e
    optimizers = {name: factory for name, factory in optimizer._get_optimizers().items()
                  if name not in TF2ONNX_SKIPPED_OPTIMIZERS}
    try:
        # The same steps as ``python -m tf2onnx.convert --saved-model``, with the optimizer
        # selection that command does not expose.
        proto, _ = convert._convert_common(
            graph_def, name=str(saved_model_dir), opset=int(opset), input_names=inputs,
            output_names=outputs, tensors_to_rename=renames, initialized_tables=tables,
            optimizers=optimizers)
    except Exception as e:  # converter errors are plain Exceptions / ValueErrors
        raise CheckpointError(f"{saved_model_dir}: tf2onnx {tf2onnx.__version__} cannot convert "
                              f"it to ONNX opset {opset}: {e}") from e
    if len(proto.graph.input) == 1:
        _name_dims(proto.graph.input[0], INPUT_DIM_NAMES)
    if len(proto.graph.output) == 1:
        _name_dims(proto.graph.output[0], OUTPUT_DIM_NAMES)
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = str(key), str(value)
    with atomic_path(out_path, suffix=".onnx") as tmp:
        onnx.save_model(proto, str(tmp))
    return out_path


def _quiet_tf2onnx(tf2onnx):
    with contextlib.suppress(Exception):
        tf2onnx.logging.set_level(logging.ERROR)


def model_metadata(model, opset=ONNX_OPSET):
    """The ONNX metadata written for ``model`` (see ``MODEL_METADATA_KEYS``)."""
    return {
        "model": getattr(model, "name", "model"),
        "seq_len": int(model.seq_len),
        "scale": int(model.scale),
        "variational": bool(getattr(model, "variational", False)),
        "path": "mean" if getattr(model, "variational", False) else "deterministic",
        "opset": int(opset),
        "vsr_latent_version": __version__,
    }


def export_onnx(model, out_path, *, opset=ONNX_OPSET, check=True, check_shape=CHECK_INPUT_SHAPE,
                tolerance=AGREEMENT_TOLERANCE):
    """Writes ``model`` (a ``VSRNet``) as an ONNX file at ``out_path``, through a temporary
    SavedModel (``serving.saved_model.export_saved_model``) and tf2onnx.

    With ``check`` the file is run in onnxruntime beside the model on a random input of
    ``check_shape`` and must agree within ``agreement_tolerance(max |output|, tolerance)``
    (``OnnxAgreementError`` otherwise; the file is not written). Returns a dict: ``path``,
    ``opset``, ``seconds`` and, when checked, ``max_abs_diff``, ``tolerance`` and ``check_shape``.
    """
    require_extras(check)
    out_path = Path(out_path)
    if out_path.is_dir():
        raise ConfigError(f"{out_path}: is a folder; the ONNX output is a file (e.g. model.onnx)")
    start = time.perf_counter()
    with mean_path(model), tempfile.TemporaryDirectory(prefix="vsr_latent_onnx_") as tmp:
        try:
            saved = export_saved_model(model, Path(tmp) / "saved_model")
        except Exception as e:  # tracing errors come in many types; --verbose shows the cause
            raise CheckpointError(f"{getattr(model, 'name', 'model')}: cannot write the "
                                  f"SavedModel the ONNX file is converted from: {e}") from e
        converted = saved_model_to_onnx(saved, Path(tmp) / "model.onnx", opset=opset,
                                        metadata=model_metadata(model, opset))
        report = {"path": str(out_path), "opset": int(opset)}
        if check:
            result = check_agreement(model, converted, shapes=[check_shape])[0]
            diff = result["max_abs_diff"]
            accepted = agreement_tolerance(result["max_abs_output"], tolerance)
            if not diff <= accepted:
                raise OnnxAgreementError(
                    f"{out_path}: onnxruntime differs from the Keras model by {diff:.3g} (max abs "
                    f"on [0, 255]) on a {tuple(check_shape)} input, above the tolerance "
                    f"{accepted:g}; nothing was written")
            report.update(max_abs_diff=diff, tolerance=accepted, check_shape=tuple(check_shape))
        # Only a checked file reaches ``out_path``.
        with atomic_path(out_path, suffix=".onnx") as dst:
            shutil.copyfile(converted, dst)
    report["seconds"] = time.perf_counter() - start
    return report


def check_agreement(model, onnx_path, shapes=(CHECK_INPUT_SHAPE,), seed=0):
    """Runs ``onnx_path`` in onnxruntime and ``model`` (Keras, mean path) on the same random
    inputs (uniform on [0, 255]) of each shape in ``shapes``; returns a list of dicts
    ``{"shape", "max_abs_diff", "max_abs_output"}`` (differences on the [0, 255] scale)."""
    import tensorflow as tf

    session = open_session(onnx_path)
    rng = np.random.default_rng(seed)
    results = []
    with mean_path(model):
        for shape in shapes:
            x = rng.uniform(0.0, 255.0, size=tuple(shape)).astype(np.float32)
            ref = np.asarray(model(tf.constant(x), training=False), np.float32)
            out = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
            if out.shape != ref.shape:
                raise OnnxAgreementError(f"{onnx_path}: onnxruntime output {out.shape} differs in "
                                         f"shape from the Keras model's {ref.shape}")
            results.append({"shape": tuple(shape),
                            "max_abs_diff": float(np.max(np.abs(out - ref))),
                            "max_abs_output": float(np.max(np.abs(ref)))})
    return results
