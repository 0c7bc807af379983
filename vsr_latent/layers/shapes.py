"""Shape helpers shared by the layers: per-frame folding and padding to a multiple.

Every attention block pools twice by 2 in space, so frames are padded with zeros to a multiple of
4 inside the block and cropped back afterwards: any frame size works.

All in ``keras.ops``: a dimension is a Python int where the backend knows it (always under JAX
and PyTorch, which trace with concrete shapes) and a scalar tensor where it does not (TensorFlow
graphs with unknown frame sizes), and every helper accepts both.
"""

from keras import ops

# The attention blocks pool twice (k2 s2) in space: frames are padded to this multiple inside them.
SPATIAL_MULTIPLE = 4


def fold_time(x):
    """(B, L, H, W, C) -> (B*L, H, W, C), so 2-D per-frame ops apply to every frame."""
    shape = ops.shape(x)
    return ops.reshape(x, (-1,) + tuple(shape[2:]))


def unfold_time(x, batch, frames):
    """(B*L, H, W, C) -> (B, L, H, W, C)."""
    shape = ops.shape(x)
    return ops.reshape(x, (batch, frames) + tuple(shape[1:]))


def pad_spatial(x, multiple=SPATIAL_MULTIPLE):
    """Zero-pads H and W of a (B, L, H, W, C) tensor at the bottom/right to a multiple.

    Built from a concatenation with zeros rather than ``ops.pad``: with static shapes,
    TensorFlow 2.21's oneDNN graph rewrite fuses a constant ``Pad`` into the following ``Conv3D``
    and gets the output shape wrong (reshape errors inside ``tf.function``).
    """
    b, n, h, w, c = ops.shape(x)
    ph = (multiple - h % multiple) % multiple
    pw = (multiple - w % multiple) % multiple
    if not (isinstance(ph, int) and ph == 0):
        x = ops.concatenate([x, ops.zeros((b, n, ph, w, c), x.dtype)], axis=2)
    if not (isinstance(pw, int) and pw == 0):
        h = ops.shape(x)[2]
        x = ops.concatenate([x, ops.zeros((b, n, h, pw, c), x.dtype)], axis=3)
    return x


def crop_spatial(x, height, width):
    return x[:, :, :height, :width, :]


def pool_spatial(x):
    """Max pooling k2 s2 over H and W only (time is not pooled: GAP decision, see SPEC)."""
    b, n = ops.shape(x)[0], ops.shape(x)[1]
    y = ops.max_pool(fold_time(x), pool_size=2, strides=2, padding="valid",
                     data_format="channels_last")
    return unfold_time(y, b, n)
