"""Inference: class probabilities for the 10,000 MNIST test digits via predict_proba, per network.

    python benchmarks/inference.py [--quick] [--repeats N]

The reference is the notebook's test loop (a ToTensor DataLoader with batch 32, softmax per batch) on the
notebook net, measured in the same run. Each figure is the median of `--repeats` runs (default 5; quick 2).
Untrained weights: the time does not depend on their values. Target: < 1 s on 2 cores.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import Row, data_dir, load_average, print_rows
from notebook_reference import Network, test_notebook

from mnist_core.data import load_dataset, normalization
from mnist_core.nets import ARCHITECTURES, make_net
from mnist_core.predict import predict_proba

TARGET_SECONDS = 1.0


def time_predict(model: torch.nn.Module, images: torch.Tensor, repeats: int) -> float:
    mean, std = normalization(True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_proba(model, images, mean, std)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(quick: bool = False, repeats: int | None = None) -> list[Row]:
    repeats = repeats or (2 if quick else 5)
    images = load_dataset("mnist", data_dir(), download=False).test_images  # (10000, 28, 28) uint8
    load_before = load_average()
    torch.manual_seed(0)
    notebook_net = Network().eval()
    reference = statistics.median(test_notebook(notebook_net)[0] for _ in range(repeats))
    rows = []
    for name in ARCHITECTURES:
        seconds = time_predict(make_net(name), images, repeats)
        print(f"{name}: predict_proba {seconds:.3f} s, notebook test loop {reference:.3f} s", flush=True)
        rows.append(Row("inference", f"predict_proba, 10,000 digits, `{name}` net", seconds, "s",
                        "notebook test loop (notebook net)", reference, f"< {TARGET_SECONDS:g} s",
                        None if quick else seconds < TARGET_SECONDS))
    print(f"load average before {load_before}, after {load_average()}")
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--repeats", type=int, default=None)
    args = p.parse_args()
    print_rows(run(args.quick, args.repeats))
