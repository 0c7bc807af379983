"""The two-head (mean / variance) latent layer every variational attention block ends with."""

import keras
from keras import ops

# GAP (SPEC §Variational): sigma = softplus(pre-activation); the variance head's bias starts here,
# so a fresh stage-2 model samples with a small spread (softplus(-4) ~ 0.018).
SIGMA_BIAS_INIT = -4.0


@keras.saving.register_keras_serializable(package="vsr_latent")
class VariationalHead(keras.layers.Layer):
    """Mean and variance heads of the latent attention (paper §4.1, §4.3 Fig. 5, §5).

    Given the block's latent attention features ``a`` it returns ``(z, mu, sigma)`` with
    ``mu = W_mu a + b_mu`` and ``sigma = softplus(W_s a + b_s)`` (two parallel linear 1x1 layers
    sharing everything before them) and ``z = mu`` (``sampling=False``: training stage 1 and
    default inference) or ``z = mu + eps * sigma``, ``eps ~ N(0, 1)`` (``sampling=True``: stage 2).

    The mode is an argument of each call, a Python bool: a traced function (``tf.function``,
    ``jax.jit``) is traced once per mode, and no state says which mode a layer is in. ``eps`` is
    drawn from the layer's ``keras.random.SeedGenerator`` (seeded by ``seed``), so sampling works
    inside compiled functions of every backend.

    The mean head starts as the identity and the variance head at ``softplus(SIGMA_BIAS_INIT)``.

    Args:
        units: channels of ``a`` (and of ``z``).
        seed: seed of the noise draws (None: a random one).
    """

    def __init__(self, units, seed=None, **kwargs):
        # Files saved before the mode became a call argument carry ``sampling`` in the config.
        kwargs.pop("sampling", None)
        super().__init__(**kwargs)
        self.units = int(units)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")

    def build(self, input_shape):
        self.mean_dense = keras.layers.Dense(
            self.units, kernel_initializer="identity", name="mean", dtype=self.dtype_policy)
        self.sigma_dense = keras.layers.Dense(
            self.units, kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(SIGMA_BIAS_INIT), name="sigma",
            dtype=self.dtype_policy)
        self.mean_dense.build(input_shape)
        self.sigma_dense.build(input_shape)
        self.built = True

    def call(self, inputs, sampling=False, training=None):
        mu = self.mean_dense(inputs)
        sigma = ops.softplus(self.sigma_dense(inputs))
        if not sampling:
            return mu, mu, sigma
        eps = keras.random.normal(ops.shape(mu), dtype=mu.dtype, seed=self.seed_generator)
        return mu + eps * sigma, mu, sigma

    def load_own_variables(self, store):
        # A .keras file written while the mode was a weight holds it (``sampling_flag``, the
        # layer's one own variable); the mode is now a call argument, so it is dropped.
        if len(store.keys()) == 1 and not self._trainable_variables + self._non_trainable_variables:
            return
        super().load_own_variables(store)

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape),) * 3

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, seed=self.seed)
        return config
