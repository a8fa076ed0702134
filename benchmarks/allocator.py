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
import statistics
import sys
import tempfile
from pathlib import Path

from common import Row, data_dir, print_rows
from whole_process import timed


def run(quick: bool = False, repeats: int = 3) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="allocator-") as tmp:
        cmd = [sys.executable, "-m", "mnist_core.train", "--recipe", "fast", "--data", "mnist-sample" if quick else
               "mnist", "--data-dir", str(data_dir()), "--runs-dir", str(Path(tmp) / "runs")]
        kept, default = [], []
        for r in range(1 if quick else repeats):
            for name, setting, into in (("kept", "1", kept), ("glibc default", "0", default))[::1 if r % 2 else -1]:
                wall, loss = timed(cmd, {"MNIST_KEEP_FREED_MEMORY": setting})
                into.append((wall, loss))
                print(f"  {name}: {wall:.1f} s, first-epoch loss {loss:.5f}", flush=True)
    kept_s, default_s = statistics.median(w for w, _ in kept), statistics.median(w for w, _ in default)
    what = "1 epoch of the offline sample (quick)" if quick else "MNIST"
    return [
        Row("allocator", f"`--recipe fast` on {what}, start to exit, freed memory kept", kept_s, "s",
            "glibc's default thresholds", default_s, "" if quick else "faster",
            None if quick else kept_s < default_s),
        Row("allocator", "first-epoch average loss, freed memory kept", kept[0][1], "", "glibc's defaults",
            default[0][1], "" if quick else "identical", None if quick else kept[0][1] == default[0][1]),
    ]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1 epoch of the offline sample: a smoke run")
    p.add_argument("--repeats", type=int, default=3, help="alternating pairs of runs (default 3)")
    args = p.parse_args()
    print_rows(run(args.quick, args.repeats))
