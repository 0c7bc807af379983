"""Predictors: a super-resolution model (or the bicubic baseline) run on one clip of frames.

A :class:`Predictor` takes one clip ``(L, H, W, 3)`` float32 on [0, 255] and returns
``(L, 4H, 4W, 3)`` float32 on [0, 255], unclipped. ``vsr_latent.serving.loading.load_predictor``
makes one from any model spec; the kinds are

- :class:`BicubicPredictor`: the pseudo-model every table shows as its floor: each frame upscaled
  by MATLAB's ``imresize(x, 4, "bicubic")`` (Keys' cubic convolution, a = -0.5, half-pixel
  centres, mirrored borders), the baseline of the Vid4 literature, as separable weight matrices
  (``BICUBIC_METHOD``). ``tf.image.resize(method="bicubic")`` uses the same kernel but
  renormalises it at the borders instead of mirroring: the two agree to float precision except in
  the outer 6 output pixels of each side;
- :class:`KerasPredictor`: a Keras model, run inside a ``tf.function`` whose input signature
  leaves batch, time and both spatial sizes free, so frames of a new size do not trigger a new
  trace;
- :class:`SavedModelPredictor`: a SavedModel folder (``serving_default``: ``frames``
  (B, L, H, W, 3) -> ``sr``);
- ``vsr_latent.serving.onnx_runtime.OnnxPredictor``: an ``.onnx`` file in onnxruntime.

:func:`upscale_sequence` runs a predictor over a sequence of any length the way the paper does
(§6.2): consecutive chunks of L frames, the last one zero-padded to L, the outputs of the padding
frames dropped.

This module imports TensorFlow only inside the Keras and SavedModel predictors: serving an ONNX
file does not need it.
"""

import numpy as np

from vsr_latent.data.chunks import pad_chunk
from vsr_latent.data.resize_weights import matlab_imresize_matrix
from vsr_latent.errors import CheckpointError, ConfigError, InputError
from vsr_latent.scale import SCALE

# Nominal clip length used for chunking when neither the caller nor the model gives one: the
# paper's final models process L = 7 frames at a time (§6.2, Table 3).
DEFAULT_SEQ_LEN = 7
BICUBIC_METHOD = "MATLAB imresize bicubic (Keys a=-0.5, half-pixel centres, mirrored borders)"


def bicubic_upscale(frames, scale=SCALE):
    """MATLAB-style bicubic upscaling (``BICUBIC_METHOD``) of frames ``(..., H, W, C)`` on
    [0, 255] -> float32 ``(..., sH, sW, C)``, unclipped (bicubic overshoots at edges), like a
    model's output."""
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim < 3:
        raise InputError(None, f"expected frames (..., H, W, C), got shape {x.shape}")
    h, w = x.shape[-3], x.shape[-2]
    wh = matlab_imresize_matrix(h, h * scale, scale).astype(np.float32)
    ww = matlab_imresize_matrix(w, w * scale, scale).astype(np.float32)
    y = np.einsum("ih,...hwc->...iwc", wh, x, optimize=True)
    return np.einsum("jw,...iwc->...ijc", ww, y, optimize=True).astype(np.float32)


def _check_clip(frames, what="frames"):
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise InputError(None, f"{what} must be (L, H, W, 3), got shape {x.shape}")
    if x.shape[0] < 1:
        raise InputError(None, f"{what} has no frames")
    return x


def check_sample_count(samples):
    """``samples`` as an int; ConfigError unless it is at least 1 (before any model is loaded)."""
    samples = int(samples)
    if samples < 1:
        raise ConfigError(f"samples must be >= 1, got {samples}", fields=("samples",))
    return samples


class Predictor:
    """Upscales one clip; see the module docstring.

    Attributes: ``seq_len`` (the nominal clip length used for chunking), ``scale``,
    ``variational`` (whether ``samples > 1`` is meaningful), ``name`` (what was loaded).
    """

    def __init__(self, *, name, seq_len, scale=SCALE, variational=False):
        self.name = str(name)
        self.seq_len = int(seq_len)
        self.scale = int(scale)
        self.variational = bool(variational)
        if self.seq_len < 1:
            raise ConfigError(f"seq_len must be >= 1, got {self.seq_len}")

    def __repr__(self):
        return (f"{type(self).__name__}(name={self.name!r}, seq_len={self.seq_len}, "
                f"scale={self.scale}, variational={self.variational})")

    def __call__(self, frames, *, samples=1, key_frames=None):
        """``(L, H, W, 3)`` -> ``(L, sH, sW, 3)``; with ``samples > 1`` (variational models only)
        ``(mean, std)`` over that many sampled draws (std with ddof 0). ``key_frames`` with no
        frames (a Remote chunk whose clip has no key frame outside it,
        `pipelines.CHUNK_WITHOUT_OUTSIDE_KEY_FRAMES`) is the same as none."""
        x = _check_clip(frames)
        if key_frames is not None and len(key_frames) == 0:
            key_frames = None
        k = None if key_frames is None else _check_clip(key_frames, "key_frames")
        if k is not None and k.shape[1:] != x.shape[1:]:
            raise InputError(None, f"key_frames {k.shape} differ in frame size from frames {x.shape}")
        samples = self.check_samples(samples)
        if samples == 1:
            return self._predict(x, k, sampling=False)
        draws = np.stack([self._predict(x, k, sampling=True) for _ in range(samples)])
        return draws.mean(axis=0), draws.std(axis=0)

    def check_samples(self, samples):
        """``samples`` as an int; ConfigError unless this predictor can draw that many (callers
        check before any work, e.g. before a video's output is opened)."""
        samples = check_sample_count(samples)
        if samples > 1 and not self.variational:
            raise ConfigError(
                f"{self.name}: samples={samples} needs a variational model (one with variance "
                "heads: vlatn10, vsatn10, ours); this one is deterministic, so all draws would "
                "be identical")
        return samples

    def _predict(self, x, k, sampling):
        raise NotImplementedError


class BicubicPredictor(Predictor):
    """The bicubic baseline (``BICUBIC_METHOD``); key frames are accepted and ignored."""

    def __init__(self, *, seq_len=None, scale=SCALE):
        super().__init__(name="bicubic", seq_len=seq_len or DEFAULT_SEQ_LEN, scale=scale)

    def _predict(self, x, k, sampling):
        return bicubic_upscale(x, self.scale)


class KerasPredictor(Predictor):
    """A Keras VSR model (``vsr_latent.models.VSRNet`` or anything with its call contract)."""

    def __init__(self, model, *, name, seq_len=None):
        super().__init__(
            name=name,
            seq_len=seq_len or getattr(model, "seq_len", None) or DEFAULT_SEQ_LEN,
            scale=getattr(model, "scale", SCALE),
            variational=getattr(model, "variational", False),
        )
        self.model = model
        self._functions = {}

    def _function(self, sampling, with_keys):
        import tensorflow as tf

        key = (sampling, with_keys)
        if key not in self._functions:
            model = self.model
            spec = tf.TensorSpec([None, None, None, None, 3], tf.float32)
            # The mode is an argument of the model's call, one traced function per mode; the
            # mean path is the plain call (models without variance heads take no ``sampling``).
            mode = {"sampling": True} if sampling else {}
            if with_keys:
                fn = tf.function(
                    lambda x, k: model({"frames": x, "key_frames": k}, training=False, **mode),
                    input_signature=[spec, spec])
            else:
                fn = tf.function(lambda x: model(x, training=False, **mode),
                                 input_signature=[spec])
            self._functions[key] = fn
        return self._functions[key]

    def _predict(self, x, k, sampling):
        fn = self._function(bool(sampling), k is not None)
        out = fn(x[None]) if k is None else fn(x[None], k[None])
        return np.asarray(out[0], dtype=np.float32)


class SavedModelPredictor(Predictor):
    """A SavedModel exported with ``serving_default(frames) -> {"sr"}`` (and optionally
    ``serve_with_keys(frames, key_frames)``); it runs in the mode it was exported in, so
    ``samples > 1`` is not available. ``seq_len`` is the caller's, else ``DEFAULT_SEQ_LEN``."""

    def __init__(self, path, *, seq_len=None):
        import tensorflow as tf

        try:
            self.loaded = tf.saved_model.load(str(path))
        except Exception as e:  # TF raises several unrelated types for unreadable models
            raise CheckpointError(f"{path}: cannot load the SavedModel: {e}") from e
        sigs = getattr(self.loaded, "signatures", {})
        if "serving_default" not in sigs:
            raise CheckpointError(f"{path}: the SavedModel has no 'serving_default' signature")
        self.serving = sigs["serving_default"]
        inputs = list(self.serving.structured_input_signature[1].keys())
        if "frames" in inputs:
            self._input_name = "frames"
        elif len(inputs) == 1:
            self._input_name = inputs[0]
        else:
            raise CheckpointError(f"{path}: serving_default takes {inputs}, expected 'frames'")
        # vsr_latent.serving.saved_model adds a second signature for external key frames.
        self.serving_with_keys = sigs.get("serve_with_keys")
        super().__init__(
            name=str(path),
            seq_len=seq_len or _int_attr(self.loaded, "seq_len") or DEFAULT_SEQ_LEN,
            scale=_int_attr(self.loaded, "scale") or SCALE,
        )

    def _predict(self, x, k, sampling):
        import tensorflow as tf

        if k is None:
            out = self.serving(**{self._input_name: tf.constant(x[None])})
        elif self.serving_with_keys is not None:
            out = self.serving_with_keys(frames=tf.constant(x[None]), key_frames=tf.constant(k[None]))
        else:
            raise ConfigError(f"{self.name}: the SavedModel has no 'serve_with_keys' signature "
                              "for key frames")
        out = out["sr"] if "sr" in out else next(iter(out.values()))
        return np.asarray(out[0], dtype=np.float32)


def _int_attr(obj, name):
    value = getattr(obj, name, None)
    if value is None:
        return None
    try:
        return int(np.asarray(value))
    except (TypeError, ValueError):
        return None


def upscale_sequence(predictor, frames, *, samples=1, on_chunk=None):
    """Upscale a whole sequence ``(T, H, W, 3)`` -> ``(T, sH, sW, 3)`` in chunks of
    ``predictor.seq_len``; the last chunk is zero-padded to full length and the outputs of the
    padding frames are dropped (SPEC §Data, paper §6.2).

    With ``samples > 1`` returns ``(mean, std)``. ``on_chunk(n)`` is called after each chunk with
    the number of real frames it held (for progress bars).
    """
    x = _check_clip(frames)
    t, length = x.shape[0], predictor.seq_len
    means, stds = [], []
    for start in range(0, t, length):
        chunk, real = pad_chunk(x[start:start + length], length)
        out = predictor(chunk, samples=samples)
        if samples > 1:
            means.append(out[0][:real])
            stds.append(out[1][:real])
        else:
            means.append(out[:real])
        if on_chunk is not None:
            on_chunk(real)
    mean = np.concatenate(means)
    return (mean, np.concatenate(stds)) if samples > 1 else mean
