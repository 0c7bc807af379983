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


# ---------------------------------------------------------------------------------------------
# The floors of docs/architecture.md, kept.

ARCHITECTURE = REPO / "docs" / "architecture.md"
FIRST_PARTY = ("vsr_latent", "data_tools", "benchmarks")
# Packages whose imports inside functions are held to the document (benchmarks/ are scripts that
# set their environment before TensorFlow loads: the document leaves them their imports).
HIDDEN_IMPORTS_HELD = ("vsr_latent", "data_tools")
TENSORFLOW = ("tensorflow", "keras")

def _architecture_text():
    return ARCHITECTURE.read_text(encoding="utf-8")


def _floors():
    """Module name -> (floor number, side), from the table of docs/architecture.md."""
    import re

    floors = {}
    for line in _architecture_text().splitlines():
        row = re.match(r"\| (\d+) \| ([^|]+?) \| ([^|]+?) \|", line)
        if row:
            for name in re.findall(r"`([\w.]+)`", row.group(3)):
                floors[name] = (int(row.group(1)), row.group(2))
    assert floors, f"no floor table in {ARCHITECTURE}"
    return floors


def _section_names(start, end):
    """The backquoted names of docs/architecture.md between the sentences ``start`` and ``end``."""
    import re

    text = " ".join(_architecture_text().split())
    assert start in text and end in text, f"{ARCHITECTURE} lost {start!r} or {end!r}"
    section = text[text.index(start):text.index(end)]
    return re.findall(r"`([A-Za-z_][\w.]*)`", section)


def _modules():
    """Module name -> (path, is_package) of every module of the first-party folders."""
    modules = {}
    for top in FIRST_PARTY:
        for path in sorted((REPO / top).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            modules[".".join(parts)] = (path, is_package)
    return modules


def _imports(name, path, is_package, modules):
    """(line, imported module, imported names, hidden) of every import of a module; ``hidden``:
    inside a function or class body, or behind ``if TYPE_CHECKING``. ``from p import m`` of a
    module ``m`` imports ``p.m``."""
    import ast

    found = []

    def visit(node, hidden):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((child.lineno, a.name, (), hidden) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[:len(package) - child.level + 1]
                    base = ".".join(package + ([child.module] if child.module else []))
                plain = [a.name for a in child.names if f"{base}.{a.name}" not in modules]
                if plain:
                    found.append((child.lineno, base, tuple(plain), hidden))
                found.extend((child.lineno, f"{base}.{a.name}", (), hidden)
                             for a in child.names if f"{base}.{a.name}" in modules)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                    ast.ClassDef)):
                visit(child, True)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(child, True)
            else:
                visit(child, hidden)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _floor_of(module, floors):
    """The (floor, side) of the longest table name that is ``module`` or a package above it;
    ``vsr_latent`` alone names only the package's ``__init__``."""
    best = None
    for name, place in floors.items():
        if module == name or (module.startswith(name + ".") and name != "vsr_latent"):
            if best is None or len(name) > len(best[0]):
                best = (name, place)
    return best[1] if best else None


def _private_owner(module):
    """The package a private module belongs to (``a.b`` for ``a.b._c.d``), else None."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not (part.startswith("__") and part.endswith("__")):
            return ".".join(parts[:i])
    return None


def _must_load_without_tensorflow(modules, graph):
    """The modules the document names as loading without TensorFlow, every module of the
    packages among them, and everything they import at their top (with the packages above)."""
    roots = _section_names("The modules that must load without TensorFlow",
                           "imports each of them in a fresh interpreter")
    todo = [m for m in modules if any(m == r or m.startswith(r + ".") for r in roots)]
    assert todo, "docs/architecture.md names no module that must load without TensorFlow"
    closure = set()
    while todo:
        module = todo.pop()
        if module in closure or module not in modules:
            continue
        closure.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(target for _, target, _, hidden in graph[module] if not hidden)
    return closure


def _layering_violations():
    floors = _floors()
    modules = _modules()
    graph = {name: _imports(name, path, is_package, modules)
             for name, (path, is_package) in modules.items()}
    light = _must_load_without_tensorflow(modules, graph)
    optional = set(_section_names("Anywhere, an import may sit in a function",
                                  "are scripts that set their environment"))
    # Third-party modules the start of the light modules loads anyway: no reason to hide them.
    loaded_at_start = {target.split(".")[0] for m in light for _, target, _, hidden in graph[m]
                       if not hidden and target.split(".")[0] not in FIRST_PARTY + TENSORFLOW}
    violations = {}

    def fail(module, target, message):
        key = (module, target)
        violations[key] = (f"{violations[key]}; {message}" if key in violations
                           else f"{module} imports {target}: {message}")

    for module, imports in sorted(graph.items()):
        place = _floor_of(module, floors)
        if place is None:
            fail(module, module, "the module is on no floor of docs/architecture.md")
            continue
        for line, target, names, hidden in imports:
            top = target.split(".")[0]
            where = f"{modules[module][0].relative_to(REPO)}:{line}"
            if top in FIRST_PARTY:
                other = _floor_of(target, floors)
                if other is None:
                    fail(module, target, f"{target} is on no floor ({where})")
                elif other[0] > place[0]:
                    fail(module, target, f"upward: floor {place[0]} ({place[1]}) imports floor "
                                         f"{other[0]} ({other[1]}) above it ({where})")
                elif other[0] == place[0] and other[1] != place[1]:
                    fail(module, target, f"sideways: {place[1]} imports {other[1]} beside it on "
                                         f"floor {place[0]} ({where})")
                owner = _private_owner(target)
                if owner is not None and not module.startswith(owner + "."):
                    fail(module, target, f"a private module of {owner} ({where})")
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                if private and target != module:
                    fail(module, target, f"private name(s) {', '.join(private)} ({where})")
            if not hidden and module in light and top in TENSORFLOW:
                fail(module, target, f"at the top ({where}), but {module} must load without "
                                     "TensorFlow (docs/architecture.md)")
            if not hidden or module.split(".")[0] not in HIDDEN_IMPORTS_HELD or top in optional:
                continue
            if module not in light:
                fail(module, target, f"inside a function ({where}); {module} loads TensorFlow or "
                                     "need not load without it: import at the top")
            elif top in FIRST_PARTY and target in light:
                fail(module, target, f"inside a function ({where}), but {target} loads without "
                                     "TensorFlow as well: import it at the top")
            elif top not in FIRST_PARTY and (top in sys.stdlib_module_names
                                            or top in loaded_at_start):
                fail(module, target, f"inside a function ({where}), but the start loads {top} "
                                     "anyway: import it at the top")
    return violations, light


def test_imports_keep_the_floors_of_docs_architecture():
    """No import runs up a floor or sideways, no private name crosses modules, and imports sit
    inside functions only where docs/architecture.md gives the reason."""
    violations, _ = _layering_violations()
    left = sorted(violations.values())
    assert not left, "imports against docs/architecture.md:\n" + "\n".join(left)


def test_the_modules_that_must_load_without_tensorflow_do():
    """Imported one after another in a fresh interpreter, the modules docs/architecture.md names
    (and what they import at their top) leave TensorFlow and Keras unloaded."""
    _, light = _layering_violations()
    # A __main__ runs its program when imported; what it imports is in the set on its own.
    names = sorted(m for m in light if not m.endswith(".__main__"))
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            f"    loaded = [m for m in {TENSORFLOW!r} if m in sys.modules]\n"
            "    if loaded:\n"
            "        sys.exit(f'{name} loads {loaded}')\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=300, check=False)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert len(names) > 20  # the command line, serving, evaluation and what they import
