"""The Review page's queues over one split's images: likely label issues, outliers, near-duplicate groups,
lowest label quality. Pure numpy on a table with one row per image (pure functions, no Streamlit):

    from mnist_core.review.queues import QUEUES, from_suspects, queue_order
    table = from_suspects(find_suspects(probs, labels))   # or part B's run_issues(run_dir, split)
    order = queue_order(table, "issues")                  # image indices, most suspicious first

The table has the fields of `mnist_core.review.issues.IssueTable` (issue 12, part B): label_quality, is_issue,
suggested, outlier_score (NaN without embeddings), dup_group (-1 = none). `from_suspects` builds it from the
confident-learning ranking in suspects.py, which has no outlier scores and no duplicate groups.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.review.suspects import Suspects

QUEUES = {"issues": "Likely label issues", "outliers": "Outliers", "duplicates": "Near-duplicate groups",
          "quality": "Lowest label quality"}
DEFAULT_QUEUE = "quality"  # every image, least likely label first: the page's queue before there were queues


@dataclass
class QueueTable:
    """One row per image of a split (the fields of part B's IssueTable)."""

    label_quality: np.ndarray  # (N,) float32, lower = the given label is less likely right
    is_issue: np.ndarray  # (N,) bool likely label issue
    suggested: np.ndarray  # (N,) int64 suggested label (-1 where none)
    outlier_score: np.ndarray  # (N,) float32, higher = more unusual; NaN without embeddings
    dup_group: np.ndarray  # (N,) int64 near-duplicate group, -1 = none


def from_suspects(s: Suspects) -> QueueTable:
    """The table from the confident-learning ranking: label quality is p(given label | image)."""
    n = len(s.labels)
    return QueueTable(label_quality=s.p_given.astype(np.float32), is_issue=s.issue.copy(),
                      suggested=s.suggested.astype(np.int64), outlier_score=np.full(n, np.nan, np.float32),
                      dup_group=np.full(n, -1, np.int64))


def queue_order(table: QueueTable, name: str) -> np.ndarray:
    """Image indices of queue `name`, in review order; ties keep the lower index first."""
    quality = np.asarray(table.label_quality, dtype=np.float64)
    if name == "quality":
        return np.argsort(quality, kind="stable")
    if name == "issues":
        order = np.argsort(quality, kind="stable")
        return order[np.asarray(table.is_issue, dtype=bool)[order]]
    if name == "outliers":
        score = np.asarray(table.outlier_score, dtype=np.float64)
        order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
        return order[~np.isnan(score[order])]
    if name == "duplicates":
        # Group by group, each group's members by index: a group is reviewed side by side, then the next.
        group = np.asarray(table.dup_group, dtype=np.int64)
        members = np.flatnonzero(group >= 0)
        return members[np.lexsort((members, group[members]))]
    raise ValueError(f"unknown queue {name!r}; allowed: {', '.join(QUEUES)}")


def group_of(table: QueueTable, image: int) -> np.ndarray:
    """The images in `image`'s near-duplicate group (itself included), by index; just itself when none."""
    group = int(table.dup_group[image])
    return np.flatnonzero(np.asarray(table.dup_group) == group) if group >= 0 else np.array([image])


def filter_order(s: Suspects, order: np.ndarray, klass: int | None = None, mispredicted_only: bool = False,
                 issues_only: bool = False, max_p_given: float = 1.0) -> np.ndarray:
    """The images of `order` (kept in its order) that pass the page's filters (as suspects.filter_queue)."""
    keep = s.p_given[order] <= max_p_given
    if klass is not None:
        keep &= s.labels[order] == klass
    if mispredicted_only:
        keep &= s.predicted[order] != s.labels[order]
    if issues_only:
        keep &= s.issue[order]
    return order[keep]


def empty_reason(table: QueueTable, name: str) -> str:
    """Why queue `name` holds no image, in words for the page."""
    if name == "outliers" and np.isnan(np.asarray(table.outlier_score, dtype=np.float64)).all():
        return ("Outlier scores need the run's embeddings: train with \"Cross-validate for data review\" on the "
                "Train page (python -m mnist_core.train --folds 5).")
    if name == "duplicates" and not (np.asarray(table.dup_group) >= 0).any():
        return ("No near-duplicate groups in this split (finding them needs the run's embeddings: train with "
                "\"Cross-validate for data review\").")
    return "No image matches these filters: widen them above."
