"""Reading MNIST at start-up: what an `.npy` cache beside the IDX files would buy (issue 15, "How").

    python benchmarks/data_read.py [--repeats 5]          (also part of benchmarks/run.py)

Side by side, from the page cache (each read once before timing), the median of `--repeats` reads of all
70,000 images and labels: torchvision's MNIST datasets (train and test: its own IDX reader), the product's
`load_arrays("mnist")` (header checks, then numpy reads the same bytes), and the cache the issue suggests, the
same four arrays saved as `.npy` files in a temporary folder, loaded whole and memory-mapped (with a sum over
the images so that the mapped pages are read). The cache is worth building only if it saves a visible part
of a start-up that takes seconds (benchmarks/whole_process.py).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import Row, data_dir, print_rows

from mnist_core.data import ARRAYS, load_arrays


def median_seconds(read: Callable[[], object], repeats: int) -> float:
    read()  # warm: the page cache, torchvision's imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_torchvision() -> None:
    import torchvision.datasets as tvd

    for train in (True, False):
        tvd.MNIST(str(data_dir()), train=train, download=False)


def run(quick: bool = False, repeats: int = 5) -> list[Row]:
    repeats = 2 if quick else repeats
    ours = median_seconds(lambda: load_arrays("mnist", data_dir(), download=False), repeats)
    theirs = median_seconds(read_torchvision, repeats)
    dataset = load_arrays("mnist", data_dir(), download=False)
    with tempfile.TemporaryDirectory(prefix="npy-cache-") as tmp:
        paths = {k: Path(tmp) / f"{k}.npy" for k in ARRAYS}
        for key, path in paths.items():
            np.save(path, getattr(dataset, key))
        whole = median_seconds(lambda: [np.load(p) for p in paths.values()], repeats)

        def mapped() -> None:
            arrays = {k: np.load(p, mmap_mode="r") for k, p in paths.items()}
            int(arrays["train_images"].sum(dtype=np.uint64)) + int(arrays["test_images"].sum(dtype=np.uint64))

        mapped_s = median_seconds(mapped, repeats)
    for name, seconds in (("torchvision", theirs), ("load_arrays", ours), (".npy whole", whole),
                          (".npy mapped + read", mapped_s)):
        print(f"  {name}: {seconds * 1000:.1f} ms", flush=True)
    ref = "torchvision's MNIST, train + test"
    return [Row("data_read", "`load_arrays('mnist')`: IDX header checks + numpy", ours, "s", ref, theirs),
            Row("data_read", "`.npy` cache, loaded whole", whole, "s", ref, theirs),
            Row("data_read", "`.npy` cache, memory-mapped, images summed", mapped_s, "s", ref, theirs)]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="2 repeats")
    args = p.parse_args()
    print_rows(run(args.quick, args.repeats))
