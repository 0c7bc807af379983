"""Shape helpers shared by the layers: per-frame folding and padding to a multiple.

Every attention block pools twice by 2 in space, so frames are padded with zeros to a multiple of
4 inside the block and cropped back afterwards: any frame size works.
"""

import tensorflow as tf

# The attention blocks pool twice (k2 s2) in space: frames are padded to this multiple inside them.
SPATIAL_MULTIPLE = 4


def fold_time(x):
    """(B, L, H, W, C) -> (B*L, H, W, C), so 2-D per-frame ops apply to every frame."""
    shape = tf.shape(x)
    return tf.reshape(x, tf.concat([[shape[0] * shape[1]], shape[2:]], axis=0))


def unfold_time(x, batch, frames):
    """(B*L, H, W, C) -> (B, L, H, W, C)."""
    shape = tf.shape(x)
    return tf.reshape(x, tf.concat([[batch, frames], shape[1:]], axis=0))


def pad_spatial(x, multiple=SPATIAL_MULTIPLE):
    """Zero-pads H and W of a (B, L, H, W, C) tensor at the bottom/right to a multiple.

    Built from ``tf.concat`` with zeros rather than ``tf.pad``: with static shapes, TensorFlow
    2.21's oneDNN graph rewrite fuses a constant ``Pad`` into the following ``Conv3D`` and gets
    the output shape wrong (reshape errors inside ``tf.function``).
    """
    shape = tf.shape(x)
    ph = (multiple - shape[2] % multiple) % multiple
    pw = (multiple - shape[3] % multiple) % multiple
    x = tf.concat([x, tf.zeros(tf.stack([shape[0], shape[1], ph, shape[3], shape[4]]), x.dtype)], 2)
    shape = tf.shape(x)
    return tf.concat(
        [x, tf.zeros(tf.stack([shape[0], shape[1], shape[2], pw, shape[4]]), x.dtype)], 3)


def crop_spatial(x, height, width):
    return x[:, :, :height, :width, :]


def pool_spatial(x):
    """Max pooling k2 s2 over H and W only (time is not pooled: GAP decision, see SPEC)."""
    b, n = tf.shape(x)[0], tf.shape(x)[1]
    y = tf.nn.max_pool2d(fold_time(x), ksize=2, strides=2, padding="VALID")
    return unfold_time(y, b, n)
