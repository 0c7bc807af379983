"""Run an exported ONNX model (``vsr_latent.serving.onnx_export``) in onnxruntime, without
TensorFlow.

This module and everything it imports (the predictor base class of
``vsr_latent.serving.predictors``, numpy) must stay importable with TensorFlow absent: serving an
``.onnx`` file needs only onnxruntime (``pip install 'vsr_latent[onnx]'``), numpy and the
package's video I/O.

* :class:`OnnxPredictor` is a ``Predictor``: the streaming and tiling of
  ``vsr_latent.serving.video`` run on it unchanged (``vsr-latent upscale --backend onnxruntime``).
  ``seq_len`` and ``scale`` come from the file's metadata (written by the export); files from
  elsewhere fall back to ``DEFAULT_SEQ_LEN`` and a scale of 4. Exported variational models run
  their mean path (``onnx_export.EXPORT_MEAN_PATH``), so ``samples > 1`` is refused; key frames
  are not part of the exported graph and are refused too.
* :func:`open_session` opens a file for the export's agreement check and the benchmark.
* ``EXECUTION_PROVIDERS``: the onnxruntime providers used when available, in this order (GAP:
  CUDA when onnxruntime-gpu has it, else the CPU).
"""

import importlib
from pathlib import Path

import numpy as np

from vsr_latent.errors import CheckpointError, ConfigError
from vsr_latent.serving.predictors import DEFAULT_SEQ_LEN, SCALE, Predictor

EXECUTION_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
"""onnxruntime execution providers in order of preference (those installed are used)."""

INSTALL_HINT = "pip install 'vsr_latent[onnx]'"
"""How to install the optional ``onnx`` extra (onnxruntime, onnx, tf2onnx)."""

# The exported graph's input and output (``vsr_latent.serving.onnx_export`` writes them).
INPUT_NAME = "frames"
OUTPUT_NAME = "sr"


def require_module(name, purpose):
    """Imports and returns module ``name`` of the ``onnx`` extra; a ConfigError naming the extra
    (and how to install it) when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ConfigError(
            f"{purpose} needs the optional package {name!r}, which is not installed ({e}); "
            f"install the ONNX extra: {INSTALL_HINT}") from e


def require_onnxruntime():
    """The ``onnxruntime`` module, or a ConfigError naming the ``onnx`` extra."""
    return require_module("onnxruntime", "running ONNX models")


def default_providers(ort=None):
    ort = ort or require_onnxruntime()
    available = set(ort.get_available_providers())
    return [p for p in EXECUTION_PROVIDERS if p in available] or ["CPUExecutionProvider"]


def open_session(path, providers=None):
    """An ``onnxruntime.InferenceSession`` for ``path``; CheckpointError for a missing or
    unreadable file, ConfigError without onnxruntime."""
    ort = require_onnxruntime()
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such ONNX file")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: shape-inference notes are not for users
    try:
        return ort.InferenceSession(str(path), options,
                                    providers=list(providers or default_providers(ort)))
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... types
        raise CheckpointError(f"{path}: onnxruntime cannot load the ONNX model: {e}") from e


def _int_meta(meta, key):
    try:
        return int(meta[key])
    except (KeyError, TypeError, ValueError):
        return None


class OnnxPredictor(Predictor):
    """A :class:`~vsr_latent.serving.predictors.Predictor` running an ONNX file in onnxruntime.

    Args:
      path: the ``.onnx`` file (input ``frames`` (B, L, H, W, 3) -> output ``sr``).
      seq_len: frames per window; default: the file's ``seq_len`` metadata.
      providers: onnxruntime execution providers (default ``EXECUTION_PROVIDERS`` installed).
    """

    def __init__(self, path, *, seq_len=None, providers=None):
        self.path = Path(path)
        self.session = open_session(self.path, providers)
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if INPUT_NAME in inputs:
            self._input = INPUT_NAME
        elif len(inputs) == 1:
            self._input = inputs[0]
        else:
            raise CheckpointError(f"{self.path}: the ONNX model takes {inputs}, expected one "
                                  f"input {INPUT_NAME!r}")
        self._output = OUTPUT_NAME if OUTPUT_NAME in outputs else outputs[0]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        super().__init__(
            name=str(self.path),
            seq_len=seq_len or _int_meta(self.metadata, "seq_len") or DEFAULT_SEQ_LEN,
            scale=_int_meta(self.metadata, "scale") or SCALE,
            variational=False,
        )

    def check_samples(self, samples):
        if int(samples) > 1:
            raise ConfigError(
                f"{self.name}: samples={samples} is not available on the onnxruntime backend: "
                "ONNX files hold the deterministic mean path only; use the Keras model or run "
                "folder for draws of the latent attention")
        return super().check_samples(samples)

    def __call__(self, frames, *, samples=1, key_frames=None):
        if key_frames is not None and len(key_frames):
            raise ConfigError(f"{self.name}: ONNX files take no key frames (the clip's own frames "
                              "are the keys); use the Keras model or SavedModel for key frames")
        return super().__call__(frames, samples=samples)

    def _predict(self, x, k, sampling):
        out = self.session.run([self._output], {self._input: np.ascontiguousarray(x[None])})[0]
        expected = (x.shape[0], x.shape[1] * self.scale, x.shape[2] * self.scale, x.shape[3])
        if out.shape[1:] != expected:
            raise CheckpointError(f"{self.name}: the ONNX model returned {out.shape[1:]} for "
                                  f"frames {x.shape}, expected {expected}")
        return np.asarray(out[0], dtype=np.float32)
