"""What the numbers were measured on: CPU model, GPU names (from tf.config), versions."""

import os
import platform


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def gpu_names():
    """Names of the GPUs TensorFlow sees (``tf.config``), e.g. ``["NVIDIA H100 80GB HBM3"]``."""
    import tensorflow as tf

    names = []
    for dev in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(dev)
        except Exception:  # noqa: BLE001 - details are best effort, the device itself is known
            details = {}
        names.append(details.get("device_name") or dev.name)
    return names


def describe():
    """A dict: ``cpu``, ``cores``, ``gpus`` (list), ``tensorflow``, ``keras``, ``python``."""
    import keras
    import tensorflow as tf

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "gpus": gpu_names(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }


def summary(info):
    gpus = ", ".join(info["gpus"]) if info["gpus"] else "none (CPU only)"
    return (f"CPU: {info['cpu']} ({info['cores']} cores); GPU: {gpus}; "
            f"TensorFlow {info['tensorflow']}, Keras {info['keras']}, Python {info['python']}")
