"""glibc's malloc tuned or not (mnist_core.allocator): the same training command in fresh interpreters, side by side.

    python benchmarks/allocator.py [--quick] [--repeats 3]          (also part of benchmarks/run.py)

`python -m mnist_core.train --recipe fast --data mnist` from start to exit with MNIST_KEEP_FREED_MEMORY=0
(glibc's defaults: a fresh process page-faults its step buffers in again and again) against the default (the
thresholds set at the start of run_training), alternating `--repeats` times so that a busy machine slows both
alike; the median of each. Same recipe and seed, so the first-epoch loss must agree to the last digit printed.
--quick: 1 epoch of the offline sample (a smoke run, no target).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import Row, data_dir, print_rows
from whole_process import alternate, faster_rows


def run(quick: bool = False, repeats: int = 3) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="allocator-") as tmp:
        cmd = [sys.executable, "-m", "mnist_core.train", "--recipe", "fast", "--data", "mnist-sample" if quick else
               "mnist", "--data-dir", str(data_dir()), "--runs-dir", str(Path(tmp) / "runs")]
        kept, default = alternate([("kept", cmd, {"MNIST_KEEP_FREED_MEMORY": "1"}),
                                   ("glibc default", cmd, {"MNIST_KEEP_FREED_MEMORY": "0"})],
                                  1 if quick else repeats, loss_digits=5)
    what = "1 epoch of the offline sample (quick)" if quick else "MNIST"
    return faster_rows("allocator", f"`--recipe fast` on {what}, start to exit, freed memory kept", kept,
                       "glibc's default thresholds", default, quick)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1 epoch of the offline sample: a smoke run")
    p.add_argument("--repeats", type=int, default=3, help="alternating pairs of runs (default 3)")
    args = p.parse_args()
    print_rows(run(args.quick, args.repeats))
