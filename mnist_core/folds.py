"""Cross-validation for the data review: K fold models give every training image probabilities from a model
that never trained on it (its features come from the final model: mnist_core.launch.save_review_files).

    from mnist_core.folds import fold_assignment; fold_assignment(labels, k=5, seed=0)  # int8 [N], 0..k-1

`cross_validate(config, dataset, should_stop, dist)` trains fold f on the images whose fold is not f and scores
the images whose fold is f; run_training (mnist_core.launch) runs it before the final model when
config.folds > 0. Its events (dicts, `type` first; `fold` 0-based, `folds` K, `round`/`rounds` this process's
position in its own folds):
    fold_batch   as the trainer's batch event, plus fold, folds, round, rounds; elapsed over the whole
                 cross-validation
    fold_epoch   epoch, epochs, train_loss, held_out_loss, held_out_accuracy (None but after the last epoch),
                 elapsed, fold, folds, round, rounds
    fold         one fold done: fold, folds, held_out_accuracy, held_out_loss, images, elapsed
    folds_done   the last: `probs` (N, C) float32, `folds` int8 (N,) (not written to metrics.jsonl), elapsed
    failed | cancelled   as the trainer's, plus fold

Under torchrun, rank r trains folds r, r + W, ... on its own (no DDP across ranks: the folds are
independent), with the same seeds as a single process; then the ranks agree on the outcome and sum their rows
of the out-of-fold arrays, so every rank ends with the same result and rank 0 writes it.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.distributed as tdist

from mnist_core.config import ConfigError, TrainConfig
from mnist_core.data import Dataset, normalization
from mnist_core.distributed import LOCAL, DistContext
from mnist_core.predict import evaluate, predict_proba
from mnist_core.trainer import train

FOLD_EVENTS = ("fold_batch", "fold_epoch", "fold")  # the cross-validation's progress events in metrics.jsonl


def fold_assignment(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """int8 [N]: the fold (0..k-1) that holds each image out. Stratified: each class's images, in a seeded
    random order, are dealt to the folds in turn, starting where the previous class stopped, so the folds'
    sizes differ by at most one and each class's share of a fold by at most one image."""
    labels = np.asarray(labels, dtype=np.int64)
    check_folds(k, labels)
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=np.int8)
    dealt = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        folds[members] = (dealt + np.arange(len(members))) % k
        dealt += len(members)
    return folds


def check_folds(k: int, labels: np.ndarray) -> None:
    """ConfigError("folds") unless k is 2..10 and every class has at least k training images (each fold then
    holds out, and trains on, every class)."""
    TrainConfig(folds=k).validate()  # the range check, with the config's own message
    classes, counts = np.unique(np.asarray(labels, dtype=np.int64), return_counts=True)
    if len(labels) < k:
        raise ConfigError("folds", f"{k} folds need at least {k} training images, the training set has {len(labels)}")
    smallest = int(np.argmin(counts))
    if counts[smallest] < k:
        raise ConfigError("folds", f"{k} folds need at least {k} training images of every class, but class "
                                   f"{int(classes[smallest])} has {int(counts[smallest])} (of {len(labels)} "
                                   f"training images): use fewer folds (at most {max(int(counts.min()), 1)})")


def fold_dataset(dataset: Dataset, folds: np.ndarray, fold: int) -> Dataset:
    """Fold `fold`'s data: trained on the images of the other folds, scored (as its 'test' set) on its own."""
    held = torch.from_numpy(np.flatnonzero(folds == fold))
    keep = torch.from_numpy(np.flatnonzero(folds != fold))
    images, labels = dataset.train_images, dataset.train_labels
    return Dataset(dataset.name, images[keep], labels[keep], images[held], labels[held], dataset.class_names)


def cross_validate(config: TrainConfig, dataset: Dataset, should_stop: Callable[[], bool] = lambda: False,
                   dist: DistContext = LOCAL) -> Iterator[dict]:
    """Train config.folds fold models (this rank's share under torchrun); yield the events above."""
    k, labels = config.folds, dataset.train_labels
    folds = fold_assignment(labels.numpy(), k, config.seed)
    mine = list(range(dist.rank, k, dist.world_size))
    # each fold trains as a plain single process; a fold's held-out images are its validation split
    fold_config = dataclasses.replace(config, folds=0, validation=0, workers=1)
    mean, std = normalization(config.normalize)
    probs = torch.zeros(len(labels), dataset.num_classes)
    start, outcome = time.perf_counter(), None
    for r, f in enumerate(mine):
        tag = {"fold": f, "folds": k, "round": r, "rounds": len(mine)}
        offset = time.perf_counter() - start
        part = fold_dataset(dataset, folds, f)
        # only the last epoch scores the held-out images: a fold's earlier scores would cost a tenth of its time
        for event in train(fold_config, part, should_stop=should_stop, dist=_single(dist), score_every_epoch=False):
            kind = event["type"]
            if kind == "batch":
                yield {**event, "type": "fold_batch", "elapsed": offset + event["elapsed"], **tag}
            elif kind == "epoch":
                yield {"type": "fold_epoch", "epoch": event["epoch"], "epochs": event["epochs"],
                       "train_loss": event["train_loss"], "held_out_loss": event["test_loss"],
                       "held_out_accuracy": event["test_accuracy"], "elapsed": offset + event["elapsed"], **tag}
            elif kind == "finished":
                held = folds == f
                probs[held] = predict_proba(event["net"], part.test_images, mean, std)
                yield {"type": "fold", "fold": f, "folds": k, "held_out_accuracy": event["test_accuracy"],
                       "held_out_loss": event["test_loss"], "images": int(held.sum()),
                       "elapsed": time.perf_counter() - start}
            else:  # failed or cancelled: this fold and every later one stop here
                outcome = {**event, "fold": f}
                break
        if outcome is not None:
            break
    if dist.enabled:
        outcome = _agree(dist, outcome)
        if outcome is None:
            probs = _sum_rows(dist, probs)
            yield from _others_folds(dist, mine, folds, probs, labels, k, time.perf_counter() - start)
    if outcome is not None:
        yield outcome
        return
    yield {"type": "folds_done", "probs": probs, "folds": folds,
           "elapsed": time.perf_counter() - start}


def _single(dist: DistContext) -> DistContext:
    """A one-process context on this rank's device: a fold model trains alone."""
    return LOCAL if not dist.enabled else DistContext(device=dist.device)


def _agree(dist: DistContext, outcome: dict | None) -> dict | None:
    """Every rank's outcome decided together (0 done, 1 cancelled, 2 failed: the worst wins), so no rank waits
    forever in the gather for a rank that stopped."""
    code = {None: 0, "cancelled": 1, "failed": 2}[outcome["type"] if outcome else None]
    vote = torch.tensor([float(code)], device=dist.device)
    tdist.all_reduce(vote, op=tdist.ReduceOp.MAX)
    agreed = int(vote.item())
    if agreed == code:
        return outcome
    kind = "cancelled" if agreed == 1 else "failed"
    return {"type": kind, "error": "a fold failed on another training process" if kind == "failed" else None}


def _sum_rows(dist: DistContext, probs: torch.Tensor) -> torch.Tensor:
    """Each rank filled only its folds' rows (zeros elsewhere): a sum over ranks is every row, on every rank."""
    t = probs.to(dist.device) if dist.device is not None else probs
    tdist.all_reduce(t)
    return t.cpu()


def _others_folds(dist: DistContext, mine: list[int], folds: np.ndarray, probs: torch.Tensor,
                  labels: torch.Tensor, k: int, elapsed: float) -> Iterator[dict]:
    """The `fold` events of the folds other ranks trained, scored from the gathered rows (rank 0 prints them)."""
    for f in sorted(set(range(k)) - set(mine)):
        held = torch.from_numpy(folds == f)
        metrics = evaluate(probs[held], labels[held])
        yield {"type": "fold", "fold": f, "folds": k, "held_out_accuracy": metrics["accuracy"],
               "held_out_loss": metrics["loss"], "images": int(held.sum()), "elapsed": elapsed}
