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


def _requirement_names(text):
    import re

    return {re.split(r"[<>=!~\[; ]", line.strip())[0].lower().replace("_", "-")
            for line in text.splitlines() if line.strip() and not line.strip().startswith("#")}


def test_every_third_party_import_of_the_package_is_declared():
    """What vsr_latent/ and data_tools/ import is in setup.cfg: install_requires, or an extra
    for the optional backends (a package that arrives only as another's dependency can go)."""
    import ast
    import configparser
    from importlib.metadata import packages_distributions

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    required = _requirement_names(cfg["options"]["install_requires"])
    extras = {name: _requirement_names(text)
              for name, text in cfg["options.extras_require"].items()}
    optional = set().union(*(extras[e] for e in ("onnx", "jax", "torch")))
    dists = packages_distributions()
    first_party = {"vsr_latent", "data_tools"}
    undeclared = {}
    for path in [*REPO.glob("vsr_latent/**/*.py"), *REPO.glob("data_tools/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in first_party:
                    continue
                provided = {d.lower().replace("_", "-") for d in dists.get(top, [top])}
                if not provided & (required | optional):
                    undeclared.setdefault(top, path.relative_to(REPO).as_posix())
    assert not undeclared, f"imported but not declared in setup.cfg: {undeclared}"
