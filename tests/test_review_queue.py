"""Walking the review queue (mnist_core.review.queue): the image shown, the next unreviewed one, the neighbours,
and the corrected label the page suggests, on the hand-computed example of tests/test_suspects.py.

    python -m pytest tests/test_review_queue.py -q
"""
import numpy as np
import pytest
from test_suspects import LABELS, PROBS

from mnist_core.review.queue import image_to_show, neighbours, next_unreviewed, suggested_label
from mnist_core.review.suspects import find_suspects

QUEUE = np.array([1, 3, 5, 0, 2, 4])  # find_suspects(PROBS, LABELS).order


@pytest.mark.parametrize("judged, after, expected", [
    (set(), None, 1), ({1, 3}, None, 5), ({3}, 1, 5), ({5}, 3, 0), (set(), 4, None), (set(QUEUE), None, None),
    ({1}, 7, 3),  # `after` not in the queue (another filter): from the start
])
def test_next_unreviewed(judged, after, expected):
    assert next_unreviewed(QUEUE, judged, after) == expected


@pytest.mark.parametrize("queue, judged, current, expected", [
    (QUEUE, set(), 5, 5),  # still in the queue: stays
    (QUEUE, {1}, 7, 3),  # gone (filtered out): the first unreviewed
    (QUEUE, set(QUEUE), None, 1),  # all reviewed: the queue's first
    (np.array([], dtype=np.int64), set(), 3, None),  # nothing matches the filters
])
def test_image_to_show(queue, judged, current, expected):
    assert image_to_show(queue, judged, current) == expected


def test_neighbours_stop_at_the_ends():
    assert neighbours(QUEUE, 1) == (0, None, 3)
    assert neighbours(QUEUE, 0) == (3, 5, 2)
    assert neighbours(QUEUE, 4) == (5, 2, None)


def test_suggested_label_is_the_issue_suggestion_else_the_prediction_never_the_given_label():
    s = find_suspects(PROBS, LABELS)
    assert [suggested_label(s, i) for i in range(6)] == [
        1,  # labelled 0, predicted 0: the first other class
        1,  # a likely label issue: confident learning suggests 1
        0,  # labelled 1, predicted 1: the first other class
        0,  # a likely label issue: suggests 0
        0,  # labelled 2, predicted 2: the first other class
        1,  # labelled 2, predicted 1 (not an issue): the prediction
    ]
