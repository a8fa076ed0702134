"""mnist_core/compare.py: McNemar against scipy, disagreement counts, test-set and class-count checks.

    OMP_NUM_THREADS=1 python -m pytest -q tests/test_compare.py
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from mnist_core.compare import (
    CompareError,
    check_comparable,
    config_differences,
    disagreement,
    epoch_curve,
    mcnemar_exact,
)


@pytest.mark.parametrize("b, c", [(0, 0), (1, 0), (5, 5), (12, 30), (40, 38), (3, 17), (600, 700), (0, 2000)])
def test_mcnemar_matches_scipys_exact_binomial_test(b, c):
    expected = 1.0 if b + c == 0 else binomtest(min(b, c), b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_mcnemar_by_hand():
    # b = 1, c = 4: P(X <= 1) for X ~ Bin(5, 1/2) is 6/32, doubled 12/32
    assert mcnemar_exact(1, 4) == pytest.approx(12 / 32)


def test_disagreement_counts():
    labels = np.array([0, 1, 2, 0, 1])
    a = np.eye(3)[[0, 1, 0, 1, 1]]  # right on 0, 1, 4
    b = np.eye(3)[[0, 0, 2, 0, 2]]  # right on 0, 2, 3
    out = disagreement(a, b, labels)
    assert out["a_only"].tolist() == [1, 4] and out["b_only"].tolist() == [2, 3]
    assert (out["both_right"], out["both_wrong"]) == (1, 0)
    assert out["p_value"] == pytest.approx(binomtest(2, 4, 0.5).pvalue)


def test_different_test_sets_and_class_counts_are_refused():
    labels = np.arange(10) % 3
    probs = np.full((10, 3), 1 / 3)
    check_comparable(["a", "b"], [probs, probs], [labels, labels.copy()])
    with pytest.raises(CompareError, match=r"different test sets \(10 and 9 test images\)"):
        check_comparable(["a", "b"], [probs, probs[:9]], [labels, labels[:9]])
    with pytest.raises(CompareError, match="2 labels differ"):
        check_comparable(["a", "b"], [probs, probs], [labels, np.r_[labels[:8], labels[8:][::-1]]])
    with pytest.raises(CompareError, match=r"different class counts \(3 and 4\)"):
        check_comparable(["a", "b"], [probs, np.full((10, 4), 0.25)], [labels, labels])


def test_config_differences_and_curves():
    rows = config_differences({"r1": {"lr": 0.001, "epochs": 2, "seed": 0}, "r2": {"lr": 0.005, "epochs": 2}})
    assert rows == [{"field": "lr", "r1": "0.001", "r2": "0.005"}, {"field": "seed", "r1": "0", "r2": "None"}]
    events = [{"type": "batch"}, {"type": "epoch", "epoch": 0, "elapsed": 1.5, "train_loss": 0.4, "test_loss": 0.3,
                                  "test_accuracy": 0.9}]
    assert epoch_curve(events) == {"epoch": [1], "elapsed": [1.5], "train_loss": [0.4], "test_loss": [0.3],
                                   "test_accuracy": [0.9]}
