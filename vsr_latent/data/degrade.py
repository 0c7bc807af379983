"""Degradations that make low-resolution frames from high-resolution ones, selectable by name.

- ``"bi"``: MATLAB-compatible bicubic ``imresize(x, 1/scale)`` (Keys cubic, a = -0.5, kernel
  stretched by ``scale`` for antialiasing, symmetric padding). This is the "BI" protocol of the Vid4
  literature; it reproduces the public Vid4 BIx4 frames (``round`` of the result) at over 50 dB.
- ``"scipy"``: ``scipy.misc.imresize(frame, 1/scale, 'bicubic')`` as the paper's code of its time
  did it (§7: bicubic "implemented with SciPy"; ``imresize`` was removed in SciPy 1.3). ``imresize``
  turned a uint8 frame into a PIL image and called Pillow's ``Image.resize((int(W/scale),
  int(H/scale)), Image.BICUBIC)``: antialiased bicubic (a = -0.5, support 2 stretched by the shrink
  factor, pixel centres at ``(i + 0.5) * scale``, taps outside the image dropped and the rest
  renormalised) in 8-bit fixed point, a horizontal pass then a vertical pass, each rounded and
  clipped to 0..255. It is reproduced bit-exactly (equal to Pillow's output): the input is first
  rounded and clipped to 0..255 (imresize took uint8 frames), and the result holds integer values.
  It is the paper-faithful option, not the Vid4 one.
- ``"bd"``: Gaussian blur, sigma 1.6, 13x13 kernel, reflect borders, then every ``scale``-th pixel
  starting at pixel 0 — the "BD" protocol (as in DUF's ``DownSample``).

All three are separable, applied as weight matrices (:mod:`.resize_weights`): ``degrade`` in
NumPy, ``tf_degrade`` in TensorFlow with the same matrices. ``bi`` and ``bd`` are linear; their
results are float32, not rounded and not clipped (bicubic overshoots slightly), and the tf.data
pipelines round and clip (:data:`vsr_latent.data.pipelines.QUANTIZE_LR`). ``scipy`` uses Pillow's
integer coefficients in float64 (exact), so ``degrade`` and ``tf_degrade`` give identical values.

Heights and widths that are not multiples of ``scale`` are cropped (bottom/right) with a warning.
"""

import functools
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
    """(in_len // scale, in_len) float64 matrix of ``method`` along one axis (in_len a multiple).

    For ``"scipy"`` the entries are Pillow's integer coefficients divided by ``2**22`` (exact); a
    pass is then ``clip(floor(M @ x + 0.5), 0, 255)`` on integer ``x`` (:func:`_pillow_round`).
    """
    check_method(method)
    scale = _check_scale(scale)
    if method == "bi":
        return resize_weights.matlab_imresize_matrix(in_len, in_len // scale, 1.0 / scale)
    if method == "bd":
        return resize_weights.gaussian_subsample_matrix(in_len, scale)
    q = resize_weights.pillow_bicubic_matrix(in_len, in_len // scale)
    return q / float(1 << resize_weights.PILLOW_PRECISION_BITS)


@functools.lru_cache(maxsize=None)
def context_margin(method, scale):
    """LR pixels at each side of a degraded crop that differ from the same pixels of the degraded
    whole frame: their kernels reach past the crop, where the frame has pixels and the crop has
    only its padding (symmetric for ``bi``, reflect for ``bd``, dropped taps for ``scipy``).

    A crop degraded with ``context_margin * scale`` HR pixels of the frame around it, then cut
    by this many LR pixels on each side, equals the crop of the degraded frame. Read off the
    weight matrices (2 for every degradation at x4).
    """
    check_method(method)
    scale = _check_scale(scale)
    n, pad = 16, 8  # LR pixels of a test crop, and of the frame around it (beyond any kernel)
    cols = slice(pad * scale, (pad + n) * scale)
    small = weight_matrix(method, n * scale, scale)
    inner = weight_matrix(method, (n + 2 * pad) * scale, scale)[pad:pad + n]
    outside = np.abs(inner).sum(1) - np.abs(inner[:, cols]).sum(1) > 1e-12
    differs = outside | (np.abs(inner[:, cols] - small).max(1) > 1e-12)
    if differs.all():
        raise ConfigError(f"{method} at x{scale}: every pixel of a {n}-pixel crop depends on "
                          "the frame around it")
    # argmin finds the first pixel that does not differ: the count of those that do, per side.
    return max(int(np.argmin(differs)), int(np.argmin(differs[::-1])))


def _pillow_round(acc, floor=np.floor, clip=np.clip):
    """Pillow's 8-bit rounding of one pass: ``clip8((sum q_k x_k + 2**21) >> 22)``.

    ``acc`` is ``sum (q_k / 2**22) x_k``, exact in float64 (integer weights below 2**23, integer
    pixels 0..255), so ``floor(acc + 0.5)`` is Pillow's arithmetic shift.
    """
    return clip(floor(acc + 0.5), 0.0, 255.0)


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
    """(..., H, W, C) array on [0, 255] -> float32 (..., H/scale, W/scale, C).

    Not rounded for ``bi`` and ``bd``; integer values for ``scipy`` (Pillow's 8-bit BICUBIC).
    """
    check_method(method)
    scale = _check_scale(scale)
    x = np.asarray(frames)
    if x.ndim < 3:
        raise InputError(path, f"expected (..., H, W, C) frames, got shape {x.shape}")
    x = crop_to_multiple(x, scale, path=path)
    h, w = x.shape[-3], x.shape[-2]
    if method == "scipy":
        wh = weight_matrix(method, h, scale)
        ww = weight_matrix(method, w, scale)
        x = np.clip(np.round(x.astype(np.float64)), 0.0, 255.0)  # imresize took uint8 frames
        # Pillow: horizontal (width) pass first, each pass rounded and clipped to 8 bits.
        y = _pillow_round(np.einsum("jw,...hwc->...hjc", ww, x, optimize=True))
        y = _pillow_round(np.einsum("ih,...hjc->...ijc", wh, y, optimize=True))
        return y.astype(np.float32)
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
    multiples of ``scale`` are cropped (no warning inside graphs). ``scipy`` runs in float64 with
    Pillow's rounding after each pass and equals :func:`degrade` exactly; the result is float32.
    """
    import tensorflow as tf

    check_method(method)
    scale = _check_scale(scale)
    # Pillow's integer weights need float64 for exact sums; bi and bd stay float32.
    dtype = tf.float64 if method == "scipy" else tf.float32
    x = tf.convert_to_tensor(x)
    already_8bit = x.dtype == tf.uint8  # scipy's rounding to 8-bit values is then a no-op
    x = tf.cast(x, dtype)
    h_static, w_static = x.shape[-3], x.shape[-2]
    shape = tf.shape(x)
    h = shape[-3] - shape[-3] % scale
    w = shape[-2] - shape[-2] % scale
    x = x[..., :h, :w, :]

    def matrix(static, dynamic):
        if static is not None:
            n = static - static % scale
            return tf.constant(weight_matrix(method, n, scale), dtype=dtype)
        m = tf.numpy_function(
            lambda n: weight_matrix(method, int(n), scale).astype(dtype.as_numpy_dtype),
            [dynamic],
            dtype,
            stateful=False,
        )
        return tf.reshape(m, [dynamic // scale, dynamic])

    wh = matrix(h_static, h)
    ww = matrix(w_static, w)
    if method == "scipy":
        if not already_8bit:
            x = tf.clip_by_value(tf.round(x), 0.0, 255.0)  # as degrade: uint8 values
        # Channels before rows and columns, so each pass is one plain matmul over the last two
        # axes (about 1.4x faster than the einsum on a training crop). Every sum is exact in
        # float64 (integer pixels times Pillow's integer weights / 2**22), so the order of the
        # terms cannot change a value: equal to `degrade` bit for bit.
        rank = len(x.shape)
        to_chw = list(range(rank - 3)) + [rank - 1, rank - 3, rank - 2]
        to_hwc = list(range(rank - 3)) + [rank - 2, rank - 1, rank - 3]
        x = tf.transpose(x, to_chw)
        y = _pillow_round(tf.matmul(x, ww, transpose_b=True), tf.floor, tf.clip_by_value)
        y = _pillow_round(tf.matmul(wh, y), tf.floor, tf.clip_by_value)
        return tf.cast(tf.transpose(y, to_hwc), tf.float32)
    y = tf.einsum("ih,...hwc->...iwc", wh, x)
    return tf.einsum("jw,...iwc->...ijc", ww, y)
