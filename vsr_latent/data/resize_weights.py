"""Separable resampling as weight matrices: ``out = Wh @ frame @ Ww.T`` per channel.

All three degradations of :mod:`vsr_latent.data.degrade` are separable, so each one is a pair of
dense matrices (rows: output pixels, columns: input pixels). NumPy applies them with ``einsum``;
the TF version (``tf_degrade``) multiplies by exactly the same matrices. ``bi`` and ``bd`` are
linear (float weights; NumPy and TF agree to float32 rounding). ``scipy`` is Pillow's 8-bit
BICUBIC (what ``scipy.misc.imresize`` called): :func:`pillow_bicubic_matrix` holds Pillow's
integer fixed-point coefficients and each pass is rounded and clipped to 0..255 as Pillow does;
with integer weights and integer pixels the sums are exact in float64, so NumPy, TF and Pillow
agree bit for bit.
"""

import functools

import numpy as np

#: MATLAB ``imresize``'s cubic kernel support (width 4 input pixels at scale 1).
CUBIC_WIDTH = 4.0
#: Gaussian blur of the "BD" protocol (DUF / Vid4 BD): sigma and kernel size.
BD_SIGMA = 1.6
BD_KERNEL_SIZE = 13
#: Fixed-point precision of Pillow's 8-bit resampling (``PRECISION_BITS`` in Resample.c).
PILLOW_PRECISION_BITS = 22


def _cubic(x):
    """Keys' cubic convolution kernel with a = -0.5, exactly as MATLAB's ``cubic``."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    ) * ((ax > 1) & (ax <= 2))


@functools.lru_cache(maxsize=64)
def matlab_imresize_matrix(in_len, out_len, scale=None, antialias=True):
    """(out_len, in_len) float64 matrix of MATLAB ``imresize(..., 'bicubic')`` along one axis.

    Follows MATLAB's ``contributions``: output pixel u (1-based) maps to input coordinate
    ``x = u / scale + 0.5 * (1 - 1 / scale)``; when shrinking with antialiasing the kernel is
    stretched by ``1 / scale`` (and scaled by ``scale``); weights are normalised to sum to one and
    out-of-range taps are mirrored ("symmetric" padding, the edge pixel repeated).
    """
    if scale is None:
        scale = out_len / in_len
    kernel_width = CUBIC_WIDTH
    if scale < 1 and antialias:
        kernel_width = CUBIC_WIDTH / scale
        kernel = lambda v: scale * _cubic(scale * v)  # noqa: E731
    else:
        kernel = _cubic
    u = np.arange(1, out_len + 1, dtype=np.float64)
    x = u / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(x - kernel_width / 2.0)
    taps = int(np.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based input indices
    w = kernel(x[:, None] - idx)
    w = w / np.sum(w, axis=1, keepdims=True)
    # Symmetric padding: 1-based index i maps to aux[(i - 1) mod 2n] with aux = [1..n, n..1].
    aux = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    idx0 = aux[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(mat, (np.repeat(np.arange(out_len), taps), idx0.ravel()), w.ravel())
    return mat


@functools.lru_cache(maxsize=64)
def gaussian_subsample_matrix(in_len, scale, sigma=BD_SIGMA, size=BD_KERNEL_SIZE):
    """(in_len // scale, in_len) matrix: Gaussian blur then keep pixels 0, scale, 2*scale, ...

    The 1-D kernel is ``exp(-k^2 / (2 sigma^2))`` for k = -6..6 (size 13), normalised; its outer
    product is the 13x13 kernel DUF builds with ``gaussian_filter`` on a delta. Borders are
    reflected without repeating the edge pixel (TF ``REFLECT`` padding, as DUF's ``DownSample``);
    output pixel i is centred on input pixel ``scale * i`` (sampling offset 0).
    """
    radius = size // 2
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(k * k) / (2.0 * sigma * sigma))
    g /= g.sum()
    out_len = in_len // scale
    centres = np.arange(out_len) * scale
    idx = centres[:, None] + k[None, :].astype(np.int64)
    # numpy "reflect" (no edge repeat): -1 -> 1, n -> n - 2.
    period = 2 * (in_len - 1) if in_len > 1 else 1
    idx = np.mod(idx, period)
    idx = np.where(idx >= in_len, period - idx, idx)
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(mat, (np.repeat(np.arange(out_len), size), idx.ravel()), np.tile(g, out_len))
    return mat


def _pillow_bicubic(x):
    """Pillow's ``bicubic_filter`` (Resample.c, a = -0.5), same branch order and arithmetic."""
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


@functools.lru_cache(maxsize=64)
def pillow_bicubic_matrix(in_len, out_len):
    """(out_len, in_len) float64 matrix of Pillow's integer BICUBIC coefficients along one axis.

    Exactly Pillow's ``precompute_coeffs`` (Resample.c) for the whole image (box 0..in_len) followed
    by ``normalize_coeffs_8bpc``: ``scale = in_len / out_len``, ``filterscale = max(scale, 1)``,
    ``support = 2 * filterscale``; output pixel ``xx`` is centred at ``(xx + 0.5) * scale`` and
    uses input pixels ``xmin .. xmax - 1`` with ``xmin = (int)(center - support + 0.5)`` clamped
    to 0 and ``xmax = (int)(center + support + 0.5)`` clamped to ``in_len`` (taps outside the
    image are dropped, not mirrored); weights ``bicubic((x - center + 0.5) / filterscale)`` are
    divided by their sum, then quantised to ``(int)(+-0.5 + w * 2**PILLOW_PRECISION_BITS)``
    (rounded half away from zero). The entries are those integers (float64, exact); one 8-bit
    pass over uint8 values ``x`` is then ``clip(floor((M @ x + 2**21) / 2**22), 0, 255)``
    (Pillow's ``clip8`` of ``(acc + 2**21) >> 22``), exact in float64.
    """
    scale = float(in_len) / out_len
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    ss = 1.0 / filterscale
    one = 1 << PILLOW_PRECISION_BITS
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    for xx in range(out_len):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_len) - xmin
        w = [_pillow_bicubic((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        ww = sum(w)  # same left-to-right double accumulation as Pillow
        if ww != 0.0:
            w = [k / ww for k in w]
        q = [int(-0.5 + k * one) if k < 0 else int(0.5 + k * one) for k in w]
        mat[xx, xmin : xmin + xmax] = q
    return mat

