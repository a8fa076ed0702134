"""The benchmark registry: every name in benchmarks/run.py loads its own script, which has run(quick).

    python -m pytest -q tests/test_benchmarks.py

The benchmarks themselves are measurements, not tests (see benchmarks/README.md); this only checks that
`python benchmarks/run.py` can reach each of them.
"""
from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

BENCHMARKS_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


def test_every_registered_benchmark_is_its_own_script_with_run():
    sys.path.insert(0, str(BENCHMARKS_DIR))  # the scripts import their siblings (common, notebook_reference)
    try:
        spec = importlib.util.spec_from_file_location("benchmark_registry", BENCHMARKS_DIR / "run.py")
        registry = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(registry)
        assert {"train_speed", "inference", "bench_draw", "memory", "time_to_accuracy", "app_latency"} <= \
            set(registry.BENCHMARKS)
        for name in registry.BENCHMARKS:
            module = registry.load(name)
            assert Path(module.__file__) == BENCHMARKS_DIR / f"{name}.py"
            assert list(inspect.signature(module.run).parameters)[0] == "quick"
    finally:
        sys.path.remove(str(BENCHMARKS_DIR))
