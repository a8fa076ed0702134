"""The layout's rules, checked: the core never imports Streamlit, nothing in the project imports itself in a
circle, and no module grows past 300 lines.

    python -m pytest -q tests/test_layout.py

The checks are plain functions run on the real tree and, to show that they catch what they look for, on small
packages written for the test that break each rule.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROJECT = ("mnist_core", "ui", "app_pages")
MAX_LINES = 300


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file of every module under root/package (a package is named by its __init__.py)."""
    names = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported_by(root: Path, packages: tuple[str, ...] = PROJECT) -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its file (inside functions too), from its AST."""
    modules = {name: path for p in packages for name, path in module_names(root, p).items()}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        # a package's own __init__ is loaded on the way to any of its modules: that is no dependency
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def modules_pulling_in(root: Path, package: str, banned: str) -> list[str]:
    """The modules of `package` after whose import (in a fresh interpreter, each alone) `banned` is loaded."""
    script = (f"import importlib, json, sys\nbad = []\nfor name in {sorted(module_names(root, package))!r}:\n"
              f"    importlib.import_module(name)\n    if {banned!r} in sys.modules:\n        bad.append(name)\n"
              f"        break\nprint(json.dumps(bad))")
    # one interpreter for all: the first module that loads `banned` is named, whichever of its imports did it
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_core_never_imports_streamlit():
    assert modules_pulling_in(REPO, "mnist_core", "streamlit") == []


def test_no_import_cycle_in_the_project():
    assert cycles(imported_by(REPO)) == []


@pytest.mark.parametrize("package", PROJECT)
def test_no_module_over_300_lines(package):
    long = {name: n for name, path in module_names(REPO, package).items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_streamlit_check_catches_an_indirect_import(tmp_path):
    root = write_package(tmp_path, {"mnist_core/__init__.py": "", "mnist_core/plain.py": "import json\n",
                                    "mnist_core/helper.py": "import streamlit\n",
                                    "mnist_core/page.py": "from mnist_core import helper\n"})
    assert modules_pulling_in(root, "mnist_core", "streamlit") == ["mnist_core.helper"]


def test_the_cycle_check_sees_imports_inside_functions(tmp_path):
    root = write_package(tmp_path, {
        "mnist_core/__init__.py": "", "mnist_core/device.py": "import torch\n",
        "mnist_core/trainer.py": "from mnist_core.distributed import LOCAL\n",
        "mnist_core/distributed.py": "def setup():\n    from mnist_core.trainer import resolve_device\n",
        "ui/__init__.py": "", "ui/state.py": "from mnist_core import device\n",
        "app_pages/page.py": "import ui.state\n"})
    graph = imported_by(root)
    assert graph["app_pages.page"] == {"ui.state"} and graph["ui.state"] == {"mnist_core", "mnist_core.device"}
    assert cycles(graph) == [["mnist_core.distributed", "mnist_core.trainer"]]
