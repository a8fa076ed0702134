"""Whole process: the training CLI against the notebook's own loop, each a fresh interpreter (issue 15, target 1).

    python benchmarks/whole_process.py [--quick] [--repeats 2]          (also part of benchmarks/run.py)

What a user waits for is the whole command, not the training steps: `python -m mnist_core.train --recipe
notebook --epochs 2` (imports, reading MNIST, 2 epochs with the per-epoch evaluation of the 10,000 test images,
writing the run) against `python benchmarks/notebook_reference.py --epochs 2 --test` (the notebook's imports,
torchvision's MNIST with a per-item ToTensor, its loop, its test loop once). Wall time from starting the
interpreter to its exit, the two alternating `--repeats` times so that a busy machine slows both alike; the
median of each. The first epoch's average loss must agree (same recipe: the notebook's net, batch 64, no
shuffling, Adam 1e-3). Target: the CLI at least 3x faster. --quick: 1 epoch of 50 batches each (a smoke run).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO_ROOT, Row, data_dir, print_rows

TARGET = 3.0
LOSS_RE = re.compile(r"Epoch 0/\d+: average loss ([0-9.]+)")


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, first-epoch average loss) of one command run to its end, `env` added to its environment."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=3600,
                          env=os.environ | {"MNIST_DATA_DIR": str(data_dir())} | (env or {}))
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd[1:3])} failed: {done.stderr.strip().splitlines()[-1:]}")
    match = LOSS_RE.search(done.stdout + done.stderr)
    if not match:
        raise RuntimeError(f"{' '.join(cmd[1:3])} printed no first-epoch loss")
    return wall, float(match.group(1))


def alternate(commands: list[tuple[str, list[str], dict[str, str] | None]], repeats: int,
              loss_digits: int = 4) -> list[list[tuple[float, float]]]:
    """Each (name, command, env) run `repeats` times, the order reversed every other round so that a busy machine
    slows them alike; per command, its (wall seconds, first-epoch loss) list."""
    results = [[] for _ in commands]
    for r in range(repeats):
        for i in (range(len(commands)) if r % 2 == 0 else reversed(range(len(commands)))):
            name, cmd, env = commands[i]
            wall, loss = timed(cmd, env)
            results[i].append((wall, loss))
            print(f"  {name}: {wall:.1f} s, first-epoch loss {loss:.{loss_digits}f}", flush=True)
    return results


def faster_rows(benchmark: str, measure: str, ours: list[tuple[float, float]], reference: str,
                theirs: list[tuple[float, float]], quick: bool) -> list[Row]:
    """The median wall time against the reference's (target: faster) and the first-epoch loss (target: identical,
    the same recipe and seed both ways)."""
    ours_s, theirs_s = statistics.median(w for w, _ in ours), statistics.median(w for w, _ in theirs)
    return [Row(benchmark, measure, ours_s, "s", reference, theirs_s, "" if quick else "faster",
                None if quick else ours_s < theirs_s),
            Row(benchmark, "first-epoch average loss", ours[0][1], "", reference, theirs[0][1],
                "" if quick else "identical", None if quick else ours[0][1] == theirs[0][1])]


def run(quick: bool = False, repeats: int = 2) -> list[Row]:
    epochs = ["--epochs", "1"] if quick else ["--epochs", "2"]
    with tempfile.TemporaryDirectory(prefix="whole-") as tmp:
        cli = [sys.executable, "-m", "mnist_core.train", "--recipe", "notebook", *epochs, "--data",
               "mnist", "--data-dir", str(data_dir()), "--runs-dir", str(Path(tmp) / "runs")]
        notebook = [sys.executable, "benchmarks/notebook_reference.py", *epochs, "--test"]
        if quick:  # the CLI has no step limit: the offline sample keeps the smoke run short
            cli[cli.index("mnist")] = "mnist-sample"
            notebook += ["--steps", "50"]
        ours, theirs = alternate([("CLI", cli, None), ("notebook", notebook, None)], 1 if quick else repeats)
    our_s, their_s = statistics.median(w for w, _ in ours), statistics.median(w for w, _ in theirs)
    our_loss, their_loss = ours[0][1], theirs[0][1]
    what = "1 epoch (quick)" if quick else "2 epochs"
    return [
        Row("whole_process", f"notebook recipe, {what}: the training CLI, start to exit", our_s, "s",
            "the notebook's loop + test loop", their_s, "" if quick else f">= {TARGET:g}x",
            None if quick else their_s / our_s >= TARGET),
        Row("whole_process", "first-epoch average loss, CLI", our_loss, "", "the notebook's loop", their_loss,
            "" if quick else "same within 0.05", None if quick else abs(our_loss - their_loss) <= 0.05),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1 epoch on the offline sample / 50 batches: a smoke run")
    p.add_argument("--repeats", type=int, default=2, help="alternating pairs of runs (default 2)")
    args = p.parse_args()
    print_rows(run(args.quick, args.repeats))


if __name__ == "__main__":
    main()
