"""The two-head (mean / variance) latent layer every variational attention block ends with."""

import keras
import tensorflow as tf

# GAP (SPEC §Variational): sigma = softplus(pre-activation); the variance head's bias starts here,
# so a fresh stage-2 model samples with a small spread (softplus(-4) ~ 0.018).
SIGMA_BIAS_INIT = -4.0


@keras.saving.register_keras_serializable(package="vsr_latent")
class VariationalHead(keras.layers.Layer):
    """Mean and variance heads of the latent attention (paper §4.1, §4.3 Fig. 5, §5).

    Given the block's latent attention features ``a`` it returns ``(z, mu, sigma)`` with
    ``mu = W_mu a + b_mu`` and ``sigma = softplus(W_s a + b_s)`` (two parallel linear 1x1 layers
    sharing everything before them) and ``z = mu`` (deterministic, training stage 1 and default
    inference) or ``z = mu + eps * sigma``, ``eps ~ N(0, 1)`` (sampling, stage 2).

    The mode lives in a non-trainable scalar weight ``sampling_flag`` (0 or 1), read as a tensor
    at run time: switching ``layer.sampling`` on a built layer changes the behaviour of already
    traced ``tf.function``s and SavedModels too, and the mode is saved with the weights.

    The mean head starts as the identity and the variance head at ``softplus(SIGMA_BIAS_INIT)``.

    Args:
        units: channels of ``a`` (and of ``z``).
        sampling: initial mode.
    """

    def __init__(self, units, sampling=False, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self._sampling = bool(sampling)

    def build(self, input_shape):
        self.mean_dense = keras.layers.Dense(
            self.units, kernel_initializer="identity", name="mean")
        self.sigma_dense = keras.layers.Dense(
            self.units, kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(SIGMA_BIAS_INIT), name="sigma")
        self.mean_dense.build(input_shape)
        self.sigma_dense.build(input_shape)
        self.sampling_flag = self.add_weight(
            name="sampling_flag", shape=(), trainable=False,
            initializer=keras.initializers.Constant(1.0 if self._sampling else 0.0))
        self.built = True

    @property
    def sampling(self):
        """The mode, read from the flag weight when possible (it may have been restored from a
        checkpoint; TensorFlow's ``__setattr__`` skips the setter when the getter already
        returns the assigned value, so the getter must tell the truth)."""
        if self.built and tf.executing_eagerly():
            return bool(self.sampling_flag.numpy() > 0.5)
        return self._sampling

    @sampling.setter
    def sampling(self, value):
        self._sampling = bool(value)
        if self.built:
            self.sampling_flag.assign(1.0 if self._sampling else 0.0)

    def call(self, inputs, sampling=None, training=None):
        """``sampling=None`` follows the stored mode; True/False force one path for this call."""
        mu = self.mean_dense(inputs)
        sigma = tf.nn.softplus(self.sigma_dense(inputs))
        if sampling is False:
            return mu, mu, sigma
        if sampling is True:
            return mu + tf.random.normal(tf.shape(mu), dtype=mu.dtype) * sigma, mu, sigma
        flag = tf.cast(tf.convert_to_tensor(self.sampling_flag), mu.dtype)
        # Inference runs with the flag at 0: draw eps only when it is set (at full resolution the
        # normal draws cost about as much as the block's 1x1 layers). Same values either way:
        # mu + 0 * eps * sigma is mu.
        z = tf.cond(flag > 0,
                    lambda: mu + flag * tf.random.normal(tf.shape(mu), dtype=mu.dtype) * sigma,
                    lambda: tf.identity(mu))
        return z, mu, sigma

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape),) * 3

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, sampling=self.sampling)
        return config


class VariationalModeMixin:
    """``sampling`` of an attention block: its ``VariationalHead``'s mode once built.

    The block keeps ``variational``, ``_sampling`` (the mode before ``build``) and ``head``.
    """

    @property
    def sampling(self):
        if self.variational and self.built:
            return self.head.sampling
        return self._sampling

    @sampling.setter
    def sampling(self, value):
        self._sampling = bool(value)
        if self.variational and self.built:
            self.head.sampling = value
