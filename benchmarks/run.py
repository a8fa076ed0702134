"""Run every registered benchmark and print one table (Markdown) with the machine it ran on.

    python benchmarks/run.py [--quick] [--only train_speed,inference]

`--quick` smoke-tests the whole set in a couple of minutes (figures, no targets); the full set takes about
15 minutes on 2 cores, most of it the time-to-accuracy runs. Data from MNIST_DATA_DIR or ../shared/data.

To register a benchmark, add its module name to BENCHMARKS: a script in this folder with
`run(quick: bool) -> list[common.Row]`, each row a figure beside its reference measured in the same run.
"""
from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from types import ModuleType

from common import Row, format_table, machine

BENCHMARKS = [
    "train_speed",
    "inference",
    "bench_draw",
    "memory",
    "time_to_accuracy",
    "app_latency",
    "deploy_memory",
    "understand_latency",
    "watch",
    "load",
    "folds",
    "label_noise",
    "first_progress",
    "whole_process",
    "data_read",
    "allocator",
    "precision",
    "optim_import",
]


def load(name: str) -> ModuleType:
    """The benchmark script benchmarks/<name>.py, by path: the repository root, also on sys.path, has an app.py."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", Path(__file__).parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke-test every benchmark in a couple of minutes")
    p.add_argument("--only", default="", help=f"comma list of: {', '.join(BENCHMARKS)}")
    args = p.parse_args()
    names = args.only.split(",") if args.only else BENCHMARKS
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        p.error(f"unknown benchmark {unknown[0]!r}; registered: {', '.join(BENCHMARKS)}")
    print(f"machine: {machine()}", flush=True)
    rows: list[Row] = []
    for name in names:
        print(f"\n== {name}", flush=True)
        start = time.perf_counter()
        rows += load(name).run(quick=args.quick)
        print(f"({name} took {time.perf_counter() - start:.0f} s)", flush=True)
    print(f"\n{format_table(rows)}\n\nmachine at the end: {machine()}")


if __name__ == "__main__":
    main()
