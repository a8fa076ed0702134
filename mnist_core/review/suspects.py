"""The review queue: test images ranked by how likely their given label is wrong (pure numpy).

Fed by a run's cached probabilities (`runs.load_probs`, which come from `predict_proba`):

    from mnist_core import runs
    from mnist_core.review import suspects
    probs, labels = runs.load_probs(run_dir)
    s = suspects.find_suspects(probs.numpy(), labels.numpy())
    queue = suspects.filter_queue(s, klass=3, mispredicted_only=True)

Ranking: self-confidence, p(given label | image), lowest first; ties keep the lower test index first.

Likely label issues (confident learning, Northcutt et al. 2021). Per class k the threshold is
t_k = mean of p(k | x) over the images labelled k. An image with given label g is a likely label issue when
    p(g | x) < t_g   and   p(j | x) >= t_j for some class j != g.
Its suggested label is the j with the largest p(j | x) among those classes. This is the off-diagonal of the
confident joint: with p(g) below t_g the given class cannot be the most probable confident class.
A class with no labelled images has threshold NaN, so it never makes an image confident.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Suspects:
    """The ranked queue over N test images with C classes."""

    labels: np.ndarray  # (N,) int64 given labels
    predicted: np.ndarray  # (N,) int64 argmax class
    p_given: np.ndarray  # (N,) p(given label | image)
    thresholds: np.ndarray  # (C,) per-class confident-learning thresholds t_k
    issue: np.ndarray  # (N,) bool, likely label issue
    suggested: np.ndarray  # (N,) int64 suggested label for issues, -1 elsewhere
    order: np.ndarray  # (N,) image indices, lowest p_given first

    @property
    def num_classes(self) -> int:
        return len(self.thresholds)

    def issue_counts(self) -> np.ndarray:
        """(C,) number of likely label issues per given class."""
        return np.bincount(self.labels[self.issue], minlength=self.num_classes)

    def class_counts(self) -> np.ndarray:
        """(C,) number of images per given class."""
        return np.bincount(self.labels, minlength=self.num_classes)


def check_inputs(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    """probs (N, C) float and labels (N,) ints in [0, C) as numpy, or ValueError saying what is wrong."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2 or probs.shape[1] == 0:
        raise ValueError(f"probabilities must be an (N, C) array with C >= 1, got shape {probs.shape}")
    if labels.shape != (probs.shape[0],):
        raise ValueError(f"labels must have shape ({probs.shape[0]},) to match the probabilities, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError(f"labels must lie in [0, {probs.shape[1]}), got {labels.min()}..{labels.max()}")
    return probs, labels.astype(np.int64)


def class_thresholds(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(C,) t_k = mean p(k | x) over the images labelled k; NaN for a class with no images."""
    c = probs.shape[1]
    counts = np.bincount(labels, minlength=c)
    sums = np.bincount(labels, weights=probs[np.arange(len(labels)), labels], minlength=c)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def find_suspects(probs, labels) -> Suspects:
    """Rank images by self-confidence and mark likely label issues (see the module docstring for the rule)."""
    probs, labels = check_inputs(probs, labels)
    n, c = probs.shape
    rows = np.arange(n)
    p_given = probs[rows, labels]
    thresholds = class_thresholds(probs, labels)
    confident = probs >= thresholds[None, :]  # (N, C); NaN thresholds compare False
    confident[rows, labels] = False  # only other classes count
    issue = (p_given < thresholds[labels]) & confident.any(axis=1)
    masked = np.where(confident, probs, -np.inf)  # (N, C) probabilities of the confident other classes
    suggested = np.where(issue, masked.argmax(axis=1), -1)
    return Suspects(labels=labels, predicted=probs.argmax(axis=1), p_given=p_given, thresholds=thresholds,
                    issue=issue, suggested=suggested, order=np.argsort(p_given, kind="stable"))


def filter_queue(s: Suspects, klass: int | None = None, mispredicted_only: bool = False,
                 issues_only: bool = False, max_p_given: float = 1.0) -> np.ndarray:
    """Image indices of the queue, in rank order, keeping those that pass every filter given.

    klass: only images whose given label is klass; mispredicted_only: only images predicted as another class;
    issues_only: only likely label issues; max_p_given: only images with p(given label) <= this value.
    """
    keep = s.p_given[s.order] <= max_p_given
    if klass is not None:
        keep &= s.labels[s.order] == klass
    if mispredicted_only:
        keep &= s.predicted[s.order] != s.labels[s.order]
    if issues_only:
        keep &= s.issue[s.order]
    return s.order[keep]
