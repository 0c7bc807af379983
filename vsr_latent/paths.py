"""Where the shared test data lives (never copied into the repository)."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir():
    """``$VSR_SHARED_DATA`` or ``<repo>/../shared/data``; None when absent."""
    env = os.environ.get("VSR_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None
