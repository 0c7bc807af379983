"""The repository is clean under ``ruff check`` (rules in ruff.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _ruff():
    """The ruff command: the executable on PATH, else the ``ruff`` module of this Python."""
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    pytest.importorskip("ruff", reason="ruff is not installed (pip install -e '.[test]')")
    return [sys.executable, "-m", "ruff"]


def test_ruff_check_is_clean():
    res = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise", "."],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, f"ruff check found problems:\n{res.stdout}{res.stderr}"
