"""The feature extractor's unit: a 3-D convolution (k3 s1) with LeakyReLU and a residual join."""

import keras
from keras import ops

from vsr_latent.architecture import LEAKY_SLOPE, RESIDUAL_INIT_SCALE


@keras.saving.register_keras_serializable(package="vsr_latent")
class ResidualConvBlock3D(keras.layers.Layer):
    """One residual layer of the feature extractor (paper §4.3, eq. 15, Fig. 4).

    ``F(x) = LeakyReLU(Conv3D_k3(x))`` and the output is ``skip + F(x)`` where ``skip`` defaults
    to ``x``. An attention block ``A`` attached to this layer passes ``skip=A(x)``, which gives the
    paper's join ``O = A(x) + F(x)`` (eqs. 16-17); since ``A`` is the identity when all its
    parameters are zero, attaching a fresh-zero block leaves the network unchanged.

    GAP decision: one convolution per residual unit (block grouping of Fig. 4 is lost), LeakyReLU
    slope ``LEAKY_SLOPE`` = 0.2.

    Args:
        filters: output channels; must equal the input channels (residual join).
        leaky_slope: negative slope of the LeakyReLU.
        init_scale: variance-scaling factor of the convolution's initial kernel
            (``RESIDUAL_INIT_SCALE``; 1.0 is Glorot uniform).
    """

    def __init__(self, filters, leaky_slope=LEAKY_SLOPE, init_scale=RESIDUAL_INIT_SCALE,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.leaky_slope = float(leaky_slope)
        self.init_scale = float(init_scale)

    def build(self, input_shape):
        self.conv = keras.layers.Conv3D(
            self.filters, 3, padding="same", name="conv", dtype=self.dtype_policy,
            kernel_initializer=keras.initializers.VarianceScaling(
                scale=self.init_scale, mode="fan_avg", distribution="uniform"))
        self.conv.build(input_shape)
        self.built = True

    def branch(self, x):
        """The residual branch ``F(x)``."""
        return ops.leaky_relu(self.conv(x), negative_slope=self.leaky_slope)

    def call(self, inputs, skip=None, training=None):
        return (inputs if skip is None else skip) + self.branch(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, leaky_slope=self.leaky_slope,
                      init_scale=self.init_scale)
        return config
