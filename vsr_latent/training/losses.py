"""Per-example losses and training-batch PSNR, for `tf.nn.compute_average_loss`.

GAP (the paper writes L_re = E‖ŷ − ỹ‖₂ without a scale): L2 is the mean squared error over every
pixel of the clip with values divided by ``PIXEL_RANGE`` (i.e. on [0, 1]), so PSNR =
−10·log10(loss). The paper's global clipping norm of 3 (§7) is kept, but on this scale it rarely
acts: at the cpu budget the measured gradient norms of L2 were 0.005-0.05 (`configs/budgets.py`,
docs/cpu_scale.md), far below 3, so a norm of 3 clipped only a step of a loss spike already under
way (gradient norm 15,780). The paper does not give its loss's scale (a sum over pixels, or
values on [0, 255], would give norms many times larger), so whether its norm of 3 acted is not
known; the cpu budget clips at ``CPU_GLOBAL_CLIPNORM`` instead.

``RECONSTRUCTION_LOSSES`` names the per-example losses a config can train on
(``ExperimentConfig.reconstruction_loss``): "l2" (the paper's) and "charbonnier", the smooth L1
√(d² + ε²) of LapSRN, EDVR and BasicVSR with ``CHARBONNIER_EPSILON`` on the same [0, 1] scale.
"""

import tensorflow as tf

PIXEL_RANGE = 255.0
# Floors the MSE so that a perfect reconstruction gives a large finite PSNR, not inf.
_MIN_MSE = 1e-10
# A thousandth of the pixel range (a quarter of an 8-bit level): below it the Charbonnier loss is
# quadratic, so its gradient stays smooth at a perfect pixel; above it, it is L1.
CHARBONNIER_EPSILON = 1e-3


def _per_example_mean(per_pixel_loss, prediction, target):
    """``per_pixel_loss`` of the difference on the [0, 1] scale, averaged per clip: shape (B,)."""
    diff = (tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32)) / PIXEL_RANGE
    return tf.reduce_mean(tf.reshape(per_pixel_loss(diff), [tf.shape(diff)[0], -1]), axis=1)


def per_example_l2(prediction, target):
    """Mean squared error per clip, shape (B,), on the [0, 1] scale."""
    return _per_example_mean(tf.square, prediction, target)


def per_example_charbonnier(prediction, target):
    """Mean Charbonnier loss √(d² + ε²) per clip, shape (B,), on the [0, 1] scale."""
    return _per_example_mean(lambda d: tf.sqrt(tf.square(d) + CHARBONNIER_EPSILON ** 2),
                             prediction, target)


RECONSTRUCTION_LOSSES = {"l2": per_example_l2, "charbonnier": per_example_charbonnier}


def per_example_psnr(prediction, target):
    """PSNR in dB per clip, shape (B,), with the prediction clipped to [0, 255] (RGB, no crop)."""
    prediction = tf.clip_by_value(tf.cast(prediction, tf.float32), 0.0, PIXEL_RANGE)
    mse = tf.maximum(per_example_l2(prediction, target), _MIN_MSE)
    return -10.0 * tf.math.log(mse) / tf.math.log(10.0)
