"""The Review page's queues over one split's images: likely label issues, outliers, near-duplicate groups,
lowest label quality. Pure numpy on cleanlab's table (mnist_core.review.issues), no Streamlit:

    from mnist_core.review.queues import queue_order
    table = run_issues(run_dir, "train")                  # mnist_core.review.issues
    order = queue_order(table, "issues")                  # image indices, most suspicious first

The table (`IssueTable`) has one row per image: label_quality, is_issue, suggested, outlier_score (NaN without
embeddings), dup_group (-1 = none).
"""
from __future__ import annotations

import numpy as np

from mnist_core.review.issues import IssueTable
from mnist_core.review.suspects import Suspects

QUEUES = {"issues": "Likely label issues", "outliers": "Outliers", "duplicates": "Near-duplicate groups",
          "quality": "Lowest label quality"}
DEFAULT_QUEUE = "quality"  # every image, least likely label first: the page's queue before there were queues


def queue_order(table: IssueTable, name: str) -> np.ndarray:
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


def group_of(table: IssueTable, image: int) -> np.ndarray:
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


def empty_reason(table: IssueTable, name: str) -> str:
    """Why queue `name` holds no image, in words for the page."""
    if name == "outliers" and np.isnan(np.asarray(table.outlier_score, dtype=np.float64)).all():
        return ("Outlier scores need the run's embeddings: train with \"Cross-validate for data review\" on the "
                "Train page (python -m mnist_core.train --folds 5).")
    if name == "duplicates" and not (np.asarray(table.dup_group) >= 0).any():
        return ("No near-duplicate groups in this split (finding them needs the run's embeddings: train with "
                "\"Cross-validate for data review\").")
    return "No image matches these filters: widen them above."
