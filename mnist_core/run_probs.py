"""A run's probabilities beyond probs.pt: the validation split, its probabilities and temperature, and the test
probabilities after every epoch. Files in the run folder, each written atomically:

    val_probs.pt      {"probs": (V, C) float32, "labels": (V,) int64}  only with --validation N > 0
    calibration.json  {"temperature": T, "validation": V}               fitted on val_probs.pt at the end
    epoch_probs.pt    {"probs": (E, N, C) float16, "labels": (N,) int64} the test set after each epoch
    oof_probs.pt      {"probs": (N_train, C) float32, "labels": (N_train,) int64, "folds": (N_train,) int8,
                       "k": K}: with --folds K, each training image's probabilities from the fold model that
                       did not train on it (mnist_core.folds); training index = the data source's own order
    embeddings.pt     {"train": (N_train, D) float16, "test": (N_test, D) float16}: penultimate-layer features,
                       the training images' from their out-of-fold model, the test images' from the final model

    from mnist_core.run_probs import stratified_holdout, load_val_probs, load_epoch_probs, load_oof
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


def read_blob(path: Path, what: str) -> dict | None:
    """The dict a run file holds (torch.load, weights only); None when the run has no such file; RunStoreError
    naming the file and run, never its contents, when it is unreadable or not a dict."""
    try:
        blob = torch.load(path, weights_only=True)
    except FileNotFoundError:
        return None
    except Exception as exc:  # torch raises many kinds on a damaged file; none of them is the visitor's business
        raise RunStoreError(f"{path.name} of run {path.parent.name} is unreadable ({type(exc).__name__})") from exc
    if not isinstance(blob, dict):
        raise RunStoreError(f"{path.name} of run {path.parent.name} is not {what}")
    return blob


def _load(path: Path, blob: dict | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(probs, labels) from one of these files, None when the run has none; RunStoreError when unreadable."""
    blob = blob if blob is not None else read_blob(path, "a probabilities file")
    if blob is None:
        return None
    if not all(isinstance(blob.get(k), torch.Tensor) for k in ("probs", "labels")):
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


def save_oof(run_dir: Path, probs: torch.Tensor, labels: torch.Tensor, folds, k: int) -> None:
    _save(Path(run_dir) / "oof_probs.pt", {"probs": probs.float().cpu(), "labels": labels.long().cpu(),
                                           "folds": torch.as_tensor(folds, dtype=torch.int8).cpu(), "k": int(k)})


def load_oof(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(probs (N, C) float32, labels (N,) int64, folds (N,) int8) of a run trained with --folds; None without."""
    path = Path(run_dir) / "oof_probs.pt"
    blob = read_blob(path, "a probabilities file")
    pair = _load(path, blob)
    if pair is None:
        return None
    folds = blob.get("folds")
    if not isinstance(folds, torch.Tensor) or folds.shape != pair[1].shape or pair[0].shape[:1] != pair[1].shape:
        raise RunStoreError(f"{path.name} of run {path.parent.name} has mismatched probabilities, labels and folds")
    return pair[0].float().numpy(), pair[1].long().numpy(), folds.to(torch.int8).numpy()


def save_embeddings(run_dir: Path, **splits: torch.Tensor) -> None:
    _save(Path(run_dir) / "embeddings.pt", {name: t.half().cpu() for name, t in splits.items()})


def load_embeddings(run_dir: Path) -> dict[str, np.ndarray] | None:
    """{"train": (N_train, D), "test": (N_test, D)} float16 features of a run that kept them; None without."""
    path = Path(run_dir) / "embeddings.pt"
    blob = read_blob(path, "an embeddings file")
    if blob is None:
        return None
    if not all(isinstance(v, torch.Tensor) and v.dim() == 2 for v in blob.values()):
        raise RunStoreError(f"{path.name} of run {path.parent.name} is not an embeddings file")
    return {str(name): t.numpy() for name, t in blob.items()}
