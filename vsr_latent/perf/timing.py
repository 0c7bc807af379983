"""Wall-clock timing (median of repeats after warm-up) and the machine's practical matmul peak."""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import time

import tensorflow as tf

# Side of the square float32 matmul that measures the machine's practical peak: large enough to
# be compute-bound on a CPU or a GPU, small enough to take well under a second on either.
PEAK_MATMUL_SIZE = 2048


@dataclasses.dataclass
class Timing:
    """Wall seconds of each timed call (after ``warmup`` untimed calls), their median, and the
    process CPU seconds (all threads) of the same calls.

    On a machine shared with other work, wall time stretches with the load while CPU time
    measures the work this process got done: a rate per CPU-second, compared with the matmul's
    rate per CPU-second, gives a ratio much less sensitive to the load (spin-waiting threads
    count as CPU time, so it is not immune)."""

    seconds: list
    warmup: int
    cpu_seconds: list = dataclasses.field(default_factory=list)

    @property
    def cpu_median(self):
        return float(statistics.median(self.cpu_seconds)) if self.cpu_seconds else None

    @property
    def median(self):
        return float(statistics.median(self.seconds))


def _block(result):
    """Wait for the device: fetch one element of every output tensor."""
    for t in tf.nest.flatten(result):
        if hasattr(t, "numpy"):
            tf.reshape(t, [-1])[:1].numpy()
    return result


def time_call(fn, *args, repeats=3, warmup=1):
    """Call ``fn(*args)`` ``warmup`` times untimed, then ``repeats`` times timed (each call
    waits for its outputs); returns a ``Timing``."""
    for _ in range(int(warmup)):
        _block(fn(*args))
    seconds, cpu = [], []
    for _ in range(max(1, int(repeats))):
        c0, t0 = time.process_time(), time.perf_counter()
        _block(fn(*args))
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return Timing(seconds, int(warmup), cpu)


def matmul_peak(size=PEAK_MATMUL_SIZE, repeats=5, dtype="float32", device=None):
    """The practical peak of this machine: FLOP/s of a ``size x size`` by ``size x size``
    ``tf.matmul`` (2 * size**3 FLOPs), median of ``repeats`` after one warm-up, on ``device``
    (default: TensorFlow's placement). Returns a dict (``flops_per_s``, ``flops_per_cpu_s``: per
    process CPU-second, ``size``, ``dtype``, ``seconds``)."""
    scope = tf.device(device) if device else contextlib.nullcontext()
    with scope:
        a = tf.random.uniform([size, size], dtype=dtype)
        b = tf.random.uniform([size, size], dtype=dtype)
        fn = tf.function(lambda x, y: tf.matmul(x, y))
        timing = time_call(fn, a, b, repeats=repeats, warmup=1)
    return {
        "flops_per_s": 2.0 * size**3 / timing.median,
        "flops_per_cpu_s": 2.0 * size**3 / timing.cpu_median,
        "size": int(size),
        "dtype": str(dtype),
        "seconds": timing.median,
    }
