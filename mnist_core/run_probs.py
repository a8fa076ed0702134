"""A run's probabilities beyond probs.npz: the validation split, its probabilities and temperature, and the test
probabilities after every epoch. Files in the run folder, each written atomically as numpy .npz archives
(mnist_core.run_arrays; runs trained before them have the same dicts as torch.save .pt files, still read):

    val_probs.npz     {"probs": (V, C) float32, "labels": (V,) int64}  only with --validation N > 0
    calibration.json  {"temperature": T, "validation": V}               fitted on val_probs at the end
    epoch_probs.npz   {"probs": (E, N, C) float16, "labels": (N,) int64} the test set after each epoch
    oof_probs.npz     {"probs": (N_train, C) float32, "labels": (N_train,) int64, "folds": (N_train,) int8,
                       "k": K}: with --folds K, each training image's probabilities from the fold model that
                       did not train on it (mnist_core.folds); training index = the data source's own order
    embeddings.npz    {"train": (N_train, D) float16, "test": (N_test, D) float16}: penultimate-layer features,
                       the training images' from their out-of-fold model, the test images' from the final model

Every reader returns numpy arrays, so the pages that show them never import torch.

    from mnist_core.run_probs import stratified_holdout, load_val_probs, load_epoch_probs, load_oof
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.files import read_json, write_json_atomic
from mnist_core.run_arrays import array_file, as_array, read_arrays, save_arrays
from mnist_core.runs import RunStoreError

if TYPE_CHECKING:
    import torch


def stratified_holdout(labels: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices): n images held out, each class in proportion to its share (largest
    remainders fill the rounding), chosen by `seed`, every class keeping at least one training image."""
    import torch  # the trainer's indices; the rest of this module is read by the pages, without torch

    labels_np = np.asarray(labels, dtype=np.int64)
    total = len(labels_np)
    if not (isinstance(n, int) and 0 <= n < total):
        raise ValueError(f"validation: must be between 0 and {total - 1} (the training images), got {n!r}")
    classes, counts = np.unique(labels_np, return_counts=True)
    if n > total - len(classes):
        raise ValueError(f"validation: {n} of {total} training images would leave a class with none to train on; "
                         f"use at most {total - len(classes)}")
    share = counts * n / total
    take = np.floor(share).astype(np.int64)
    for i in np.argsort(-(share - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    take = np.minimum(take, counts - 1)
    while take.sum() < n:  # a tiny class capped above: give its place to the biggest class with room
        take[np.argmax(counts - 1 - take)] += 1
    rng = np.random.default_rng(seed)
    held = np.concatenate([rng.permutation(np.flatnonzero(labels_np == c))[:k]
                           for c, k in zip(classes, take, strict=True)])
    held.sort()
    keep = np.ones(total, dtype=bool)
    keep[held] = False
    return torch.from_numpy(np.flatnonzero(keep)), torch.from_numpy(held)


def _load(run_dir: Path, stem: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(probs, labels) from one of these files, None when the run has none; RunStoreError when unreadable."""
    blob = read_arrays(run_dir, stem, "a probabilities file")
    if blob is None:
        return None
    if not all(isinstance(blob.get(k), np.ndarray) for k in ("probs", "labels")):
        raise RunStoreError(f"{array_file(run_dir, stem).name} of run {Path(run_dir).name} is not a probabilities "
                            "file")
    return blob["probs"], blob["labels"]


def save_validation(run_dir: Path, probs, labels, temperature: float) -> None:
    save_arrays(run_dir, "val_probs", probs=as_array(probs, np.float32), labels=as_array(labels, np.int64))
    write_json_atomic(Path(run_dir) / "calibration.json", {"temperature": temperature, "validation": len(labels)})


def load_val_probs(run_dir: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """((V, C) float32, (V,) int64) of the run's validation split; None without one."""
    return _load(Path(run_dir), "val_probs")


def load_temperature(run_dir: Path) -> float | None:
    """The temperature fitted at the end of training on the validation split; None without one."""
    value = (read_json(Path(run_dir) / "calibration.json", default={}, error=RunStoreError) or {}).get("temperature")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def save_epoch_probs(run_dir: Path, per_epoch: list, labels) -> None:
    """float16 halves the file (10 epochs of 10,000 x 10: 2 MB) and keeps 3 significant digits, plenty to plot."""
    save_arrays(run_dir, "epoch_probs", probs=np.stack([as_array(p, np.float16) for p in per_epoch]),
                labels=as_array(labels, np.int64))


def load_epoch_probs(run_dir: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """((E, N, C) float16, (N,)) of a run trained since epoch probabilities were kept; None for older runs."""
    return _load(Path(run_dir), "epoch_probs")


def save_oof(run_dir: Path, probs, labels, folds, k: int) -> None:
    save_arrays(run_dir, "oof_probs", probs=as_array(probs, np.float32), labels=as_array(labels, np.int64),
                folds=as_array(folds, np.int8), k=np.int64(k))


def load_oof(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(probs (N, C) float32, labels (N,) int64, folds (N,) int8) of a run trained with --folds; None without."""
    blob = read_arrays(run_dir, "oof_probs", "a probabilities file")
    pair = _load(Path(run_dir), "oof_probs") if blob is not None else None
    if pair is None:
        return None
    folds = blob.get("folds")
    if not isinstance(folds, np.ndarray) or folds.shape != pair[1].shape or pair[0].shape[:1] != pair[1].shape:
        raise RunStoreError(f"{array_file(run_dir, 'oof_probs').name} of run {Path(run_dir).name} has mismatched "
                            "probabilities, labels and folds")
    return pair[0].astype(np.float32), pair[1].astype(np.int64), folds.astype(np.int8)


def save_embeddings(run_dir: Path, **splits) -> None:
    save_arrays(run_dir, "embeddings", **{name: as_array(t, np.float16) for name, t in splits.items()})


def load_embeddings(run_dir: Path) -> dict[str, np.ndarray] | None:
    """{"train": (N_train, D), "test": (N_test, D)} float16 features of a run that kept them; None without."""
    blob = read_arrays(run_dir, "embeddings", "an embeddings file")
    if blob is None:
        return None
    if not all(isinstance(v, np.ndarray) and v.ndim == 2 for v in blob.values()):
        raise RunStoreError(f"{array_file(run_dir, 'embeddings').name} of run {Path(run_dir).name} is not an "
                            "embeddings file")
    return blob
