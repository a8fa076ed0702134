"""Walking the review queue: which image to show, the next unreviewed one, its neighbours, the label to suggest.

Pure functions of the queue (test indices in rank order, from suspects.filter_queue), the set of images
that already have a verdict, and the image shown now; the Review page keeps only the state.

    python -c "from mnist_core.review.queue import next_unreviewed as n; import numpy; print(n(numpy.arange(3), {0}))"
"""
from __future__ import annotations

import numpy as np

from mnist_core.review.suspects import Suspects


def next_unreviewed(queue: np.ndarray, judged: set[int], after: int | None = None) -> int | None:
    """The first image of the queue after `after` (or from the start) with no verdict yet; None when none."""
    start = 0
    if after is not None and after in queue:
        start = int(np.flatnonzero(queue == after)[0]) + 1
    for i in queue[start:]:
        if int(i) not in judged:
            return int(i)
    return None


def image_to_show(queue: np.ndarray, judged: set[int], current: int | None) -> int | None:
    """`current` while it is in the queue; else the first unreviewed image, else the queue's first; None when
    the queue is empty (the filters match nothing)."""
    if current is not None and current in queue:
        return current
    image = next_unreviewed(queue, judged)
    return int(queue[0]) if image is None and len(queue) else image


def neighbours(queue: np.ndarray, image: int) -> tuple[int, int | None, int | None]:
    """(position of `image` in the queue, the image before it, the image after it); None past either end."""
    position = int(np.flatnonzero(queue == image)[0])
    previous = int(queue[position - 1]) if position > 0 else None
    following = int(queue[position + 1]) if position + 1 < len(queue) else None
    return position, previous, following


def suggested_label(s: Suspects, image: int) -> int:
    """The corrected label to offer for `image`: confident learning's suggestion for a likely label issue, else
    the predicted class; never the given label itself (then the first other class)."""
    given = int(s.labels[image])
    suggestion = int(s.suggested[image]) if s.issue[image] else int(s.predicted[image])
    if suggestion != given:
        return suggestion
    return next(k for k in range(s.num_classes) if k != given)
