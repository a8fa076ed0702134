"""A run's probabilities beyond probs.pt: the validation split, its probabilities and temperature, and the test
probabilities after every epoch. Files in the run folder, each written atomically:

    val_probs.pt      {"probs": (V, C) float32, "labels": (V,) int64}  only with --validation N > 0
    calibration.json  {"temperature": T, "validation": V}               fitted on val_probs.pt at the end
    epoch_probs.pt    {"probs": (E, N, C) float16, "labels": (N,) int64} the test set after each epoch

    from mnist_core.run_probs import stratified_holdout, load_val_probs, load_epoch_probs
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from mnist_core.files import read_json, write_bytes_atomic, write_json_atomic
from mnist_core.runs import RunStoreError


def stratified_holdout(labels: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices): n images held out, each class in proportion to its share (largest
    remainders fill the rounding), chosen by `seed`, every class keeping at least one training image."""
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


def _save(path: Path, blob: dict) -> None:
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def _load(path: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(probs, labels) from one of these files, None when the run has none; RunStoreError when unreadable."""
    try:
        blob = torch.load(path, weights_only=True)
    except FileNotFoundError:
        return None
    except Exception as exc:
        raise RunStoreError(f"{path.name} of run {path.parent.name} is unreadable ({type(exc).__name__})") from exc
    if not isinstance(blob, dict) or not all(isinstance(blob.get(k), torch.Tensor) for k in ("probs", "labels")):
        raise RunStoreError(f"{path.name} of run {path.parent.name} is not a probabilities file")
    return blob["probs"], blob["labels"]


def save_validation(run_dir: Path, probs: torch.Tensor, labels: torch.Tensor, temperature: float) -> None:
    _save(Path(run_dir) / "val_probs.pt", {"probs": probs.float().cpu(), "labels": labels.long().cpu()})
    write_json_atomic(Path(run_dir) / "calibration.json", {"temperature": temperature, "validation": len(labels)})


def load_val_probs(run_dir: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
    return _load(Path(run_dir) / "val_probs.pt")


def load_temperature(run_dir: Path) -> float | None:
    """The temperature fitted at the end of training on the validation split; None without one."""
    value = (read_json(Path(run_dir) / "calibration.json", default={}, error=RunStoreError) or {}).get("temperature")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def save_epoch_probs(run_dir: Path, per_epoch: list[torch.Tensor], labels: torch.Tensor) -> None:
    """float16 halves the file (10 epochs of 10,000 x 10: 2 MB) and keeps 3 significant digits, plenty to plot."""
    _save(Path(run_dir) / "epoch_probs.pt", {"probs": torch.stack([p.half().cpu() for p in per_epoch]),
                                             "labels": labels.long().cpu()})


def load_epoch_probs(run_dir: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
    """((E, N, C) float16, (N,)) of a run trained since epoch probabilities were kept; None for older runs."""
    return _load(Path(run_dir) / "epoch_probs.pt")
