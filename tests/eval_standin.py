"""A tiny stand-in with the VSRNet call contract (api.md section A), for the evaluation tests.

It has a temporal 3-D convolution, so zero-padding a chunk changes the outputs of the real frames
next to the padding (which is what the chunking tests need to see), optional external key frames
and an optional sampled (variational) path.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="vsr_latent_tests")
class StandInVSR(keras.Model):
    """Conv3D features -> conv to 48 channels -> depth-to-space x4, plus a nearest-upsampled input."""

    def __init__(self, seq_len=3, filters=4, variational=False, **kwargs):
        kwargs.pop("sampling", None)  # files saved while the mode was stored state
        super().__init__(**kwargs)
        self.seq_len = seq_len
        self.scale = 4
        self.filters = filters
        self.variational = variational
        self.features = keras.layers.Conv3D(filters, 3, padding="same", activation="tanh")
        self.head = keras.layers.Conv3D(48, (1, 3, 3), padding="same",
                                        kernel_initializer=keras.initializers.RandomNormal(0, 0.5))
        self.sigma = keras.layers.Conv3D(filters, 1, activation="softplus") if variational else None
        self.seed_generator = keras.random.SeedGenerator(1)
        self(tf.zeros((1, seq_len, 6, 6, 3)))

    def call(self, inputs, training=False, sampling=False):
        if isinstance(inputs, dict):
            x = inputs["frames"]
            xx = tf.concat([x, inputs["key_frames"]], axis=1)
        else:
            x = xx = inputs
        f = self.features(xx / 127.5 - 1.0)
        if self.variational:
            sigma = self.sigma(f)
            if sampling:
                f = f + sigma * keras.random.normal(tf.shape(f), seed=self.seed_generator)
        shape = tf.shape(x)
        b, t, h, w = shape[0], shape[1], shape[2], shape[3]
        y = self.head(f)[:, :t]
        y = tf.nn.depth_to_space(tf.reshape(y, (-1, h, w, 48)), 4)
        y = tf.reshape(y, (b, t, 4 * h, 4 * w, 3))
        up = tf.repeat(tf.repeat(x, 4, axis=2), 4, axis=3)
        return up + 40.0 * y

    def get_config(self):
        config = super().get_config()
        config.update(seq_len=self.seq_len, filters=self.filters, variational=self.variational)
        return config
