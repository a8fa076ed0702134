"""OpenMP wait policy: the core trainer's step time with torch's worker threads spinning or sleeping at barriers.

    python benchmarks/omp_wait.py [--quick] [--rounds N]

Each variant is a fresh process (libgomp reads its settings when torch loads) training the `notebook` recipe
on the first 200 batches of real MNIST (quick: 60); the variants run alternately, `--rounds` times (default 3),
and the medians are compared with the reference: libgomp's default, 2 threads that spin before sleeping.
mnist_core sets GOMP_SPINCOUNT=30000 (see mnist_core/__init__.py); this shows what each choice costs on an idle
machine and saves on a busy one, so note the load average printed with it (to see a busy machine, run it beside
two `python -c "while True: pass"`).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import time

from common import REPO_ROOT, Row, data_dir, load_average, print_rows

# name -> environment overrides ("" removes the variable). GOMP_SPINCOUNT=300000 is libgomp's own default (spin
# ~3 ms, then sleep), spelled out so that mnist_core leaves the policy alone; 30000 is what mnist_core sets.
VARIANTS = {
    "spin 300000 (libgomp default), 2 threads": {"OMP_WAIT_POLICY": "", "GOMP_SPINCOUNT": "300000",
                                                 "OMP_NUM_THREADS": ""},
    "PASSIVE, 2 threads": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "", "OMP_NUM_THREADS": ""},
    "spin 10000, 2 threads": {"OMP_WAIT_POLICY": "", "GOMP_SPINCOUNT": "10000", "OMP_NUM_THREADS": ""},
    "spin 30000 (mnist_core's), 2 threads": {"OMP_WAIT_POLICY": "", "GOMP_SPINCOUNT": "30000", "OMP_NUM_THREADS": ""},
    "PASSIVE, 1 thread": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "", "OMP_NUM_THREADS": "1"},
}
REFERENCE = next(iter(VARIANTS))


def child(batches: int) -> None:
    """Train `batches` batches of the notebook recipe; print the seconds. Runs in the variant's process."""
    from mnist_core.config import TrainConfig, apply_recipe
    from mnist_core.data import load_dataset
    from mnist_core.trainer import train

    dataset = load_dataset("mnist", data_dir(), download=False)
    n = batches * 64
    dataset = dataclasses.replace(dataset, train_images=dataset.train_images[:n], train_labels=dataset.train_labels[:n],
                                  test_images=dataset.test_images[:500], test_labels=dataset.test_labels[:500])
    config = dataclasses.replace(apply_recipe(TrainConfig(data="mnist"), "notebook"), epochs=1)
    start = time.perf_counter()
    for _ in train(config, dataset):
        pass
    print(time.perf_counter() - start)


def time_variant(overrides: dict[str, str], batches: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in overrides}
    env.update({k: v for k, v in overrides.items() if v})
    out = subprocess.run([sys.executable, __file__, "--child", str(batches)], env=env, cwd=REPO_ROOT,
                         capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def run(quick: bool = False, rounds: int | None = None) -> list[Row]:
    rounds, batches = rounds or (2 if quick else 3), 60 if quick else 200
    load_before = load_average()
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for i in range(rounds):
        for name, overrides in VARIANTS.items():
            times[name].append(time_variant(overrides, batches))
        print(f"round {i + 1}/{rounds}: " + ", ".join(f"{n}: {t[-1]:.2f} s" for n, t in times.items()), flush=True)
    print(f"load average before {load_before}, after {load_average()}")
    reference = statistics.median(times[REFERENCE])
    return [Row("omp_wait", f"notebook recipe, {batches} batches, {name}", statistics.median(t), "s",
                REFERENCE, reference) for name, t in times.items() if name != REFERENCE]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="60 batches, 2 rounds")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        child(args.child)
    else:
        print_rows(run(args.quick, args.rounds))
