"""The processes of a multi-worker run: how many there are, and what a lost one looks like.

Which process this one is (chief or not, its task id) is `strategy.worker_info`.
"""

import json
import os

import tensorflow as tf

from vsr_latent.errors import TrainingError

# What a collective op raises when another worker died, hung (peer health checks) or aborted.
LOST_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
)


def num_workers(strategy=None):
    """Worker processes of the run (the chief counted), 1 for a single process: those of
    ``strategy``'s cluster resolver, or, before a strategy exists (``None``: an error raised while
    making one), those TF_CONFIG names."""
    if strategy is None:
        try:
            cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
        except (ValueError, AttributeError):
            return 1
    else:
        resolver = getattr(strategy, "cluster_resolver", None)
        if resolver is None:
            return 1
        try:
            cluster = resolver.cluster_spec().as_dict()
        except Exception:  # noqa: BLE001 - a resolver without a cluster spec: a single process
            return 1
    try:
        return max(1, len(cluster.get("worker", [])) + len(cluster.get("chief", [])))
    except (AttributeError, TypeError):  # TF_CONFIG's cluster is not a mapping of lists
        return 1


def lost_peer_error(error, latest_checkpoint):
    """The `TrainingError` a lost worker becomes (``error``: one of `LOST_PEER_ERRORS`), naming
    the checkpoint a restart resumes from."""
    return TrainingError(
        f"lost contact with another worker ({type(error).__name__}: {_gist(error)}); "
        f"restart every worker with the same command to resume from the last checkpoint "
        f"({latest_checkpoint or 'none yet'})"
    )


def _gist(error):
    """The line of a TensorFlow error that says what happened (not "Graph execution error:")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if any(w in line.lower() for w in ("abort", "connect", "unavailable", "deadline", "peer")):
            return line[:300]
    return lines[0][:300] if lines else "no detail"
