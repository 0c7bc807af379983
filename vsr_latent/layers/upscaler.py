"""Spatial upscaler: convolution to r^2 C channels, then depth-to-space per frame."""

import keras
from keras import ops

from vsr_latent.architecture import UPSCALER_INIT_SCALE


@keras.saving.register_keras_serializable(package="vsr_latent")
class DepthToSpaceUpscaler(keras.layers.Layer):
    """Spatial upscaler (paper §4.3 eqs. 18-21).

    A linear 3-D convolution k3 maps (B, L, H, W, F) to ``scale**2 * out_channels`` channels,
    then depth-to-space by ``scale`` per frame gives (B, L, rH, rW, out_channels).

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
            dtype=self.dtype_policy,
            kernel_initializer=keras.initializers.VarianceScaling(
                scale=self.init_scale, mode="fan_avg", distribution="uniform"))
        self.conv.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        b, n, h, w, _ = ops.shape(inputs)
        r, c = self.scale, self.out_channels
        # Depth-to-space (``tf.nn.depth_to_space``'s order, which Keras has no op for): channel
        # ``(i * r + j) * C + c`` of pixel (y, x) goes to pixel (r y + i, r x + j), channel c.
        y = ops.reshape(self.conv(inputs), (b, n, h, w, r, r, c))
        y = ops.transpose(y, (0, 1, 2, 4, 3, 5, 6))
        return ops.reshape(y, (b, n, h * r, w * r, c))

    def compute_output_shape(self, input_shape):
        b, n, h, w, _ = input_shape
        up = lambda d: None if d is None else d * self.scale  # noqa: E731
        return (b, n, up(h), up(w), self.out_channels)

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale, out_channels=self.out_channels, init_scale=self.init_scale)
        return config
