"""The review queue ranking and confident-learning label issues, against a hand-computed example.

    python -m pytest tests/test_suspects.py -q
"""
import re

import numpy as np
import pytest

from mnist_core.review.suspects import class_thresholds, filter_queue, find_suspects

# 3 classes, 6 images; values are exact in binary so the threshold comparisons are exact.
LABELS = np.array([0, 0, 1, 1, 2, 2])
PROBS = np.array([
    [0.75, 0.25, 0.00],  # 0: labelled 0, fine
    [0.25, 0.75, 0.00],  # 1: labelled 0, p(0) < t0 and p(1) >= t1 -> issue, suggests 1
    [0.00, 1.00, 0.00],  # 2: labelled 1, fine
    [0.50, 0.50, 0.00],  # 3: labelled 1, p(1) < t1 and p(0) >= t0 -> issue, suggests 0
    [0.00, 0.00, 1.00],  # 4: labelled 2, fine
    [0.00, 0.50, 0.50],  # 5: labelled 2, mispredicted, p(2) < t2 but p(1) < t1: not an issue
])
# t0 = (0.75 + 0.25) / 2, t1 = (1.0 + 0.5) / 2, t2 = (1.0 + 0.5) / 2


def test_thresholds_are_mean_self_confidence_per_class():
    np.testing.assert_array_equal(class_thresholds(PROBS, LABELS), [0.5, 0.75, 0.75])


def test_ranking_issues_and_suggestions_match_the_hand_computed_example():
    s = find_suspects(PROBS, LABELS)
    np.testing.assert_array_equal(s.p_given, [0.75, 0.25, 1.0, 0.5, 1.0, 0.5])
    np.testing.assert_array_equal(s.order, [1, 3, 5, 0, 2, 4])  # ties keep the lower index first
    np.testing.assert_array_equal(s.issue, [False, True, False, True, False, False])
    np.testing.assert_array_equal(s.suggested, [-1, 1, -1, 0, -1, -1])
    np.testing.assert_array_equal(s.predicted, [0, 1, 1, 0, 2, 1])
    np.testing.assert_array_equal(s.issue_counts(), [1, 1, 0])
    np.testing.assert_array_equal(s.class_counts(), [2, 2, 2])


@pytest.mark.parametrize("kwargs, expected", [
    ({}, [1, 3, 5, 0, 2, 4]),
    ({"klass": 2}, [5, 4]),
    ({"mispredicted_only": True}, [1, 3, 5]),
    ({"issues_only": True}, [1, 3]),
    ({"max_p_given": 0.5}, [1, 3, 5]),
    ({"klass": 0, "issues_only": True}, [1]),
    ({"klass": 2, "issues_only": True}, []),
])
def test_filters_keep_rank_order(kwargs, expected):
    np.testing.assert_array_equal(filter_queue(find_suspects(PROBS, LABELS), **kwargs), expected)


def test_a_class_without_images_never_makes_an_image_confident():
    s = find_suspects(np.array([[0.1, 0.9], [0.9, 0.1]]), np.array([0, 0]))
    assert np.isnan(s.thresholds[1])
    assert not s.issue.any()
    np.testing.assert_array_equal(s.issue_counts(), [0, 0])


@pytest.mark.parametrize("probs, labels, message", [
    (np.ones(3), np.zeros(3, dtype=int), "(N, C)"),
    (PROBS, LABELS[:4], "shape (6,)"),
    (PROBS, LABELS.astype(float), "integers"),
    (PROBS, np.array([0, 0, 1, 1, 2, 3]), "[0, 3)"),
])
def test_bad_inputs_get_a_clear_error(probs, labels, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        find_suspects(probs, labels)
