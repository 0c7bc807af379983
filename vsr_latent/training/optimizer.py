"""The optimiser of Algorithm 1: Adam on gradients the step has already summed over the replicas,
with the learning-rate schedule of the config and, for ``mixed_float16``, Keras' dynamic loss
scaling around it (the scale lives in the optimiser, so the checkpoint carries it)."""

import keras

# Keras' defaults for dynamic loss scaling (mixed_float16): start high, halve on overflow,
# double after this many steps without one.
INITIAL_LOSS_SCALE = 2.0**15
LOSS_SCALE_GROWTH_STEPS = 2_000


class _SummedGradientAdam(keras.optimizers.Adam):
    """Adam that takes gradients already summed over the replicas.

    Keras' optimiser all-reduces inside ``apply_gradients``; the step must clip the summed
    gradient by its global norm first, so it does the all-reduce itself and this subclass skips
    the second one.
    """

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return list(grads_and_vars)


def learning_rate_schedule(opt_config, total_steps):
    """The learning rate as a function of the optimiser's step: a constant or warm-up + cosine.

    Cosine: linear warm-up from 0 to ``learning_rate`` over ``warmup_steps``, then a cosine decay
    to ``min_learning_rate`` at ``total_steps``.
    """
    if opt_config.schedule == "constant":
        return opt_config.learning_rate
    decay_steps = max(1, total_steps - opt_config.warmup_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if opt_config.warmup_steps else opt_config.learning_rate,
        decay_steps=decay_steps,
        alpha=opt_config.min_learning_rate / opt_config.learning_rate,
        warmup_target=opt_config.learning_rate if opt_config.warmup_steps else None,
        warmup_steps=opt_config.warmup_steps,
    )


def make_optimizer(opt_config, total_steps=1, loss_scaling=False):
    """Adam on summed gradients; with ``loss_scaling`` inside Keras' dynamic
    `LossScaleOptimizer` (float16 training)."""
    adam = _SummedGradientAdam(
        learning_rate=learning_rate_schedule(opt_config, total_steps),
        beta_1=opt_config.beta_1,
        beta_2=opt_config.beta_2,
        epsilon=opt_config.epsilon,
        name="adam",
    )
    if not loss_scaling:
        return adam
    return keras.optimizers.LossScaleOptimizer(
        adam, initial_scale=INITIAL_LOSS_SCALE,
        dynamic_growth_steps=LOSS_SCALE_GROWTH_STEPS, name="loss_scale")
