"""TensorFlow's op determinism for a run: the config's ``deterministic`` (``DEFAULT_DETERMINISTIC``).

What it is for. On the CPU this package is developed on, two runs of one config and seed end with
bitwise-equal weights without it, and so does a run killed and resumed (`tests/test_exact_resume.py`);
what moves a run's numbers from one machine to another is which kernels the CPU's instruction set
selects (AVX-512 or AVX2 oneDNN kernels sum in other orders), and op determinism does not change
that (docs/reproducibility.md measures both). On GPUs, several kernels are nondeterministic by
default: cuDNN's fastest convolution algorithms and bias gradients, and ops that add with atomics
(segment sums, scatter-adds, some image-resize gradients). With ``deterministic=True`` TensorFlow
selects deterministic kernels where it has them and raises for an op that has none
(`vsr_latent.perf.gpu_determinism` lists those; the GPU readiness test checks that the real
training step uses none of them).

TensorFlow's promise (``tf.config.experimental.enable_op_determinism``): with it on, the same
program on the same inputs, hardware and software gives the same outputs; it says nothing across
GPU models, driver or library versions, or across instruction sets. Random ops must be seeded
(``keras.utils.set_random_seed`` is called for every run) and tf.data runs its transformations
in order.

The setting is process-wide in TensorFlow; each run sets it at its start, so runs trained one
after another in one process (the paper runner's tables) each get their own config's setting.
"""

import tensorflow as tf
from tensorflow.python.framework import config as tf_framework_config


def set_op_determinism(enabled):
    """Turns TensorFlow's op determinism on or off for this process (``enabled``: the run's
    ``deterministic``); returns whether it was on before."""
    was = tf_framework_config.is_op_determinism_enabled()
    if enabled:
        tf.config.experimental.enable_op_determinism()
    else:
        # TensorFlow's public API can only turn it on; a run with deterministic=False after one
        # with True in the same process must not inherit it.
        tf_framework_config.disable_op_determinism()
    return was


def op_determinism_enabled():
    """Whether TensorFlow's op determinism is on in this process."""
    return tf_framework_config.is_op_determinism_enabled()
