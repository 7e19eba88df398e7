"""The packages form layers: each one imports only itself and the packages below it, so
nothing imports upward (read from the source, function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import specdyn

# lowest first: each package may import the ones before it
LAYERS = [
    "lazy",
    "errors",
    "config",
    "spectral",
    "store",
    "record",
    "models",
    "data",
    "tasks",
    "train",
    "checkpoints",
    "integrations",
    "sweep",
    "analyses",
    "figures",
    "reproduce",
    "report",
    "cli",
]
ROOT = Path(specdyn.__file__).parent


def _imported(path: Path) -> set[str]:
    """The specdyn subpackages (or top-level modules) that the file at ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "specdyn" and len(parts) > 1:
                found.add(parts[1])
                break
            if name == "specdyn":
                found.add("")  # the top-level facade
    return found


def test_every_package_is_in_a_layer():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    packages |= {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
    assert packages - {"metrics"} == set(LAYERS)  # metrics.py: a facade, like __init__


def test_no_package_imports_upward():
    upward = []
    for layer, package in enumerate(LAYERS):
        allowed = set(LAYERS[: layer + 1])
        files = [ROOT / f"{package}.py"] if (ROOT / f"{package}.py").exists() else []
        for path in files or sorted((ROOT / package).rglob("*.py")):
            for name in _imported(path) - allowed:
                upward.append(f"{path.relative_to(ROOT)} imports specdyn.{name or '(top level)'}")
    assert upward == []


def test_no_lazy_export_is_shadowed_by_a_submodule_of_its_name():
    """A facade's name that is also its module's name (``data.resample`` in
    ``data/resample.py``) would turn into the module once anything imports it."""
    import ast

    for init in ROOT.rglob("__init__.py"):
        tree = ast.parse(init.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and isinstance(value, ast.Constant):
                        assert not str(value.value).endswith("." + key.value), (init, key.value)
