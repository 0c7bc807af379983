"""Short (masked) attention: a local spatio-temporal mask applied to a value embedding."""

import keras
from keras import ops

from vsr_latent.architecture import LEAKY_SLOPE
from vsr_latent.layers.shapes import (
    crop_spatial,
    fold_time,
    pad_spatial,
    pool_spatial,
    unfold_time,
)
from vsr_latent.layers.variational import VariationalHead


@keras.saving.register_keras_serializable(package="vsr_latent")
class ShortAttention(keras.layers.Layer):
    """Masked short attention block (paper §4.2 eqs. 12-14, Fig. 3), optionally variational.

    ``v = w_x x`` and ``q = w_y x`` (linear 1x1 embeddings; the query clip is ``x`` itself,
    §4.3) are concatenated across channels; the mask network runs two bottom-up stages
    ``LeakyReLU(Conv3D_k3) -> max pool k2 s2 (space only)`` then two top-down transposed
    convolutions k4 s2 (per frame; the first with LeakyReLU, the last linear), giving mask logits
    ``m`` at full resolution. One block sees a 5x5x5 neighbourhood at the pooled scales.
    Variational: ``z = mu(m) (+ eps sigma(m))``; otherwise ``z = m``. Output:
    ``x + sigmoid(z) * v`` (mask activation: sigmoid, GAP decision after [14]).

    With every parameter zero ``v = 0`` and the block is the identity (plug and play), in both
    variational modes. Frames are zero-padded to a multiple of 4 inside and cropped back.

    Args:
        filters: channels of the input, the embeddings, the mask network and the output.
        variational: add the mean/variance heads on the mask logits (``call(..., sampling=True)``
            draws from them).
        leaky_slope: LeakyReLU slope.
    """

    def __init__(self, filters, variational=False, leaky_slope=LEAKY_SLOPE, **kwargs):
        # Files saved before the mode became a call argument carry ``sampling`` in the config.
        kwargs.pop("sampling", None)
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.variational = bool(variational)
        self.leaky_slope = float(leaky_slope)

    def build(self, input_shape):
        c = self.filters
        shape5 = (None, None, None, None, c)
        dtype = self.dtype_policy
        self.value_embed = keras.layers.Dense(c, name="value_embed", dtype=dtype)
        self.query_embed = keras.layers.Dense(c, name="query_embed", dtype=dtype)
        self.value_embed.build(shape5)
        self.query_embed.build(shape5)
        self.down1 = keras.layers.Conv3D(c, 3, padding="same", name="down1", dtype=dtype)
        self.down1.build((None, None, None, None, 2 * c))
        self.down2 = keras.layers.Conv3D(c, 3, padding="same", name="down2", dtype=dtype)
        self.down2.build(shape5)
        self.up1 = keras.layers.Conv2DTranspose(c, 4, strides=2, padding="same", name="up1",
                                                dtype=dtype)
        self.up2 = keras.layers.Conv2DTranspose(c, 4, strides=2, padding="same", name="up2",
                                                dtype=dtype)
        self.up1.build((None, None, None, c))
        self.up2.build((None, None, None, c))
        if self.variational:
            self.head = VariationalHead(c, name="head", dtype=dtype)
            self.head.build(shape5)
        self.built = True

    def call(self, inputs, training=None, sampling=False, return_attention=False):
        x = inputs
        batch, frames, height, width = ops.shape(x)[:4]
        xp = pad_spatial(x)
        v = self.value_embed(xp)
        m = ops.concatenate([v, self.query_embed(xp)], axis=-1)
        slope = self.leaky_slope
        m = pool_spatial(ops.leaky_relu(self.down1(m), negative_slope=slope))
        m = pool_spatial(ops.leaky_relu(self.down2(m), negative_slope=slope))
        m = ops.leaky_relu(self.up1(fold_time(m)), negative_slope=slope)
        m = unfold_time(self.up2(m), batch, frames)
        if self.variational:
            z, _, sigma = self.head(m, sampling=sampling)
        else:
            z, sigma = m, None
        mask = ops.sigmoid(z)
        out = x + crop_spatial(mask * v, height, width)
        if return_attention:
            info = {"z": crop_spatial(z, height, width), "mask": crop_spatial(mask, height, width)}
            if sigma is not None:
                info["variance"] = crop_spatial(ops.square(sigma), height, width)
            return out, info
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, variational=self.variational,
                      leaky_slope=self.leaky_slope)
        return config
