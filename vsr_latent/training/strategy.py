"""Which `tf.distribute` strategy a run uses when the caller does not pass one."""

import json
import os

import tensorflow as tf

# A collective (all-reduce) that waits longer than this for its peers fails with
# DeadlineExceededError instead of hanging: the guard for a peer that is alive but stuck. It must
# exceed the longest legitimate wait of one worker for another (the chief writing a checkpoint or
# image summaries, the first step's tracing), hence minutes, not seconds. A peer that is gone (its
# process killed, its machine down) is caught sooner: a reset connection fails the next
# collective at once, and MultiWorkerMirroredStrategy's peer health checks (every 30 s, 3 tries of
# 10 s: TensorFlow's defaults) abort the collectives within about a minute otherwise.
COLLECTIVE_TIMEOUT_S = 300.0


def default_strategy():
    """MultiWorkerMirrored when TF_CONFIG is set, Mirrored over several GPUs, else one device.

    Training uses a custom loop (``strategy.run``), not ``keras.Model.fit``: under
    MultiWorkerMirroredStrategy Keras 3's fit fails with a PerReplica-to-Tensor conversion error.
    """
    if os.environ.get("TF_CONFIG"):
        return multi_worker_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    if len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy(gpus[0].name)
    return tf.distribute.get_strategy()


def multi_worker_strategy(collective_timeout_s=COLLECTIVE_TIMEOUT_S):
    """MultiWorkerMirroredStrategy from TF_CONFIG whose collectives time out (see above)."""
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=collective_timeout_s
    )
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


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
