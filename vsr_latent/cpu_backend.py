"""TensorFlow's oneDNN CPU kernels: on by default wherever the package runs on an x86 CPU.

TensorFlow turns its oneDNN kernels on by itself only on x86 CPUs with AVX512_VNNI, AVX512_BF16
or AMX; on other x86 CPUs (AVX2 only, such as AMD Zen 3) it falls back to its Eigen kernels. On a
2-core AMD EPYC with AVX2 and FMA only, a training step of `ours` (batch 4, 32×32 LR patches,
L = 7) took 10.2 s with the Eigen kernels and 4.7 s with oneDNN's (2.15× faster; one 72→72
3×3×3 convolution forward and backward: 452 vs 207 ms). So the package asks for oneDNN
(`DEFAULT_ONEDNN_OPTS`) unless the user has already set ``TF_ENABLE_ONEDNN_OPTS``: export
``TF_ENABLE_ONEDNN_OPTS=0`` to keep the Eigen kernels.

TensorFlow reads the variable once, when it is first imported, so :func:`prefer_onednn` runs in
the package's ``__init__`` (which imports no TensorFlow); a program that imports TensorFlow before
``vsr_latent`` keeps TensorFlow's own choice. :func:`onednn_enabled` says which one is in force.
:func:`cpuinfo_value` is the one reader of /proc/cpuinfo (bfloat16 inference, hardware lines).
"""

import functools
import os
import platform

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
#: The value the package gives ``TF_ENABLE_ONEDNN_OPTS`` when the user has not set it ("1": on).
DEFAULT_ONEDNN_OPTS = "1"
# oneDNN is an x86 library in TensorFlow's CPU builds; elsewhere TensorFlow's default stands.
_X86 = ("x86_64", "amd64", "i386", "i686", "x86")


def prefer_onednn(environ=None, machine=None):
    """Sets ``TF_ENABLE_ONEDNN_OPTS`` to `DEFAULT_ONEDNN_OPTS` on an x86 machine where it is unset;
    returns the value in force afterwards (None: unset, TensorFlow's default)."""
    environ = os.environ if environ is None else environ
    machine = (machine or platform.machine()).lower()
    if machine in _X86:
        environ.setdefault(ONEDNN_ENV, DEFAULT_ONEDNN_OPTS)
    return environ.get(ONEDNN_ENV)


def onednn_enabled():
    """True when the TensorFlow imported in this process runs its oneDNN CPU kernels (None where
    this TensorFlow does not say)."""
    import tensorflow as tf  # noqa: F401 - the flag is fixed when TensorFlow loads

    try:  # TensorFlow's own test utilities ask the same private module
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


@functools.lru_cache(maxsize=None)
def cpuinfo_value(key):
    """The first CPU's value of ``key`` in /proc/cpuinfo ("model name", "flags"; "" where it is
    absent or the file unreadable)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name.strip().lower() == key:
                    return value.strip()
    except OSError:
        pass
    return ""


def cpu_flags():
    """The CPU's feature flags (``{"avx2", "avx512_bf16", ...}``; empty where unknown)."""
    return frozenset(cpuinfo_value("flags").split())
