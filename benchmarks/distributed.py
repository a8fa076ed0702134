"""1 process vs N DistributedDataParallel processes (gloo, this machine's CPU): time and accuracy side by side.

    python benchmarks/distributed.py [--data mnist] [--epochs 1] [--workers 2] [--repeats 3] [--data-dir DIR]

Trains the same recipe with the CLI as (a) one process with the default threads, (b) one process with
OMP_NUM_THREADS=cores/N, and (c) torchrun --nproc-per-node N (each rank cores/N threads), each --repeats
times in turn, and prints the medians: wall time of the whole command (start-up and data loading included),
the trainer's own duration, and test accuracy, with the ratio to (a).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python benchmarks/distributed.py", description=__doc__.split("\n")[0])
    p.add_argument("--data", default="mnist")
    p.add_argument("--data-dir", default=os.environ.get("MNIST_DATA_DIR", str(REPO.parent / "shared" / "data")))
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    return p.parse_args(argv)


def run_once(launcher: list[str], threads: int | None, args: argparse.Namespace) -> dict:
    """Train once through `launcher`; wall seconds plus the run's status.json."""
    with tempfile.TemporaryDirectory() as runs_dir:
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        command = [*launcher, "-m", "mnist_core.train", "--data", args.data, "--data-dir", args.data_dir,
                   "--epochs", str(args.epochs), "--device", "cpu", "--runs-dir", runs_dir]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
        (run_dir,) = Path(runs_dir).iterdir()
        status = json.loads((run_dir / "status.json").read_text())
    return {"wall": wall, "duration": status["duration"], "accuracy": status["test_accuracy"]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_rank = max(1, cores // args.workers)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.workers)]
    setups = [(f"1 process, default threads ({cores})", [sys.executable], None),
              (f"1 process, {per_rank} thread(s)", [sys.executable], per_rank),
              (f"{args.workers} processes (DDP, gloo) x {per_rank} thread(s)", torchrun, per_rank)]
    print(f"{args.data}, {args.epochs} epoch(s), default recipe (global batch 64), {cores} cores, "
          f"load average {os.getloadavg()[0]:.1f}, medians of {args.repeats}")
    results = {name: [] for name, _, _ in setups}
    for _ in range(args.repeats):  # interleaved, so that a burst of load elsewhere hits every setup alike
        for name, launcher, threads in setups:
            results[name].append(run_once(launcher, threads, args))
    base = None
    print(f"{'setup':<44}{'wall s':>9}{'train s':>9}{'x (train)':>11}{'accuracy':>10}")
    for name, samples in results.items():
        wall, train = (statistics.median(s[k] for s in samples) for k in ("wall", "duration"))
        accuracy = statistics.median(s["accuracy"] for s in samples)
        base = base or train
        print(f"{name:<44}{wall:>9.1f}{train:>9.1f}{base / train:>10.2f}x{accuracy:>10.4f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
