"""The step's metrics, kept on the device between two reads of the loop (no host sync per step).

The compiled step adds each step's reduced metrics to sums and counts held in variables and marks
the first step whose loss is not finite; the loop reads the means every ``log_every`` steps and
the marker before every checkpoint.
"""

import math

import tensorflow as tf

# Step metrics, accumulated on the device between two reads.
STEP_METRICS = ("loss/total", "loss/re", "loss/vae", "psnr/train", "optimizer/grad_norm")


class DeviceMetrics:
    """Sums and counts of the step metrics on the device, and the first non-finite step.

    Updated inside the compiled step (cross-replica context, after the reduce), read by the loop
    only when it logs: `read` returns the means since the previous read and starts a new
    interval. A key counts only the steps that produced it (``loss/vae``: stage 2; the gradient
    norm: steps whose update was applied, i.e. not skipped for overflow).
    """

    def __init__(self, guarded):
        # The metrics whose non-finite value stops the run (see `TrainStep`).
        self.guarded = tuple(guarded)

        def var(name, dtype=tf.float32):
            return tf.Variable(tf.zeros((), dtype), trainable=False, name=name)

        self.sums = {k: var("sum_" + k.replace("/", "_")) for k in STEP_METRICS}
        self.counts = {k: var("count_" + k.replace("/", "_")) for k in STEP_METRICS}
        self.first_bad_step = var("first_bad_step", tf.int64)
        self.bad_values = {k: var("bad_" + k.replace("/", "_")) for k in STEP_METRICS}

    def update(self, metrics, step, applied):
        """Adds one step's (reduced) ``metrics``; ``step`` is its 1-based number, ``applied``
        whether its update was applied."""
        for key, value in metrics.items():
            value = tf.cast(value, tf.float32)
            use = applied if key == "optimizer/grad_norm" else tf.constant(True)
            self.sums[key].assign_add(tf.where(use, value, 0.0))
            self.counts[key].assign_add(tf.where(use, 1.0, 0.0))
        finite = tf.reduce_all([tf.math.is_finite(tf.cast(metrics[k], tf.float32))
                                for k in self.guarded if k in metrics])
        first = tf.logical_and(tf.logical_not(finite), tf.equal(self.first_bad_step, 0))
        self.first_bad_step.assign(tf.where(first, step, self.first_bad_step))
        for key, value in metrics.items():
            self.bad_values[key].assign(tf.where(first, tf.cast(value, tf.float32),
                                                 self.bad_values[key]))

    def bad_step(self):
        """(1-based step, [non-finite metric names]) of the first non-finite step, or None."""
        step = int(self.first_bad_step.numpy())
        if not step:
            return None
        values = {k: float(v.numpy()) for k, v in self.bad_values.items()}
        return step, [k for k in self.guarded if not math.isfinite(values[k])]

    @tf.function
    def _take(self):
        """The sums and counts as one (2, K) tensor, zeroed for the next interval: one call and
        one transfer per read."""
        sums = tf.stack([self.sums[k].read_value() for k in STEP_METRICS])
        counts = tf.stack([self.counts[k].read_value() for k in STEP_METRICS])
        with tf.control_dependencies([sums, counts]):
            for key in STEP_METRICS:
                self.sums[key].assign(0.0)
                self.counts[key].assign(0.0)
        return tf.stack([sums, counts])

    def read(self):
        """{key: mean since the last read} of the keys seen, then starts a new interval."""
        sums, counts = self._take().numpy()
        return {key: float(s) / float(c) for key, s, c in zip(STEP_METRICS, sums, counts) if c}
