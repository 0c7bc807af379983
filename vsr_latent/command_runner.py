"""What every command line of the package (``vsr-latent``, ``python -m vsr_latent.paper``,
``python -m data_tools.*``) does around its work.

A usage error, an error the package raises on purpose (``VsrError``) and an OS error (disk
full, read-only file system, a missing file) are one line on stderr, ``PROG: error: MESSAGE``,
with exit code 2: they are the user's to fix (`OneLineErrorParser`, `run_command`). Any other
exception is a bug and keeps its traceback. ``--verbose`` shows the traceback of every error.
Library errors name settings (their ``fields``); only here do they become the command line's
flags. On the bottom floor (docs/architecture.md), so that the paper runner and the data tools
use it without importing the ``vsr-latent`` program.
"""

import argparse
import re
import sys

from vsr_latent.errors import ConfigError, VsrError

USAGE_ERROR = 2
INTERRUPTED = 130


def one_line(text):
    """``text`` with its lines joined by spaces (messages of nested errors may span lines)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


class OneLineErrorParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose usage errors are one line,
    ``PROG: error: MESSAGE (see PROG --help)``, instead of the usage text and then the error.
    The parsers of sub-commands (``add_subparsers().add_parser``) are of this class too."""

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def in_flags(message, fields, flags):
    """``message`` with the first mention of each of ``fields`` (a setting's name, standing
    alone: not inside a word or a path) written as its flag, ``flags[field]``."""
    for field in fields:
        if field in flags:
            pattern = rf"(?<![\w./\\-]){re.escape(field)}(?![\w/\\])"
            message = re.sub(pattern, lambda _, flag=flags[field]: flag, message, count=1)
    return message


def run_command(prog, work, *, verbose=False, flags=None):
    """Runs ``work()`` and returns its exit code (``None`` is 0); the package's errors and OS
    errors become one line ``PROG: error: ...`` and exit code 2, re-raised with ``verbose``.

    ``flags``: {setting name: flag}, how this command line spells the settings the library's
    errors name (their ``fields``): a field named ``uncertainty_max_std`` in the library is
    ``--uncertainty_scale`` on the command line.
    """
    try:
        return int(work() or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except (VsrError, OSError) as e:
        if verbose:
            raise
        message = one_line(e)
        if isinstance(e, VsrError):
            message = in_flags(message, e.fields, flags or {})
        print(f"{prog}: error: {message}", file=sys.stderr)
        return USAGE_ERROR


def flag_error(flag, error):
    """``error`` (a `vsr_latent.configs.overrides.OverrideError`, which names a config key) as
    the command line reports it: a ConfigError naming the ``flag`` that gave the item (``--set``)."""
    return ConfigError(f"{flag} {error}")
