"""Spatial upscaler: convolution to r^2 C channels, then depth-to-space per frame."""

import keras
import tensorflow as tf

from vsr_latent.layers._shapes import fold_time, unfold_time

# Why: the residual extractor has no normalisation, so features grow with depth; with a standard
# (Glorot, scale 1) final convolution a fresh full-size model's output is thousands of levels
# away from its bicubic skip and training starts near 5 dB. A small scale (variance scaling,
# fan-avg) starts every model within a few levels of bicubic (EDSR-style residual scaling)
# while keeping every path's contribution non-zero.
UPSCALER_INIT_SCALE = 1e-6


@keras.saving.register_keras_serializable(package="vsr_latent")
class DepthToSpaceUpscaler(keras.layers.Layer):
    """Spatial upscaler (paper §4.3 eqs. 18-21).

    A linear 3-D convolution k3 maps (B, L, H, W, F) to ``scale**2 * out_channels`` channels,
    then ``tf.nn.depth_to_space`` by ``scale`` per frame gives (B, L, rH, rW, out_channels).

    Args:
        scale: upscaling factor r (4 in the paper).
        out_channels: C of the output (3: RGB).
        init_scale: variance-scaling factor of the convolution's initial kernel
            (``UPSCALER_INIT_SCALE``; 1.0 is Glorot uniform).
    """

    def __init__(self, scale=4, out_channels=3, init_scale=UPSCALER_INIT_SCALE, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)
        self.out_channels = int(out_channels)
        self.init_scale = float(init_scale)

    def build(self, input_shape):
        self.conv = keras.layers.Conv3D(
            self.scale**2 * self.out_channels, 3, padding="same", name="conv",
            kernel_initializer=keras.initializers.VarianceScaling(
                scale=self.init_scale, mode="fan_avg", distribution="uniform"))
        self.conv.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        batch, frames = tf.shape(inputs)[0], tf.shape(inputs)[1]
        y = tf.nn.depth_to_space(fold_time(self.conv(inputs)), self.scale)
        return unfold_time(y, batch, frames)

    def compute_output_shape(self, input_shape):
        b, n, h, w, _ = input_shape
        up = lambda d: None if d is None else d * self.scale  # noqa: E731
        return (b, n, up(h), up(w), self.out_channels)

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale, out_channels=self.out_channels, init_scale=self.init_scale)
        return config
