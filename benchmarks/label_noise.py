"""Label noise: does the training-data review find deliberately wrong labels, and does fixing them help?

    python benchmarks/label_noise.py [--quick] [--train-size N] [--rates 0.02,0.1]   # full: ~20 min, 2 idle cores

For each noise rate (2 %, then 10 %): flip a seeded share of MNIST's 60,000 training labels to another class,
through a corrections file (so indices stay MNIST's), get out-of-fold probabilities of every training image
from 5 folds of the `fast` recipe, and rank the training images with cleanlab (mnist_core.review.issues) and with
the old rule (mnist_core.review.suspects) side by side. Reported: precision among the top N (N = the number
flipped), recall within the top 2N, the flagged sets' size/precision/recall, and the test accuracy of the `fast`
recipe trained on the clean labels, the noisy labels, the noisy labels without cleanlab's flagged images, and the
noisy labels with the flagged images set to cleanlab's suggested label. Targets: precision >= 0.90, recall
within 2N >= 0.97.

The folds: `python -m mnist_core.train --folds 5 --recipe fast --label-corrections FILE` when the training CLI
has --folds (issue 12, part A); before that, the same K-fold training in this script (stratified, seeded folds,
each fold's `fast` model scores the images it did not train on). Which one ran is printed and in the table.
Quick (a smoke run, about two minutes): 3,000 training and 1,000 test images, 1 epoch; no target applies.
--train-size N: only MNIST's first N training images (all 10,000 test images), the recipe unchanged: for a
machine too busy for 17 trainings on 60,000 (the folds then run in this script, as the CLI trains on all).
"""
from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import REPO_ROOT, Row, data_dir, print_rows

from mnist_core.config import TrainConfig, apply_recipe
from mnist_core.data import Dataset, load_dataset, normalization
from mnist_core.predict import predict_proba
from mnist_core.review.corrections import apply_label_corrections, write_corrections
from mnist_core.review.issues import find_issues, split_inputs
from mnist_core.review.suspects import find_suspects
from mnist_core.run_arrays import array_file
from mnist_core.trainer import train

RATES = (0.02, 0.10)
K = 5
SEED = 0
TARGET_PRECISION, TARGET_RECALL = 0.90, 0.97


def flip_labels(labels: np.ndarray, rate: float, seed: int, classes: int = 10) -> dict[tuple[str, int], int]:
    """{("train", index): new label}: a seeded `rate` share of the images, each moved to another class."""
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(labels), size=round(rate * len(labels)), replace=False))
    new = (labels[chosen] + rng.integers(1, classes, size=len(chosen))) % classes
    return {("train", int(i)): int(y) for i, y in zip(chosen, new, strict=True)}


def fast_config(epochs: int | None) -> TrainConfig:
    config = apply_recipe(TrainConfig(data="mnist", seed=SEED), "fast")
    return dataclasses.replace(config, epochs=epochs or config.epochs)


def train_fast(dataset: Dataset, epochs: int | None) -> tuple[torch.nn.Module, float]:
    """(net, test accuracy) of the `fast` recipe on dataset."""
    for event in train(fast_config(epochs), dataset):
        if event["type"] == "failed":
            raise RuntimeError(event["error"])
    return event["net"], event["test_accuracy"]


def subset(dataset: Dataset, keep: np.ndarray, labels: np.ndarray | None = None) -> Dataset:
    idx = torch.from_numpy(keep)
    train_labels = dataset.train_labels if labels is None else torch.from_numpy(labels)
    return dataclasses.replace(dataset, train_images=dataset.train_images[idx], train_labels=train_labels[idx])


def has_folds_cli() -> bool:
    out = subprocess.run([sys.executable, "-m", "mnist_core.train", "--help"], capture_output=True, text=True,
                         cwd=REPO_ROOT)
    return "--folds" in out.stdout


def oof_in_script(noisy: Dataset, epochs: int | None) -> np.ndarray:
    """Out-of-fold probabilities (N, C) trained here: stratified seeded folds, each fold's `fast` model scoring
    the images it did not train on. The fold models are evaluated on 100 test images only (their test accuracy
    is not reported; the per-epoch evaluation of all 10,000 would cost a fifth of each fold's time)."""
    from sklearn.model_selection import StratifiedKFold

    labels = noisy.train_labels.numpy()
    probs = np.zeros((len(labels), noisy.num_classes), dtype=np.float32)
    mean, std = normalization(fast_config(epochs).normalize)
    small_test = dataclasses.replace(noisy, test_images=noisy.test_images[:100], test_labels=noisy.test_labels[:100])
    folds = StratifiedKFold(n_splits=K, shuffle=True, random_state=SEED).split(np.zeros(len(labels)), labels)
    for k, (fit, held) in enumerate(folds):
        start = time.perf_counter()
        net, _ = train_fast(subset(small_test, fit), epochs)
        probs[held] = predict_proba(net, noisy.train_images[torch.from_numpy(held)], mean, std).numpy()
        acc = (probs[held].argmax(1) == labels[held]).mean()
        print(f"  fold {k + 1}/{K}: held-out accuracy on the noisy labels {acc:.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    return probs


def oof_by_cli(corrections: Path, runs_dir: Path, quick: bool) -> tuple[np.ndarray, float]:
    """The same from `python -m mnist_core.train --folds 5 --recipe fast` (its final model is the noisy one)."""
    cmd = [sys.executable, "-m", "mnist_core.train", "--data", "mnist", "--recipe", "fast", "--folds", str(K),
           "--seed", str(SEED), "--label-corrections", str(corrections), "--runs-dir", str(runs_dir),
           "--data-dir", str(data_dir())] + (["--epochs", "1"] if quick else [])
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)
    (run,) = [p for p in runs_dir.iterdir() if array_file(p, "oof_probs")]
    probs, _, _, _ = split_inputs(run, "train")
    test_probs, test_labels, _, _ = split_inputs(run, "test")
    return probs, float((test_probs.argmax(1) == test_labels).mean())


def ranking_figures(order: np.ndarray, flagged: np.ndarray, flipped: np.ndarray) -> tuple[float, float, float, float]:
    """(precision in the top N, recall in the top 2N, precision and recall of the flagged set)."""
    n, truth = len(flipped), np.zeros(len(flagged), dtype=bool)
    truth[flipped] = True
    hits = flagged & truth
    return (truth[order[:n]].mean(), truth[order[:2 * n]].sum() / n,
            hits.sum() / max(flagged.sum(), 1), hits.sum() / n)


def rank_rate(dataset: Dataset, rate: float, quick: bool, use_cli: bool, tmp: Path) -> dict:
    """Flip, get out-of-fold probabilities, rank with cleanlab and the old rule; print and return the figures."""
    labels = dataset.train_labels.numpy()
    flips = flip_labels(labels, rate, SEED)
    flipped = np.array(sorted(i for _, i in flips))
    corrections = tmp / f"noise-{rate}.csv"
    write_corrections(corrections, "mnist", flips)
    noisy = apply_label_corrections(dataset, corrections)
    noisy_labels = noisy.train_labels.numpy()
    start = time.perf_counter()
    noisy_acc = None
    if use_cli:
        probs, noisy_acc = oof_by_cli(corrections, tmp / f"runs-{rate}", quick)
    else:
        probs = oof_in_script(noisy, 1 if quick else None)
    folds_s = time.perf_counter() - start
    table = find_issues(probs, noisy_labels)
    old = find_suspects(probs, noisy_labels)
    issues_first = np.lexsort((np.arange(len(probs)), table.label_quality, ~table.is_issue))  # the order left out
    figs = {"cleanlab": ranking_figures(table.order(), table.is_issue, flipped),
            "issues_first": ranking_figures(issues_first, table.is_issue, flipped),
            "old": ranking_figures(old.order, old.issue, flipped)}
    how = "train --folds 5" if use_cli else "in-script 5-fold"
    new_fig, old_fig = figs["cleanlab"], figs["old"]
    print(f"{rate * 100:g} % noise ({len(flipped)} flipped, {how}, {folds_s:.0f} s): cleanlab P@N {new_fig[0]:.4f} "
          f"R@2N {new_fig[1]:.4f} (likely issues first: {figs['issues_first'][0]:.4f}, {figs['issues_first'][1]:.4f}) "
          f"flagged {int(table.is_issue.sum())} (P {new_fig[2]:.4f} R {new_fig[3]:.4f}); "
          f"old rule P@N {old_fig[0]:.4f} R@2N {old_fig[1]:.4f} flagged {int(old.issue.sum())} "
          f"(P {old_fig[2]:.4f} R {old_fig[3]:.4f})", flush=True)
    return dict(rate=rate, noisy=noisy, table=table, flipped=flipped, figs=figs, noisy_acc=noisy_acc, how=how)


def ranking_rows(r: dict, quick: bool) -> list[Row]:
    bench = f"label_noise {r['rate'] * 100:g} % ({r['how']}, {len(r['table']):,} training images)"
    met = (lambda ok: None if quick else bool(ok))
    new_fig, q_fig, old_fig = r["figs"]["cleanlab"], r["figs"]["issues_first"], r["figs"]["old"]
    return [
        Row(bench, "precision in top N, cleanlab", new_fig[0], "", "old rule", old_fig[0],
            f">= {TARGET_PRECISION}", met(new_fig[0] >= TARGET_PRECISION)),
        Row(bench, "recall in top 2N, cleanlab", new_fig[1], "", "old rule", old_fig[1],
            f">= {TARGET_RECALL}", met(new_fig[1] >= TARGET_RECALL)),
        Row(bench, "precision in top N, cleanlab, likely issues first", q_fig[0], "", "old rule", old_fig[0]),
        Row(bench, "recall in top 2N, cleanlab, likely issues first", q_fig[1], "", "old rule", old_fig[1]),
        Row(bench, "flagged-set precision, cleanlab", new_fig[2], "", "old rule", old_fig[2]),
        Row(bench, "flagged-set recall, cleanlab", new_fig[3], "", "old rule", old_fig[3]),
    ]


def retrain_rows(r: dict, quick: bool, clean_acc: float, labels: np.ndarray) -> list[Row]:
    """Test accuracy of the `fast` recipe on the noisy labels, without and with cleanlab's flagged images fixed."""
    epochs = 1 if quick else None
    noisy, table, flipped = r["noisy"], r["table"], r["flipped"]
    noisy_acc = r["noisy_acc"] if r["noisy_acc"] is not None else train_fast(noisy, epochs)[1]
    _, removed_acc = train_fast(subset(noisy, np.flatnonzero(~table.is_issue)), epochs)
    fixed = np.where(table.is_issue, table.suggested, noisy.train_labels.numpy())
    _, corrected_acc = train_fast(subset(noisy, np.arange(len(fixed)), fixed), epochs)
    print(f"{r['rate'] * 100:g} % noise: test accuracy clean {clean_acc:.4f} noisy {noisy_acc:.4f} "
          f"removed {removed_acc:.4f} corrected {corrected_acc:.4f}; the correction is right for "
          f"{(fixed[flipped] == labels[flipped]).mean():.4f} of the flipped", flush=True)
    bench = f"label_noise {r['rate'] * 100:g} % ({r['how']}, {len(fixed):,} training images)"
    return [
        Row(bench, "test accuracy, noisy labels", noisy_acc, "", "clean labels", clean_acc),
        Row(bench, "test accuracy, cleanlab's flagged removed", removed_acc, "", "noisy labels", noisy_acc),
        Row(bench, "test accuracy, cleanlab's flagged corrected", corrected_acc, "", "noisy labels", noisy_acc),
    ]


def run(quick: bool = False, train_size: int = 0, rates: tuple[float, ...] = RATES) -> list[Row]:
    dataset = load_dataset("mnist", data_dir(), download=False)
    if quick:
        dataset = dataclasses.replace(dataset, train_images=dataset.train_images[:3000],
                                      train_labels=dataset.train_labels[:3000],
                                      test_images=dataset.test_images[:1000], test_labels=dataset.test_labels[:1000])
    elif train_size:
        dataset = dataclasses.replace(dataset, train_images=dataset.train_images[:train_size],
                                      train_labels=dataset.train_labels[:train_size])
    use_cli = has_folds_cli() and not quick and not train_size  # the CLI trains on the whole data source
    print(f"{len(dataset.train_labels)} training images, {len(dataset.test_labels)} test images", flush=True)
    if not use_cli:
        print("python -m mnist_core.train has no --folds here (or --quick): the 5 folds are trained in this script",
              flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:  # the rankings of every rate first, then the retraining
        ranked = [rank_rate(dataset, rate, quick, use_cli, Path(tmp)) for rate in rates]
    for r in ranked:
        rows += ranking_rows(r, quick)
    _, clean_acc = train_fast(dataset, 1 if quick else None)
    print(f"clean labels: test accuracy {clean_acc:.4f}", flush=True)
    for r in ranked:
        rows += retrain_rows(r, quick, clean_acc, dataset.train_labels.numpy())
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on 3,000 training images, 1 epoch")
    parser.add_argument("--train-size", type=int, default=0, help="only the first N training images (0 = all)")
    parser.add_argument("--rates", default=",".join(map(str, RATES)), help="noise rates (default 0.02,0.1)")
    args = parser.parse_args()
    print_rows(run(quick=args.quick, train_size=args.train_size, rates=tuple(map(float, args.rates.split(",")))))
