"""Which `tf.distribute` strategy a run uses when the caller does not pass one: ONE per process.

GAP decision (the paper trains on two 1080 Ti and says nothing of how): every model trained in a
process shares the strategy :func:`default_strategy` made first (``process_strategy``). A table
trains up to 16 models in one process (``python -m vsr_latent.paper all``), and a second
``MirroredStrategy`` (or ``MultiWorkerMirroredStrategy``, which TensorFlow allows only once per
process) made beside a live first one hands out collective instance keys that collide with the
first one's: its first all-reduce fails (``InvalidArgumentError`` at ``CollectiveReduceV2``).
One strategy per process, not one process per config: a process per config pays TensorFlow's
start-up and the strategy's set-up for every model, and under ``TF_CONFIG`` every worker would have
to start its own sub-processes in step with the others; the one-strategy rule keeps the runner a
plain loop, and a caller that passes its own strategy (tests, notebooks) still can.

Replicas: with ``TF_CONFIG`` set, MultiWorkerMirrored (one or more GPUs per worker); else Mirrored
over every visible GPU when there are several, one GPU alone, or the default (one device) strategy.
``VSR_LATENT_CPU_REPLICAS=N`` (:data:`CPU_REPLICAS_ENV`, N >= 2) on a machine without GPUs splits
the CPU into N logical devices and mirrors over them: N replicas on one CPU, for rehearsing the
multi-GPU path (the global batch split N ways, gradients all-reduced) where no GPU is at hand. It
is read before TensorFlow starts its devices (:func:`configure_devices`, which the command lines
call first); a process whose devices are already started must already have N logical CPUs.
"""

import json
import os

import tensorflow as tf

from vsr_latent.errors import ConfigError

# A collective (all-reduce) that waits longer than this for its peers fails with
# DeadlineExceededError instead of hanging: the guard for a peer that is alive but stuck. It must
# exceed the longest legitimate wait of one worker for another (the chief writing a checkpoint or
# image summaries, the first step's tracing), hence minutes, not seconds. A peer that is gone (its
# process killed, its machine down) is caught sooner: a reset connection fails the next
# collective at once, and MultiWorkerMirroredStrategy's peer health checks (every 30 s, 3 tries of
# 10 s: TensorFlow's defaults) abort the collectives within about a minute otherwise.
COLLECTIVE_TIMEOUT_S = 300.0

#: Environment variable: replicas over logical CPU devices where no GPU is visible (see above).
CPU_REPLICAS_ENV = "VSR_LATENT_CPU_REPLICAS"

# The process's strategies, by what was asked for (TF_CONFIG set?, CPU replicas): one each, made
# at first use. Asked the same, the same object comes back, whatever the number of models.
_process_strategies = {}


def cpu_replicas(environ=None):
    """The replica count asked for by :data:`CPU_REPLICAS_ENV` (1 when unset)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(CPU_REPLICAS_ENV, "").strip()
    if not raw:
        return 1
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"{CPU_REPLICAS_ENV}={raw!r}: must be a whole number >= 1 (the replicas "
                          f"over logical CPU devices); unset it for one device")
    return n


def configure_devices():
    """Splits the CPU into :func:`cpu_replicas` logical devices while TensorFlow's devices are not
    started yet (a no-op for 1, and where TensorFlow has started them: :func:`default_strategy`
    then checks the count)."""
    n = cpu_replicas()
    if n < 2:
        return
    cpus = tf.config.list_physical_devices("CPU")
    if len(tf.config.get_logical_device_configuration(cpus[0]) or []) == n:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError:
        pass  # already started: default_strategy says whether the devices it has will do


def default_strategy():
    """The process's strategy (see the module docstring): made at the first call, then shared."""
    key = (bool(os.environ.get("TF_CONFIG")), cpu_replicas())
    if key not in _process_strategies:
        _process_strategies[key] = _make_strategy()
    return _process_strategies[key]


def _make_strategy():
    if os.environ.get("TF_CONFIG"):
        return multi_worker_strategy()
    configure_devices()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    if len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy(gpus[0].name)
    n = cpu_replicas()
    if n > 1:
        cpus = tf.config.list_logical_devices("CPU")
        if len(cpus) < n:
            raise ConfigError(
                f"{CPU_REPLICAS_ENV}={n} but TensorFlow started its devices before the CPU could "
                f"be split ({len(cpus)} logical CPU device(s)); set the variable before the "
                f"program starts")
        return tf.distribute.MirroredStrategy([d.name for d in cpus[:n]])
    return tf.distribute.get_strategy()


def replica_count():
    """Replicas of the process's strategy (makes it if need be)."""
    return default_strategy().num_replicas_in_sync


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
