"""Selecting and ordering test images for the review pages, from a run's cached probabilities.

Pure numpy: the pages pass in what predict_proba gave (probs (N, C)) and the true labels (N,).
"""
from __future__ import annotations

import numpy as np

SORTS = ("index", "confidence ascending", "confidence descending")
OUTCOMES = ("all", "correct", "wrong")


def filter_images(probs: np.ndarray, labels: np.ndarray, true_class: int | None = None,
                  pred_class: int | None = None, outcome: str = "all", sort: str = "index") -> np.ndarray:
    """Indices of the test images that match, in the asked order (confidence = p(predicted class))."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    predicted = probs.argmax(axis=1)
    keep = np.ones(len(labels), dtype=bool)
    if true_class is not None:
        keep &= labels == true_class
    if pred_class is not None:
        keep &= predicted == pred_class
    if outcome != "all":
        keep &= (predicted == labels) == (outcome == "correct")
    idx = np.flatnonzero(keep)
    if sort == "index":
        return idx
    confidence = probs[idx, predicted[idx]]
    order = np.argsort(confidence if sort == "confidence ascending" else -confidence, kind="stable")
    return idx[order]


def page_of(indices: np.ndarray, page: int, per_page: int = 25) -> np.ndarray:
    """Page `page` (0-based) of `indices`, clamped to the last page."""
    pages = max(1, -(-len(indices) // per_page))
    page = min(max(0, page), pages - 1)
    return indices[page * per_page:(page + 1) * per_page]


def page_count(n: int, per_page: int = 25) -> int:
    return max(1, -(-n // per_page))


def below_threshold(probs: np.ndarray, labels: np.ndarray, k: int, threshold: float) -> np.ndarray:
    """Images of true class k with p(k | image) < threshold, lowest probability first (the notebook's cut)."""
    idx = np.flatnonzero(labels == k)
    p = probs[idx, k]
    idx, p = idx[p < threshold], p[p < threshold]
    return idx[np.argsort(p, kind="stable")]


def threshold_table(probs: np.ndarray, labels: np.ndarray, threshold: float) -> list[dict]:
    """Per class: images, how many fall under the threshold, and how many of those are misclassified."""
    predicted = probs.argmax(axis=1)
    rows = []
    for k in range(probs.shape[1]):
        mask = labels == k
        under = mask & (probs[:, k] < threshold)
        rows.append({"class": k, "images": int(mask.sum()), "under threshold": int(under.sum()),
                     "misclassified under threshold": int((under & (predicted != k)).sum())})
    return rows
