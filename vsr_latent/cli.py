"""The package's command lines: what every one of them (``vsr-latent``,
``python -m vsr_latent.paper``, ``python -m data_tools.*``) does around its work, and the
``vsr-latent`` program itself.

A usage error, an error the package raises on purpose (``VsrError``) and an OS error (disk
full, read-only file system, a missing file) are one line on stderr, ``PROG: error: MESSAGE``,
with exit code 2: they are the user's to fix (`OneLineErrorParser`, `run_command`). Any other
exception is a bug and keeps its traceback. ``--verbose`` shows the traceback of every error.

Each sub-command of ``vsr-latent`` lives in ``vsr_latent/commands/<name>.py`` and provides
``register(subparsers)``, which adds its parser and sets ``func`` to a function taking the parsed
arguments and returning an exit code, and may provide ``FIELD_FLAGS``, {setting: flag} for the
settings its errors name (see `run_command`). Modules must import TensorFlow inside ``func`` only, so that
``--help`` and usage errors are instant and TensorFlow is imported after its native log lines are
filtered. TensorFlow's native log lines are kept off stderr (``vsr_latent.native_logs``);
``--verbose`` shows them.
"""

import argparse
import importlib
import re
import sys

from vsr_latent import __version__
from vsr_latent.errors import VsrError
from vsr_latent.native_logs import quiet_native_logs

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


COMMANDS = (
    "quickstart",
    "models",
    "degrade",
    "train",
    "evaluate",
    "upscale",
    "export",
    "benchmark",
    "remake",
)


def build_parser():
    parser = OneLineErrorParser(
        prog="vsr-latent",
        description="Efficient Video Super-Resolution with Latent Attention (TensorFlow 2 / Keras 3).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show full tracebacks on errors and TensorFlow's own log lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"vsr_latent.commands.{name}").register(sub)
    return parser


def normalize_option_names(argv):
    """``--seq-len`` and ``--seq_len`` mean the same: options are defined with underscores."""
    out = []
    for arg in argv:
        if arg == "--":
            out.extend(argv[len(out):])
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            arg = "--" + name.replace("-", "_") + eq + value
        out.append(arg)
    return out


def main(argv=None):
    """Runs the command line ``argv`` and returns its exit code. Without ``argv`` it is this
    process's own (``sys.argv[1:]``), and only then is the process's stderr filtered."""
    own_process = argv is None
    argv = normalize_option_names(sys.argv[1:] if own_process else list(argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        quiet_native_logs(filter_stderr=own_process)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # A command's FIELD_FLAGS: the flags of the settings its library calls' errors may name.
    command = importlib.import_module(f"vsr_latent.commands.{args.command}")
    return run_command(f"vsr-latent {args.command}", lambda: args.func(args),
                       verbose=args.verbose, flags=getattr(command, "FIELD_FLAGS", None))


if __name__ == "__main__":
    sys.exit(main())
