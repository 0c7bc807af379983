"""Run an exported ONNX model (``vsr_latent.onnx_export``) in onnxruntime, without TensorFlow.

This module and everything it imports (``vsr_latent.inference``'s predictor base class, numpy)
must stay importable with TensorFlow absent: serving an ``.onnx`` file needs only onnxruntime
(``pip install 'vsr_latent[onnx]'``), numpy and the package's video I/O.

* :class:`OnnxPredictor` is a ``vsr_latent.inference.Predictor``: the streaming and tiling of
  ``vsr_latent.upscale`` run on it unchanged (``vsr-latent upscale --backend onnxruntime``).
  ``seq_len`` and ``scale`` come from the file's metadata (written by the export); files from
  elsewhere fall back to ``vsr_latent.inference.DEFAULT_SEQ_LEN`` and a scale of 4.
  Exported variational models run their mean path (``onnx_export.EXPORT_MEAN_PATH``), so
  ``samples > 1`` is refused; key frames are not part of the exported graph and are refused too.
* :func:`onnx_seconds_per_frame` times a file on given frames, for benchmarks.
* ``EXECUTION_PROVIDERS``: the onnxruntime providers used when available, in this order (GAP:
  CUDA when onnxruntime-gpu has it, else the CPU).
"""

import time
from pathlib import Path

import numpy as np

from vsr_latent.errors import CheckpointError, ConfigError, InputError
from vsr_latent.inference import DEFAULT_SEQ_LEN, SCALE, Predictor

EXECUTION_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
"""onnxruntime execution providers in order of preference (those installed are used)."""

BACKENDS = ("tensorflow", "onnxruntime")
"""Values of ``vsr-latent upscale --backend``; None picks by the model file (``.onnx``)."""

INSTALL_HINT = "pip install 'vsr_latent[onnx]'"
INPUT_NAME = "frames"
OUTPUT_NAME = "sr"


def require_onnxruntime():
    """The ``onnxruntime`` module, or a ConfigError naming the ``onnx`` extra."""
    try:
        import onnxruntime
    except ImportError as e:
        raise ConfigError(
            f"running ONNX models needs the optional package 'onnxruntime', which is not "
            f"installed ({e}); install the ONNX extra: {INSTALL_HINT}") from e
    return onnxruntime


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
    """A :class:`vsr_latent.inference.Predictor` running an ONNX file in onnxruntime.

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
        self.exported_variational = self.metadata.get("variational") == "True"
        super().__init__(
            name=str(self.path),
            seq_len=seq_len or _int_meta(self.metadata, "seq_len") or DEFAULT_SEQ_LEN,
            scale=_int_meta(self.metadata, "scale") or SCALE,
            variational=False,
        )

    def __call__(self, frames, *, samples=1, key_frames=None):
        if int(samples) > 1:
            raise ConfigError(
                f"{self.name}: samples={samples} is not available on the onnxruntime backend: "
                "ONNX files hold the deterministic mean path only; use the Keras model or run "
                "folder for draws of the latent attention")
        if key_frames is not None:
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


def load_onnx_predictor(spec, *, seq_len=None):
    """``OnnxPredictor(spec)`` with a clear error for anything that is not an ``.onnx`` file."""
    path = Path(spec)
    if path.suffix.lower() != ".onnx" or path.is_dir():
        raise ConfigError(f"{spec}: the onnxruntime backend runs .onnx files (make one with "
                          "`vsr-latent export --format onnx --model SPEC OUT.onnx`)")
    return OnnxPredictor(path, seq_len=seq_len)


def load_backend_predictor(spec, backend=None, *, seq_len=None, precision="float32"):
    """The predictor for ``spec`` on ``backend`` (``BACKENDS``; None: onnxruntime for ``.onnx``
    files, else TensorFlow through ``vsr_latent.inference.load_predictor``)."""
    if backend is None:
        backend = "onnxruntime" if str(spec).lower().endswith(".onnx") else "tensorflow"
    if backend == "onnxruntime":
        return load_onnx_predictor(spec, seq_len=seq_len)
    if backend != "tensorflow":
        raise ConfigError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if str(spec).lower().endswith(".onnx"):
        raise ConfigError(f"{spec}: an ONNX file runs on --backend onnxruntime, not tensorflow")
    from vsr_latent.inference import load_predictor

    return load_predictor(spec, seq_len=seq_len, precision=precision)


def onnx_seconds_per_frame(onnx_path, frames, repeats=3, *, warmup=1, providers=None):
    """Median wall-clock seconds per frame of ``onnx_path`` in onnxruntime on ``frames``.

    ``frames``: float array (L, H, W, 3) or (B, L, H, W, 3) on [0, 255] (converted to float32),
    run as one batch; ``warmup`` untimed runs come first (allocations, kernel selection); each of
    ``repeats`` timed runs is divided by the B*L frames it upscales.
    """
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim == 4:
        x = x[None]
    if x.ndim != 5 or x.shape[-1] != 3:
        raise InputError(None, f"frames must be (L, H, W, 3) or (B, L, H, W, 3), got {x.shape}")
    repeats, warmup = int(repeats), int(warmup)
    if repeats < 1:
        raise ConfigError(f"repeats must be >= 1, got {repeats}")
    session = open_session(onnx_path, providers)
    feed = {session.get_inputs()[0].name: np.ascontiguousarray(x)}
    for _ in range(max(0, warmup)):
        session.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / float(x.shape[0] * x.shape[1])
