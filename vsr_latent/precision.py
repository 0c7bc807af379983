"""Compute precision of a model: Keras dtype policies, applied while the model is built.

A Keras layer fixes its dtype policy when it is constructed, so a model built inside
:func:`dtype_policy` computes in that precision for its whole life while its weights stay float32
(``mixed_*`` policies). The global policy is restored afterwards, so building one bfloat16 model
does not change models built later in the same process.
"""

import contextlib

from vsr_latent.cpu_backend import cpu_flags
from vsr_latent.errors import ConfigError

#: Every dtype policy the network builds, trains in (mixed_float16 with Keras' dynamic loss
#: scaling, vsr_latent/training/trainer.py) and is tested under (tests/layer_test_helper.py).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
#: What inference runs in unless told: "auto" is bfloat16 on CPUs with native bfloat16 (see
#: :func:`resolve_precision`), where `ours_cpu` scores the same Vid4 PSNR as in float32.
INFERENCE_PRECISIONS = ("auto",) + PRECISIONS[:2]  # a CPU has no fast float16 kernels
DEFAULT_INFERENCE_PRECISION = "auto"
#: The --precision help of every command that runs a Keras model.
INFERENCE_PRECISION_HELP = (
    "compute precision of a Keras model: auto (bfloat16 on a CPU with native bfloat16 and no GPU, "
    "else float32), float32 or mixed_bfloat16 (default auto)")


def check_precision(name, allowed=PRECISIONS):
    if name not in allowed:
        raise ConfigError(f"unknown precision {name!r}; choose one of {', '.join(allowed)}")
    return name


@contextlib.contextmanager
def dtype_policy(name):
    """Builds layers under the Keras dtype policy ``name`` ("float32", "mixed_bfloat16", ...)."""
    import keras

    check_precision(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def resolve_precision(name):
    """``"auto"`` -> ``"mixed_bfloat16"`` on a CPU-only machine with native bfloat16, else
    ``"float32"``; any other name is checked and returned."""
    if name != "auto":
        return check_precision(name)
    if not native_bfloat16():
        return "float32"
    import tensorflow as tf

    return "float32" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


def native_bfloat16():
    """True where the CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
