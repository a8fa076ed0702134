"""UMAP (umap-learn) against openTSNE on a run's penultimate-layer features: wall time and 2D k-NN label agreement.

    python benchmarks/embedding_map.py --run runs/<run id> [--n 60000] [--only umap,umap-parallel,opentsne]

The features are the 60,000 MNIST training images embedded (float16) by the run's final model
(mnist_core.embedding_map.embed). "umap" is what make_map runs (seeded, so single-threaded); "umap-parallel" is
umap-learn unseeded on every core; "opentsne" is openTSNE's default (FFT gradients, n_jobs = cores).
Agreement: the share of points whose 10 nearest neighbours in 2D mostly carry their own label.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from mnist_core import runs
from mnist_core.data import load_dataset
from mnist_core.embedding_map import embed


def knn_agreement(points: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out k-NN accuracy in 2D: high when each digit's points stay together."""
    clf = KNeighborsClassifier(n_neighbors=k + 1).fit(points, labels)
    neighbours = clf.kneighbors(points, return_distance=False)[:, 1:]
    votes = np.apply_along_axis(lambda row: np.bincount(row, minlength=labels.max() + 1).argmax(), 1,
                                labels[neighbours])
    return float((votes == labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", required=True)
    parser.add_argument("--n", type=int, default=60000)
    parser.add_argument("--only", default="umap,umap-parallel,opentsne")
    args = parser.parse_args()
    net, meta = runs.load_checkpoint(Path(args.run) / "model.pt")
    data = load_dataset("mnist", os.environ.get("MNIST_DATA_DIR", "../shared/data"))
    images, labels = data.train_images[: args.n], data.train_labels[: args.n].numpy()
    started = time.perf_counter()
    features = embed(net, images, meta["mean"], meta["std"])
    print(f"embed {len(images):,} images -> {features.shape} {features.dtype}: {time.perf_counter() - started:.1f} s")
    x = features.astype(np.float32)
    for name in args.only.split(","):
        started = time.perf_counter()
        if name == "umap":
            import umap
            points = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=0).fit_transform(x)
        elif name == "umap-parallel":
            import umap
            points = umap.UMAP(n_neighbors=15, min_dist=0.1, n_jobs=os.cpu_count()).fit_transform(x)
        elif name == "opentsne":
            from openTSNE import TSNE
            points = np.asarray(TSNE(n_jobs=os.cpu_count(), random_state=0).fit(x))
        else:
            raise SystemExit(f"unknown method {name}")
        seconds = time.perf_counter() - started
        print(f"{name:14s} {seconds:6.1f} s   2D 10-NN label agreement {knn_agreement(points, labels):.4f}")


if __name__ == "__main__":
    main()
