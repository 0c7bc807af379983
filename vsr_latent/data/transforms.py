"""TensorFlow transforms of the tf.data pipelines (usable eagerly and inside ``Dataset.map``).

Randomness is stateless: every draw is a function of a (2,) int seed tensor, so a pipeline seeded
with the same number yields the same samples whatever its parallelism.
"""

import tensorflow as tf

from vsr_latent.data.degrade import tf_degrade

#: Augmentations, GAP (the paper names none): random horizontal flip and random temporal reversal,
#: each with probability 1/2, the same for every frame of a sample. No vertical flips or
#: rotations: camera footage has a natural "up" and the HD sources are landscape.
AUGMENTATIONS = ("hflip", "reverse")
DEFAULT_AUGMENT = ("hflip", "reverse")


def draw_sample_params(seed, num_frames, size, seq_len, crop):
    """Start frame, crop corner and augmentation coins for one sample, from a (2,) seed.

    ``num_frames`` and ``size`` (H, W) are the clip's; ``crop`` is the HR crop (sH, sW). Start and
    corner are uniform over every valid position.
    """
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=5)
    num_frames = tf.cast(num_frames, tf.int32)
    size = tf.cast(size, tf.int32)

    def uniform_int(s, n):  # uniform over 0..n-1
        return tf.random.stateless_uniform([], s, minval=0, maxval=n, dtype=tf.int32)

    start = uniform_int(seeds[0], num_frames - seq_len + 1)
    top = uniform_int(seeds[1], size[0] - crop[0] + 1)
    left = uniform_int(seeds[2], size[1] - crop[1] + 1)
    flip = tf.random.stateless_uniform([], seeds[3]) < 0.5
    reverse = tf.random.stateless_uniform([], seeds[4]) < 0.5
    return {"start": start, "top": top, "left": left, "hflip": flip, "reverse": reverse}


def augment(frames, params, augmentations=DEFAULT_AUGMENT):
    """Applies the drawn flips to (L, H, W, C) frames (one decision for the whole sample)."""
    if "hflip" in augmentations:
        frames = tf.cond(params["hflip"], lambda: tf.reverse(frames, axis=[2]), lambda: frames)
    if "reverse" in augmentations:
        frames = tf.cond(params["reverse"], lambda: tf.reverse(frames, axis=[0]), lambda: frames)
    return frames


def make_lr(hr, degradation, scale, quantize=True):
    """HR frames -> LR frames by ``degradation``; rounded and clipped to [0, 255] if ``quantize``
    (as stored 8-bit LR frames are), float32."""
    lr = tf_degrade(tf.cast(hr, tf.float32), degradation, scale)
    if quantize:
        lr = tf.clip_by_value(tf.round(lr), 0.0, 255.0)
    return lr
