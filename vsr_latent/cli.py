"""The ``vsr-latent`` program: its sub-commands and their dispatch.

Each sub-command of ``vsr-latent`` lives in ``vsr_latent/commands/<name>.py`` and provides
``register(subparsers)``, which adds its parser and sets ``func`` to a function taking the parsed
arguments and returning an exit code, and may provide ``FIELD_FLAGS``, {setting: flag} for the
settings its errors name (see `vsr_latent.command_runner.run_command`). Modules must import
TensorFlow inside ``func`` only, so that ``--help`` and usage errors are instant and TensorFlow is
imported after its native log lines are filtered. TensorFlow's native log lines are kept off
stderr (``vsr_latent.native_logs``); ``--verbose`` shows them. Errors: one line each
(`vsr_latent.command_runner`).
"""

import importlib
import sys

from vsr_latent import __version__
from vsr_latent.command_runner import OneLineErrorParser, run_command
from vsr_latent.native_logs import quiet_native_logs

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
