"""What every data tool does around its work: one-line errors, exit code 2."""

import sys


def run_tool(name, work):
    """Runs ``work()`` (returns an exit code); the package's errors and OS errors become one line.

    The same errors the ``vsr-latent`` command turns into one line (``vsr_latent.cli``).
    """
    from vsr_latent.errors import VsrError

    try:
        return int(work() or 0)
    except (VsrError, OSError) as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2
