"""Bicubic upsampling by an integer factor as two separable convolutions (XLA-compilable).

Equal to ``tf.image.resize(x, (s*H, s*W), method="bicubic")`` (Keys' cubic kernel a = -0.5,
half-pixel centres, taps outside the frame dropped and the remaining weights renormalised to sum
1, as TensorFlow's ``ResizeBicubic`` kernel does) to float rounding: within ``BICUBIC_TOLERANCE``
on [0, 1] data (checked in ``tests/test_benchmark.py``). Unlike ``ResizeBicubic`` it has an XLA
lowering, so a model using it compiles with ``jit_compile=True``; written in ``keras.ops``, it
runs under every Keras backend.

For an integer factor s, output pixel ``s*m + r`` of one axis reads input pixels ``m-2 .. m+2``
with weights that depend only on the phase ``r``: a 5-tap convolution with s output channels per
input channel, interleaved into the axis. Zero padding plus division by the same convolution of
ones gives the renormalisation at the borders.
"""

import numpy as np
from keras import ops

# Keys' cubic convolution parameter of TensorFlow's (and MATLAB's) bicubic.
KEYS_A = -0.5

# Largest difference from tf.image.resize(method="bicubic") on [0, 1] inputs.
BICUBIC_TOLERANCE = 1e-5


def _keys(t, a=KEYS_A):
    t = abs(t)
    if t <= 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    if t < 2:
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return 0.0


def phase_taps(scale):
    """(5, scale) float32: weight of input pixel ``m + k - 2`` for output pixel ``scale*m + r``."""
    taps = np.zeros((5, scale), np.float64)
    for r in range(scale):
        centre = (r + 0.5) / scale - 0.5
        base = int(np.floor(centre))
        for t in range(-1, 3):
            offset = base + t
            taps[offset + 2, r] += _keys(centre - offset)
    return taps.astype(np.float32)


def _upsample_axis(x, taps, axis):
    """Upsample (N, H, W, C) along ``axis`` (1 or 2) with the phase taps (5, s)."""
    scale = taps.shape[1]
    n, h, w, channels = ops.shape(x)
    kernel_shape = (5, 1, 1, scale) if axis == 1 else (1, 5, 1, scale)
    kernel = np.tile(taps.reshape(kernel_shape), (1, 1, channels, 1))
    # "same" padding of a 5-tap kernel at stride 1 is 2 zeros on each side of the axis.
    y = ops.depthwise_conv(x, ops.cast(kernel, x.dtype), strides=1, padding="same",
                           data_format="channels_last")
    # Border renormalisation: the same convolution of an all-ones axis.
    length = ops.shape(x)[axis]
    ones = ops.ones((1, length, 1, 1), x.dtype)
    norm = ops.depthwise_conv(ones, ops.cast(taps.reshape((5, 1, 1, scale)), x.dtype), strides=1,
                              padding="same", data_format="channels_last")
    norm = ops.reshape(norm, (-1,))  # (length * scale,), index m * scale + r
    y = ops.reshape(y, (n, h, w, channels, scale))
    if axis == 1:
        y = ops.transpose(y, (0, 1, 4, 2, 3))
        y = ops.reshape(y, (n, h * scale, w, channels))
        return y / ops.reshape(norm, (1, -1, 1, 1))
    y = ops.transpose(y, (0, 1, 2, 4, 3))
    y = ops.reshape(y, (n, h, w * scale, channels))
    return y / ops.reshape(norm, (1, 1, -1, 1))


def bicubic_upsample(x, scale):
    """(N, H, W, C) -> (N, scale*H, scale*W, C), as ``tf.image.resize(..., "bicubic")``."""
    taps = phase_taps(int(scale))
    return _upsample_axis(_upsample_axis(x, taps, 1), taps, 2)
