"""Peak memory of a piece of work: sampled process RSS on CPU, TensorFlow's allocator on GPU.

On CPU TensorFlow allocates through malloc and keeps no statistics, so the peak is the
process's resident set size sampled by a thread every ``RSS_SAMPLE_SECONDS`` minus the RSS
right before the work (after ``malloc_trim`` returned freed memory to the system, so memory
cached from earlier work is not silently reused). On GPU the peak comes from
``tf.config.experimental.get_memory_info`` after ``reset_memory_stats``.

For a whole command, ``run_child_max_rss`` runs it in a subprocess and reads that child's own
``ru_maxrss`` (``os.wait4``), which no sampling can miss.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import tensorflow as tf

RSS_SAMPLE_SECONDS = 0.002

RSS_METHOD = (f"process RSS, sampled every {RSS_SAMPLE_SECONDS * 1000:g} ms, peak minus the RSS "
              "just before the first (warm-up, tracing/compiling) call, after malloc_trim")
GPU_METHOD = "tf.config.experimental.get_memory_info(...)['peak'] after reset_memory_stats"


def current_rss():
    """Resident set size of this process in bytes."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def trim_malloc():
    """Give memory freed by malloc back to the system (glibc); a no-op elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakRss:
    """Context manager: ``.peak_delta`` (bytes) is the highest RSS seen inside minus the RSS at
    entry."""

    def __init__(self, interval=RSS_SAMPLE_SECONDS):
        self.interval = float(interval)
        self.baseline = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, current_rss())
            time.sleep(self.interval)

    def __enter__(self):
        trim_malloc()
        self.baseline = current_rss()
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss())
        return False

    @property
    def peak_delta(self):
        return int(self.peak - self.baseline)


class PeakGpuMemory:
    """Context manager: ``.peak_delta`` is the allocator's peak on ``device`` inside, in bytes."""

    def __init__(self, device="GPU:0"):
        self.device = device
        self.peak_delta = 0

    def __enter__(self):
        tf.config.experimental.reset_memory_stats(self.device)
        self._base = tf.config.experimental.get_memory_info(self.device)["current"]
        return self

    def __exit__(self, *exc):
        self.peak_delta = int(tf.config.experimental.get_memory_info(self.device)["peak"]
                              - self._base)
        return False


def peak_memory_meter(on_gpu):
    """``(context manager, method description)`` for the device the work runs on."""
    if on_gpu:
        return PeakGpuMemory(), GPU_METHOD
    return PeakRss(), RSS_METHOD


# Runs the measured command as its own child and writes that child's ru_maxrss (KiB) to a file.
# A child forked straight from a large process (a test run with TensorFlow loaded) would start
# with that process's resident size as its high-water mark; a child of this small launcher
# starts from the launcher's few MiB instead.
_LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child_max_rss(cmd, *, env=None, timeout=None, cwd=None):
    """Run ``cmd`` (a list) in a subprocess; returns ``(returncode, max_rss_bytes, seconds,
    output)``, where ``max_rss_bytes`` is the command's own peak RSS (``ru_maxrss`` from
    ``os.wait4`` in a small launcher process, so the caller's size does not leak into it) and
    ``output`` its combined stdout/stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "maxrss")
        full = [sys.executable, "-c", _LAUNCHER, rss_file] + [str(c) for c in cmd]
        t0 = time.perf_counter()
        # Own process group, so a timeout ends the launcher and the command together.
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            rc = 124
        seconds = time.perf_counter() - t0
        try:
            with open(rss_file, encoding="ascii") as f:
                max_rss = int(f.read()) * 1024
        except (OSError, ValueError):
            max_rss = 0
    return rc, max_rss, seconds, out.decode("utf-8", "replace")
