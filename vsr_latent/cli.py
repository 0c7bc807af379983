"""The ``vsr-latent`` command line.

Each sub-command lives in ``vsr_latent/commands/<name>.py`` and provides
``register(subparsers)``, which adds its parser and sets ``func`` to a function taking the parsed
arguments and returning an exit code. Modules must import TensorFlow inside ``func`` only, so that
``--help`` and argument errors are instant.

Errors the package raises on purpose (``VsrError``) and OS errors (``OSError``: disk full, read-only
file system, ...) are printed as one line on stderr with exit code 2; ``--verbose`` shows the
traceback.
"""

import argparse
import importlib
import os
import sys

from vsr_latent import __version__
from vsr_latent.errors import VsrError

COMMANDS = (
    "quickstart",
    "models",
    "degrade",
    "train",
    "evaluate",
    "upscale",
    "export",
    "benchmark",
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="vsr-latent",
        description="Efficient Video Super-Resolution with Latent Attention (TensorFlow 2 / Keras 3).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--verbose", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"vsr_latent.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"vsr_latent.commands.{name}":
                continue
            raise
        module.register(sub)
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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = normalize_option_names(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("vsr-latent: interrupted", file=sys.stderr)
        return 130
    except (VsrError, OSError) as e:
        if args.verbose:
            raise
        print(f"vsr-latent {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
