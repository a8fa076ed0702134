"""The two splits a review can be on: the test images (probs.pt) and the training images, with the out-of-fold
probabilities of a cross-validated run (oof_probs.pt, written by `python -m mnist_core.train --folds K`).

    from mnist_core.review.splits import load_train_probs
    probs, labels = load_train_probs(run_dir) or (None, None)   # None: the run was not cross-validated

oof_probs.pt is a torch.save of {"probs": float32 [N_train, C], "labels": int64 [N_train] (the training labels
the folds trained on, after label corrections), "folds": int8 [N_train], "k": int}; training index i is the
image's index in the data source's training split. (mnist_core.run_probs.load_oof reads the same file with its
folds, from issue 12 part A; this reader checks what the review needs.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mnist_core.run_probs import read_blob
from mnist_core.runs import RunStoreError

SPLITS = {"test": "Test images", "train": "Training images"}
OOF_FILE = "oof_probs.pt"
NO_OOF = ("This run has no out-of-fold probabilities for its training images, so they cannot be reviewed. Train "
          "a run with \"Cross-validate for data review\" on the Train page (or python -m mnist_core.train --folds "
          "5): every training image is then scored by a model that never saw it.")


def load_train_probs(run_dir: Path | str) -> tuple[np.ndarray, np.ndarray] | None:
    """(probs (N, C) float32, labels (N,) int64) from the run's oof_probs.pt; None when the run has none;
    RunStoreError when the file is unreadable or not of that format (never quoting it)."""
    blob = read_blob(Path(run_dir) / OOF_FILE, "an out-of-fold probabilities file")
    if blob is None:
        return None
    probs, labels = (blob.get(k) for k in ("probs", "labels"))
    if not (isinstance(probs, torch.Tensor) and isinstance(labels, torch.Tensor) and probs.ndim == 2
            and labels.shape == (probs.shape[0],) and probs.shape[1] > 0 and not labels.is_floating_point()):
        raise RunStoreError(f"{OOF_FILE} of run {Path(run_dir).name} is not (probs (N, C), labels (N,))")
    probs_np, labels_np = probs.float().numpy(), labels.long().numpy()
    if len(labels_np) and (labels_np.min() < 0 or labels_np.max() >= probs_np.shape[1]):
        raise RunStoreError(f"{OOF_FILE} of run {Path(run_dir).name} has labels outside 0..{probs_np.shape[1] - 1}")
    return probs_np, labels_np
