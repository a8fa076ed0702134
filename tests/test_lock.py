"""The dependency lock is what is installed and what the docs promise.

    python -m pytest -q tests/test_lock.py

CI installs requirements.txt and requirements-dev.txt; these tests fail when the environment the tests run in
differs from the lock (a hand-installed upgrade, a lock edited without `python scripts/lock.py`), so what CI
tests is exactly what `pip install -r requirements.txt` gives a user.
"""
from __future__ import annotations

import importlib.metadata as metadata
import re
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def pins(path: Path) -> dict[str, tuple[str, str]]:
    """{canonical name: (exact version, marker text)} for every `name==version` line of a lock file."""
    out = {}
    for line in path.read_text().splitlines():
        if not re.match(r"^[A-Za-z0-9]", line):
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier  # a lock pins each package to exactly one version
        assert spec.operator == "==", line
        out[canonicalize_name(requirement.name)] = (spec.version, str(requirement.marker or ""))
    return out


def direct(path: Path) -> list[str]:
    return [canonicalize_name(Requirement(line.split("#")[0]).name) for line in path.read_text().splitlines()
            if re.match(r"^[A-Za-z0-9]", line)]


@pytest.mark.parametrize("source, lock", [("requirements.in", "requirements.txt"),
                                          ("requirements-dev.in", "requirements-dev.txt")])
def test_every_direct_dependency_is_locked(source, lock):
    locked = pins(ROOT / lock)
    assert [name for name in direct(ROOT / source) if name not in locked] == []


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_installed_versions_are_the_locked_ones(lock):
    wrong = {}
    for name, (version, marker) in pins(ROOT / lock).items():
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert wrong == {}, "installed differs from the lock (locked, installed): pip install -r " + lock


def test_cpu_lock_is_the_lock_without_cuda():
    full, cpu = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-cpu.txt")
    cuda = {name for name in full if re.match(r"^(nvidia-|cuda-|triton$)", name)}
    assert cuda and not cuda & cpu.keys()
    assert cpu["torch"][0] == full["torch"][0] + "+cpu"
    assert cpu["torchvision"][0] == full["torchvision"][0] + "+cpu"
    same = {name: pin for name, pin in full.items() if name not in cuda | {"torch", "torchvision"}}
    assert {name: pin for name, pin in cpu.items() if name not in ("torch", "torchvision")} == same
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in (ROOT / "requirements-cpu.txt").read_text()


def test_cuda_libraries_install_only_on_linux():
    for name, (_, marker) in pins(ROOT / "requirements.txt").items():
        if re.match(r"^(nvidia-|cuda-|triton$)", name):
            assert marker and not Marker(marker).evaluate({"sys_platform": "darwin"}), name
            assert not Marker(marker).evaluate({"sys_platform": "win32"}), name
