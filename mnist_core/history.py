"""How training changed the model: which test images changed their predicted class between two epochs.

Pure numpy on the per-epoch test probabilities a run keeps (mnist_core/run_probs.py, (E, N, C) float16).

    from mnist_core.history import prediction_changes
    python -m pytest -q tests/test_history.py
"""
from __future__ import annotations

import numpy as np


def prediction_changes(per_epoch, labels, first: int, second: int) -> dict:
    """Test images whose predicted class differs between epoch `first` and epoch `second` (0-based).

    Returns indices (those images, the ones that became right first, then by index), pred_first, pred_second,
    and the counts fixed (wrong -> right), broken (right -> wrong) and other (wrong -> another wrong class).
    """
    per_epoch = np.asarray(per_epoch)
    labels = np.asarray(labels, dtype=np.int64)
    epochs = len(per_epoch)
    for name, value in (("first", first), ("second", second)):
        if not (isinstance(value, (int, np.integer)) and 0 <= value < epochs):
            raise ValueError(f"{name} epoch must be between 0 and {epochs - 1}, got {value!r}")
    a, b = per_epoch[first].argmax(axis=1), per_epoch[second].argmax(axis=1)
    changed = np.flatnonzero(a != b)
    fixed = b[changed] == labels[changed]
    broken = a[changed] == labels[changed]
    order = np.lexsort((changed, ~fixed))  # fixed first, then by index
    changed = changed[order]
    return {"indices": changed, "pred_first": a[changed], "pred_second": b[changed],
            "fixed": int(fixed.sum()), "broken": int(broken.sum()), "other": int((~fixed & ~broken).sum())}
