"""Memory: peak resident set size of a training worker, `python -m mnist_core.train`, per recipe.

    python benchmarks/memory.py [--quick]

Each run is a fresh process on real MNIST for one epoch (`--epochs 1`: the peak is reached in the first
epoch; later epochs allocate nothing new) into a temporary runs folder; its peak RSS comes from the kernel
(os.wait4). The reference is the notebook's loop (benchmarks/notebook_reference.py, one epoch) in a process of
its own. Quick: the `notebook` recipe only, and the reference for 100 batches. Target: < 1.5 GB.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO_ROOT, Row, data_dir, print_rows

TARGET_BYTES = 1.5e9
RECIPES = ("notebook", "fast", "best")


def peak_rss(argv: list[str]) -> int:
    """Run argv to the end; return its peak RSS in bytes. Raises RuntimeError with its output if it fails."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{log.read().decode()[-2000:]}")
    return usage.ru_maxrss * 1024  # Linux reports kilobytes


def run(quick: bool = False) -> list[Row]:
    reference_argv = [sys.executable, str(Path(__file__).with_name("notebook_reference.py")), "--epochs", "1"]
    reference = peak_rss(reference_argv + (["--steps", "100"] if quick else []))
    print(f"notebook loop: peak RSS {reference / 1e6:.0f} MB", flush=True)
    rows = []
    for recipe in RECIPES[:1] if quick else RECIPES:
        with tempfile.TemporaryDirectory() as runs_dir:
            peak = peak_rss([sys.executable, "-m", "mnist_core.train", "--recipe", recipe, "--epochs", "1",
                             "--data", "mnist", "--data-dir", str(data_dir()), "--runs-dir", runs_dir])
        print(f"`{recipe}` recipe worker: peak RSS {peak / 1e6:.0f} MB", flush=True)
        rows.append(Row("memory", f"peak RSS, training worker, `{recipe}` recipe, 1 epoch", peak / 1e6, "MB",
                        "notebook loop process", reference / 1e6, f"< {TARGET_BYTES / 1e9:g} GB",
                        peak < TARGET_BYTES))
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="the notebook recipe only")
    print_rows(run(p.parse_args().quick))
