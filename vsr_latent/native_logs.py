"""TensorFlow's native log lines, kept off the command lines' stderr unless ``--verbose``.

TensorFlow and the libraries it loads (absl, oneDNN, the CUDA stubs) log from C++ straight to file
descriptor 2, some at ``import tensorflow`` and some at the first op: the oneDNN notice, "Could
not find cuda drivers", "failed call to cuInit", cpu_feature_guard's "To enable the following
instructions", absl's "WARNING: All log messages before absl::InitializeLog() ...".
``TF_CPP_MIN_LOG_LEVEL`` hides only part of them (not those written before TensorFlow reads it),
and Python's logging and ``warnings`` never see any. Left alone, they come before every command's
one-line error.

``quiet_native_logs()`` therefore routes descriptor 2 through a small filter process that drops
those lines (``is_native_log_line``) and passes everything else through unchanged and at once:
the package's messages, Python warnings and tracebacks, progress bars, and fatal ("F...") native
lines, which come right before a crash and are what a bug report needs. A process rather than a
thread in this one: after a crash (an abort, a segfault) it still drains its input to the end,
so nothing written just before is lost. Where stderr is a terminal the filter's input is a
pseudo-terminal, so the command still sees one.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import re
import signal
import sys
import time

# Set before TensorFlow is imported; every one is a default a user's own setting overrides.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3"}  # TensorFlow's C++ INFO, WARNING and ERROR

# One native log line: absl ("I0000 00:00:1712345678.123456   12345 file.cc:31] ...", the month/day
# 0000 before absl is initialised) or TensorFlow's own older format ("2024-05-01 12:34:56.789012:
# W tensorflow/core/file.cc:31] ..."); INFO, WARNING and ERROR, not FATAL. Then the texts of
# messages that arrive without such a prefix or continue one on a second line.
_PREFIXED = (
    rb"[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]",
    rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\]",
)
_TEXTS = (
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    rb"To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler",
    rb"oneDNN custom operations are on\.",
)
# A prefixed line may also start after the text of a progress bar that has no newline yet; the
# prefix is specific enough to be looked for anywhere. The texts only at a line's start or after
# a carriage return (a progress bar redrawn on the same line).
_NATIVE_LINE = re.compile(rb"|".join(_PREFIXED) + rb"|(?:^|(?<=\r))(?:" + rb"|".join(_TEXTS) + rb")")
# How an unfinished line may start while it can still become a native line.
_PREFIX_START = re.compile(rb"[IWE]\d{0,4}(?: .*)?|\d{1,4}(?:-.*)?", re.DOTALL)
_TEXT_STARTS = (b"WARNING: All log messages", b"To enable the following", b"oneDNN custom")

_FINISH_SECONDS = 5.0
_filter_pid = None


def is_native_log_line(line):
    """Whether ``line`` (bytes or str, without its newline) is a native log line to drop."""
    if isinstance(line, str):
        line = line.encode("utf-8", "replace")
    return _NATIVE_LINE.search(line) is not None


def _may_become_native(start):
    if not start:
        return False
    if _PREFIX_START.fullmatch(start):
        return True
    return any(text.startswith(start[:len(text)]) for text in _TEXT_STARTS)


def _kept(data, final):
    """``(text to write now, text to hold)`` for ``data`` read from the pipe: complete lines
    without the native ones; the last unfinished line is held only while it may still become a
    native line (those arrive whole, in one write, so holding is rare and short)."""
    *lines, rest = data.split(b"\n")
    out = []
    for line in lines:
        match = _NATIVE_LINE.search(line)
        if match is None:
            out.append(line + b"\n")
        elif match.start():
            out.append(line[:match.start()])  # a progress bar before the native line
    if rest and (final or not _may_become_native(rest.rsplit(b"\r", 1)[-1])):
        match = _NATIVE_LINE.search(rest)
        out.append(rest if match is None else rest[:match.start()])
        rest = b""
    return b"".join(out), rest


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def _read(fd):
    """The next bytes from ``fd``; ``b""`` once every writer has closed it (a pseudo-terminal
    says so with EIO)."""
    try:
        return os.read(fd, 1 << 16)
    except OSError as e:
        if e.errno == errno.EIO:
            return b""
        raise


def _pump(read_fd, out_fd):
    """Copy ``read_fd`` to ``out_fd`` without the native lines until every writer has closed it."""
    held = b""
    writable = True
    while True:
        chunk = _read(read_fd)
        out, held = _kept(held + chunk, final=not chunk)
        if out and writable:
            try:
                _write_all(out_fd, out)
            except OSError:  # stderr closed by the reader: keep draining, so writers never block
                writable = False
        if not chunk:
            return


def _run_filter(read_fd):
    """The filter process: never returns."""
    try:
        # Ctrl-C and a terminal's SIGTERM reach the whole process group; the filter must outlive
        # the command to pass on its last lines, and ends by itself when its input closes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        import fcntl

        # Above 0-2 (the read end may have taken a free low descriptor), before those are replaced.
        high = fcntl.fcntl(read_fd, fcntl.F_DUPFD, 3)
        os.close(read_fd)
        read_fd = high
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)  # whoever reads the command's stdout must not wait for the filter
        os.closerange(3, read_fd)
        os.closerange(read_fd + 1, 1 << 16)
        _pump(read_fd, 2)
    finally:
        os._exit(0)


def _channel():
    """``(read end, write end)`` between the command and the filter: a pseudo-terminal of the
    same size when stderr is a terminal, so the command still writes to one (progress bars keep
    their width and redraw in place), else a pipe."""
    if os.isatty(2):
        import fcntl
        import termios

        try:
            read_fd, write_fd = os.openpty()
        except OSError:
            return os.pipe()
        attrs = termios.tcgetattr(write_fd)
        attrs[1] &= ~termios.OPOST  # bytes pass as written: no "\n" -> "\r\n"
        termios.tcsetattr(write_fd, termios.TCSANOW, attrs)
        with contextlib.suppress(OSError):
            size = fcntl.ioctl(2, termios.TIOCGWINSZ, bytes(8))
            fcntl.ioctl(write_fd, termios.TIOCSWINSZ, size)
        return read_fd, write_fd
    return os.pipe()


def quiet_native_logs(filter_stderr=True):
    """Set ``QUIET_ENVIRONMENT`` and, with ``filter_stderr``, filter native log lines out of this
    process's descriptor 2 (and its children's) until it exits. Call it before TensorFlow is
    imported, with ``filter_stderr`` in a command line's own process only (never inside a test
    runner or another program, which own their descriptors). Filtering twice does nothing more;
    where ``os.fork`` is missing only the environment is set."""
    global _filter_pid

    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if not filter_stderr or _filter_pid is not None or not hasattr(os, "fork"):
        return
    try:
        os.fstat(2)
    except OSError:  # no stderr at all: nothing to filter
        return
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = _channel()
    pid = os.fork()
    if pid == 0:
        os.close(write_fd)
        _run_filter(read_fd)
    os.close(read_fd)
    original = os.dup(2)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    _filter_pid = pid
    atexit.register(_finish, pid, original)


def _finish(pid, original):
    """At exit: give descriptor 2 back and wait (a few seconds at most: a child process of the
    command may still hold the pipe) for the filter to pass on the last lines."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(original, 2)
    os.close(original)
    deadline = time.monotonic() + _FINISH_SECONDS
    with contextlib.suppress(ChildProcessError):  # already waited for elsewhere
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
            time.sleep(0.005)
