"""TensorFlow transforms of the tf.data pipelines (usable eagerly and inside ``Dataset.map``).

Randomness is stateless: every draw is a function of a (2,) int seed tensor, so a pipeline seeded
with the same number yields the same samples whatever its parallelism.
"""

import tensorflow as tf

# Augmentations, GAP (the paper names none), each drawn with probability 1/2 and the same for
# every frame of a sample: "hflip" (left-right), "reverse" (time), "vflip" (up-down) and
# "transpose" (swap H and W; square crops only). With all four a sample is one of the 8
# dihedral symmetries of the square, forwards or backwards in time. The default keeps the
# first two: camera footage has a natural "up"; the others are opt-in (``data.augmentation``).
# The names (AUGMENTATIONS), the default and their check are the configs'
# (`vsr_latent.configs.base`): one list for config checks and the pipeline.
from vsr_latent.configs.base import DEFAULT_AUGMENTATION
from vsr_latent.data.degrade import tf_degrade


def draw_sample_params(seed, num_frames, size, seq_len, crop):
    """Start frame, crop corner and augmentation coins for one sample, from a (2,) seed.

    ``num_frames`` and ``size`` (H, W) are the clip's; ``crop`` is the HR crop (sH, sW). Start and
    corner are uniform over every valid position.
    """
    seed64 = tf.cast(seed, tf.int64)
    seeds = tf.random.experimental.stateless_split(seed64, num=5)
    num_frames = tf.cast(num_frames, tf.int32)
    size = tf.cast(size, tf.int32)

    def uniform_int(s, n):  # uniform over 0..n-1
        return tf.random.stateless_uniform([], s, minval=0, maxval=n, dtype=tf.int32)

    start = uniform_int(seeds[0], num_frames - seq_len + 1)
    top = uniform_int(seeds[1], size[0] - crop[0] + 1)
    left = uniform_int(seeds[2], size[1] - crop[1] + 1)
    flip = tf.random.stateless_uniform([], seeds[3]) < 0.5
    reverse = tf.random.stateless_uniform([], seeds[4]) < 0.5
    # Folded in rather than split off with the others, so that adding these coins left every
    # earlier draw (start, corner, hflip, reverse) of a seed unchanged.
    vflip = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(seed64, 5)) < 0.5
    transpose = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(seed64, 6)) < 0.5
    return {"start": start, "top": top, "left": left, "hflip": flip, "reverse": reverse,
            "vflip": vflip, "transpose": transpose}


def augment(frames, params, augmentations=DEFAULT_AUGMENTATION):
    """Applies the drawn flips to (L, H, W, C) frames (one decision for the whole sample).

    ``transpose`` needs square frames (H == W): a training batch stacks samples of one shape.
    """
    if "transpose" in augmentations:
        if frames.shape[1] is None or frames.shape[1] != frames.shape[2]:
            raise ValueError(f"the 'transpose' augmentation needs square crops, got frames of shape {frames.shape}")
        frames = tf.cond(params["transpose"], lambda: tf.transpose(frames, [0, 2, 1, 3]), lambda: frames)
    if "vflip" in augmentations:
        frames = tf.cond(params["vflip"], lambda: tf.reverse(frames, axis=[1]), lambda: frames)
    if "hflip" in augmentations:
        frames = tf.cond(params["hflip"], lambda: tf.reverse(frames, axis=[2]), lambda: frames)
    if "reverse" in augmentations:
        frames = tf.cond(params["reverse"], lambda: tf.reverse(frames, axis=[0]), lambda: frames)
    return frames


def make_lr(hr, degradation, scale, quantize=True):
    """HR frames -> LR frames by ``degradation``; rounded and clipped to [0, 255] if ``quantize``
    (as stored 8-bit LR frames are), float32."""
    # uint8 frames go in as they are (the degradation casts once, to its own precision).
    lr = tf_degrade(hr if hr.dtype == tf.uint8 else tf.cast(hr, tf.float32), degradation, scale)
    if quantize:
        lr = tf.clip_by_value(tf.round(lr), 0.0, 255.0)
    return lr


def make_pair(frames, margin, degradation, scale, quantize=True):
    """(lr, hr) of ``frames`` (L, H, W, C) less ``margin`` LR pixels on every side: the whole
    ``frames`` are degraded (:func:`make_lr`), then the LR frames are cut by ``margin`` pixels
    and the HR frames by ``margin * scale``. With ``degrade.context_margin`` as ``margin`` each
    LR pixel is computed from the frame around it, not from the degradation's border padding;
    ``margin=0`` degrades the frames alone. Both float32.
    """
    lr = make_lr(frames, degradation, scale, quantize)
    hr = tf.cast(frames, tf.float32)
    if margin:
        m, ms = margin, margin * scale
        lr = lr[:, m:-m, m:-m, :]
        hr = hr[:, ms:-ms, ms:-ms, :]
    return lr, hr
