"""Which `tf.distribute` strategy a run uses when the caller does not pass one."""

import json
import os

import tensorflow as tf


def default_strategy():
    """MultiWorkerMirrored when TF_CONFIG is set, Mirrored over several GPUs, else one device.

    Training uses a custom loop (``strategy.run``), not ``keras.Model.fit``: under
    MultiWorkerMirroredStrategy Keras 3's fit fails with a PerReplica-to-Tensor conversion error.
    """
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    if len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy(gpus[0].name)
    return tf.distribute.get_strategy()


def worker_info(strategy):
    """(is_chief, task_id) of this process; a single-process run is the chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not os.environ.get("TF_CONFIG"):
        return True, 0
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None:
        return True, 0
    cluster = json.loads(os.environ["TF_CONFIG"]).get("cluster", {})
    if "chief" in cluster:
        return task_type == "chief", task_id
    return task_type == "worker" and task_id == 0, task_id
