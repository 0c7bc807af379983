"""What the numbers were measured on: CPU model, GPU names (from tf.config), versions.

The benchmarks (`vsr_latent.perf`, ``benchmarks/``) and the paper's tables and projections
(`vsr_latent.paper`) all record it, so it sits on the package's bottom floor.
"""

import os
import platform

import keras
import tensorflow as tf

from vsr_latent.cpu_backend import cpu_flags, cpuinfo_value, onednn_enabled


def cpu_model():
    return cpuinfo_value("model name") or platform.processor() or platform.machine() or "unknown CPU"


def gpu_names():
    """Names of the GPUs TensorFlow sees (``tf.config``), e.g. ``["NVIDIA H100 80GB HBM3"]``."""
    names = []
    for dev in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(dev)
        except Exception:  # noqa: BLE001 - details are best effort, the device itself is known
            details = {}
        names.append(details.get("device_name") or dev.name)
    return names


#: CPU features that change this package's speed by a large factor (see docs/cpu_scale.md).
SPEED_FLAGS = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")


def cpu_speed_flags():
    """Which of `SPEED_FLAGS` the CPU has, in that order (empty where /proc/cpuinfo is unreadable)."""
    return [flag for flag in SPEED_FLAGS if flag in cpu_flags()]


def describe():
    """A dict: ``cpu``, ``cores``, ``cpu_flags`` (`cpu_speed_flags`), ``onednn`` (TensorFlow's
    oneDNN kernels on), ``gpus`` (list), ``tensorflow``, ``keras``, ``python``."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cpu_flags": cpu_speed_flags(),
        "onednn": onednn_enabled(),
        "gpus": gpu_names(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }


def summary(info):
    gpus = ", ".join(info["gpus"]) if info["gpus"] else "none (CPU only)"
    cpu = f"{info['cores']} cores"
    if info.get("cpu_flags"):
        cpu += ", " + " ".join(info["cpu_flags"])
    if info.get("onednn") is not None:  # absent from results written before it was recorded
        cpu += ", oneDNN " + ("on" if info["onednn"] else "off")
    return (f"CPU: {info['cpu']} ({cpu}); GPU: {gpus}; "
            f"TensorFlow {info['tensorflow']}, Keras {info['keras']}, Python {info['python']}")
