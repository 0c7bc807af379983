"""Degradations that make low-resolution frames from high-resolution ones, selectable by name.

- ``"bi"``: MATLAB-compatible bicubic ``imresize(x, 1/scale)`` (Keys cubic, a = -0.5, kernel
  stretched by ``scale`` for antialiasing, symmetric padding). This is the "BI" protocol of the Vid4
  literature; it reproduces the public Vid4 BIx4 frames (``round`` of the result) at over 50 dB.
- ``"scipy"``: ``scipy.ndimage.zoom(frame, 1/scale, order=3)`` per channel — the paper's §7 says its
  bicubic preprocessing used SciPy without naming the call; this is the honest reading with today's
  SciPy (cubic B-spline with prefilter, SciPy's default ``mode="constant"``, no antialiasing). It is
  the paper-faithful option, not the Vid4 one. (``scipy.misc.imresize`` no longer exists.)
- ``"bd"``: Gaussian blur, sigma 1.6, 13x13 kernel, reflect borders, then every ``scale``-th pixel
  starting at pixel 0 — the "BD" protocol (as in DUF's ``DownSample``).

All three are separable linear maps, applied as weight matrices (:mod:`.resize_weights`):
``degrade`` in NumPy, ``tf_degrade`` in TensorFlow with the same matrices. Results are float32,
not rounded and not clipped (bicubic overshoots slightly); the tf.data pipelines round and clip
(:data:`vsr_latent.data.pipelines.QUANTIZE_LR`).

Heights and widths that are not multiples of ``scale`` are cropped (bottom/right) with a warning.
"""

import warnings

import numpy as np

from vsr_latent.data import resize_weights
from vsr_latent.errors import ConfigError, InputError

DEGRADATIONS = ("bi", "bd", "scipy")
#: The default degradation (the Vid4 literature's BI; see the module docstring).
DEFAULT_DEGRADATION = "bi"


def check_method(method):
    if method not in DEGRADATIONS:
        raise ConfigError(
            f"unknown degradation {method!r}; known: {', '.join(DEGRADATIONS)}"
        )
    return method


def _check_scale(scale):
    if int(scale) != scale or scale < 1:
        raise ConfigError(f"scale must be a positive integer, got {scale!r}")
    return int(scale)


def weight_matrix(method, in_len, scale):
    """(in_len // scale, in_len) float64 matrix of ``method`` along one axis (in_len a multiple)."""
    check_method(method)
    scale = _check_scale(scale)
    if method == "bi":
        return resize_weights.matlab_imresize_matrix(in_len, in_len // scale, 1.0 / scale)
    if method == "bd":
        return resize_weights.gaussian_subsample_matrix(in_len, scale)
    return resize_weights.scipy_zoom_matrix(in_len, scale)


def crop_to_multiple(frames, scale, *, path=None, warn=True):
    """Crops (..., H, W, C) so H and W are multiples of ``scale`` (bottom/right), with a warning."""
    h, w = frames.shape[-3], frames.shape[-2]
    hc, wc = h - h % scale, w - w % scale
    if hc == 0 or wc == 0:
        raise InputError(path, f"frame size {h}x{w} is smaller than the scale {scale}")
    if (hc, wc) != (h, w):
        if warn:
            where = f"{path}: " if path else ""
            warnings.warn(
                f"{where}frame size {h}x{w} is not a multiple of {scale}; cropped to {hc}x{wc}",
                stacklevel=3,
            )
        frames = frames[..., :hc, :wc, :]
    return frames


def degrade(frames, method=DEFAULT_DEGRADATION, scale=4, *, path=None):
    """(..., H, W, C) array on [0, 255] -> float32 (..., H/scale, W/scale, C), not rounded."""
    check_method(method)
    scale = _check_scale(scale)
    x = np.asarray(frames)
    if x.ndim < 3:
        raise InputError(path, f"expected (..., H, W, C) frames, got shape {x.shape}")
    x = crop_to_multiple(x, scale, path=path)
    h, w = x.shape[-3], x.shape[-2]
    wh = weight_matrix(method, h, scale).astype(np.float32)
    ww = weight_matrix(method, w, scale).astype(np.float32)
    x = x.astype(np.float32)
    # Heights first, as MATLAB does for equal scales (the order only matters for rounding).
    y = np.einsum("ih,...hwc->...iwc", wh, x, optimize=True)
    return np.einsum("jw,...iwc->...ijc", ww, y, optimize=True).astype(np.float32)


def tf_degrade(x, method=DEFAULT_DEGRADATION, scale=4):
    """TensorFlow version of :func:`degrade` for (..., H, W, C) tensors (tf.data / tf.function).

    With static H and W the weight matrices are constants computed at trace time; with dynamic
    ones they are computed by ``tf.numpy_function`` (same NumPy code). Sizes that are not
    multiples of ``scale`` are cropped (no warning inside graphs).
    """
    import tensorflow as tf

    check_method(method)
    scale = _check_scale(scale)
    x = tf.convert_to_tensor(x)
    x = tf.cast(x, tf.float32)
    h_static, w_static = x.shape[-3], x.shape[-2]
    shape = tf.shape(x)
    h = shape[-3] - shape[-3] % scale
    w = shape[-2] - shape[-2] % scale
    x = x[..., :h, :w, :]

    def matrix(static, dynamic):
        if static is not None:
            n = static - static % scale
            return tf.constant(weight_matrix(method, n, scale), dtype=tf.float32)
        m = tf.numpy_function(
            lambda n: weight_matrix(method, int(n), scale).astype(np.float32),
            [dynamic],
            tf.float32,
            stateful=False,
        )
        return tf.reshape(m, [dynamic // scale, dynamic])

    wh = matrix(h_static, h)
    ww = matrix(w_static, w)
    y = tf.einsum("ih,...hwc->...iwc", wh, x)
    return tf.einsum("jw,...iwc->...ijc", ww, y)
