"""The two splits a review can be on: the test images (probs.npz) and the training images, with the out-of-fold
probabilities of a cross-validated run (oof_probs.npz, written by `python -m mnist_core.train --folds K`).

    from mnist_core.review.splits import load_train_probs
    probs, labels = load_train_probs(run_dir) or (None, None)   # None: the run was not cross-validated

oof_probs.npz (oof_probs.pt, a torch.save, in runs trained before) holds {"probs": float32 [N_train, C],
"labels": int64 [N_train] (the training labels the folds trained on, after label corrections), "folds": int8
[N_train], "k": int}; training index i is the image's index in the data source's training split.
(mnist_core.run_probs.load_oof reads the same file with its folds, from issue 12 part A; this reader checks
what the review needs.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_core.run_arrays import array_file, read_arrays
from mnist_core.runs import RunStoreError

SPLITS = {"test": "Test images", "train": "Training images"}
OOF = "oof_probs"  # the stem of the out-of-fold file (run_arrays.array_file: oof_probs.npz, or an old run's .pt)
NO_OOF = ("This run has no out-of-fold probabilities for its training images, so they cannot be reviewed. Train "
          "a run with \"Cross-validate for data review\" on the Train page (or python -m mnist_core.train --folds "
          "5): every training image is then scored by a model that never saw it.")


def load_train_probs(run_dir: Path | str) -> tuple[np.ndarray, np.ndarray] | None:
    """(probs (N, C) float32, labels (N,) int64) from the run's out-of-fold file; None when the run has none;
    RunStoreError when the file is unreadable or not of that format (never quoting it)."""
    blob = read_arrays(run_dir, OOF, "an out-of-fold probabilities file")
    if blob is None:
        return None
    name = f"{array_file(run_dir, OOF).name} of run {Path(run_dir).name}"
    probs, labels = (blob.get(k) for k in ("probs", "labels"))
    if not (isinstance(probs, np.ndarray) and isinstance(labels, np.ndarray) and probs.ndim == 2
            and labels.shape == (probs.shape[0],) and probs.shape[1] > 0 and labels.dtype.kind in "iu"):
        raise RunStoreError(f"{name} is not (probs (N, C), labels (N,))")
    probs_np, labels_np = probs.astype(np.float32), labels.astype(np.int64)
    if len(labels_np) and (labels_np.min() < 0 or labels_np.max() >= probs_np.shape[1]):
        raise RunStoreError(f"{name} has labels outside 0..{probs_np.shape[1] - 1}")
    return probs_np, labels_np
