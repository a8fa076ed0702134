"""Calibration core (mnist_core/calibration.py): hand-computed values, torchmetrics as an oracle, temperature.

    OMP_NUM_THREADS=1 python -m pytest -q tests/test_calibration.py
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import multiclass_calibration_error

from mnist_core.calibration import (
    apply_temperature,
    brier,
    calibration_errors,
    calibration_report,
    fit_temperature,
    nll,
    reliability_bins,
)

# Five images, three classes. Confidences 0.90 (right), 0.95 (wrong), 0.62 (right), 0.65 (wrong), 0.42 (wrong)
# fall in 15-bin bins 13, 14, 9, 9, 6. Gaps |acc - conf|: 0.10, 0.95, |0.5 - 0.635| = 0.135 (two images), 0.42.
HAND_PROBS = np.array([[0.90, 0.05, 0.05], [0.95, 0.03, 0.02], [0.62, 0.30, 0.08], [0.25, 0.65, 0.10],
                       [0.42, 0.33, 0.25]])
HAND_LABELS = np.array([0, 1, 0, 0, 2])


def test_ece_and_mce_of_a_hand_made_set():
    ece, mce = calibration_errors(HAND_PROBS, HAND_LABELS)
    assert ece == pytest.approx((0.10 + 0.95 + 2 * 0.135 + 0.42) / 5)  # 0.348
    assert mce == pytest.approx(0.95)


def test_reliability_bins_of_a_hand_made_set():
    bins = reliability_bins(HAND_PROBS, HAND_LABELS)
    assert len(bins["edges"]) == 16
    assert np.flatnonzero(bins["count"]).tolist() == [6, 9, 13, 14]
    assert bins["count"][9] == 2
    assert bins["confidence"][9] == pytest.approx(0.635)
    assert bins["accuracy"][[6, 9, 13, 14]].tolist() == [0.0, 0.5, 1.0, 0.0]
    assert np.isnan(bins["accuracy"][0])


def test_nll_and_brier_of_a_hand_made_set():
    assert nll(HAND_PROBS, HAND_LABELS) == pytest.approx(-np.log([0.90, 0.03, 0.62, 0.25, 0.25]).mean())
    # per image sum_k (p_k - y_k)^2: 0.015, 1.8438, 0.2408, 0.995, 0.8478
    assert brier(HAND_PROBS, HAND_LABELS) == pytest.approx(3.9424 / 5)


def test_ece_and_mce_agree_with_torchmetrics():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(10, 0.3), size=3000)
    labels = np.where(rng.random(3000) < 0.7, probs.argmax(1), rng.integers(0, 10, 3000))
    ece, mce = calibration_errors(probs, labels)
    args = (torch.tensor(probs), torch.tensor(labels), 10)  # torchmetrics computes in float32: abs=1e-6
    assert ece == pytest.approx(multiclass_calibration_error(*args, n_bins=15, norm="l1").item(), abs=1e-6)
    assert mce == pytest.approx(multiclass_calibration_error(*args, n_bins=15, norm="max").item(), abs=1e-6)


def overconfident(n: int, seed: int, true_t: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities softmax(z) of labels actually drawn from softmax(z / true_t): a model too sure of itself."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 4, size=(n, 10))
    z[np.arange(n), rng.integers(0, 10, n)] += 6
    p_given = np.exp(z / true_t) / np.exp(z / true_t).sum(1, keepdims=True)
    labels = np.array([rng.choice(10, p=row) for row in p_given])
    return np.exp(z) / np.exp(z).sum(1, keepdims=True), labels


def test_temperature_lowers_held_out_nll_and_keeps_every_prediction():
    val_probs, val_labels = overconfident(2000, seed=1)
    test_probs, test_labels = overconfident(2000, seed=2)
    t = fit_temperature(val_probs, val_labels)
    assert 2.5 < t < 3.5  # recovers the temperature the labels were drawn with
    scaled = apply_temperature(test_probs, t)
    assert nll(scaled, test_labels) < nll(test_probs, test_labels) - 0.1
    assert calibration_errors(scaled, test_labels)[0] < calibration_errors(test_probs, test_labels)[0]
    assert (scaled.argmax(1) == test_probs.argmax(1)).all()
    np.testing.assert_allclose(scaled.sum(1), 1.0, rtol=1e-5)


def test_temperature_of_well_calibrated_probabilities_is_near_one():
    probs, labels = overconfident(3000, seed=3, true_t=1.0)
    assert fit_temperature(probs, labels) == pytest.approx(1.0, abs=0.1)


def test_temperature_survives_probabilities_that_underflowed_to_zero():
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)  # one wrong with p = 0
    t = fit_temperature(probs, np.array([0, 1, 1]))
    assert np.isfinite(t) and t > 1  # softened: one certain prediction was wrong
    assert np.isfinite(apply_temperature(probs, t)).all()


def test_report_with_and_without_temperature():
    plain = calibration_report(HAND_PROBS, HAND_LABELS)
    assert plain["ece_scaled"] is None and plain["temperature"] is None
    scaled = calibration_report(HAND_PROBS, HAND_LABELS, temperature=1.0)
    assert scaled["ece_scaled"] == pytest.approx(plain["ece"], abs=1e-6)


@pytest.mark.parametrize("probs, labels, message", [
    (np.zeros((0, 3)), np.zeros(0), "no images"),
    (np.ones((2, 3)) / 3, np.array([0, 3]), "labels must lie in 0..2"),
    (np.ones(3), np.array([0]), "expected probs"),
])
def test_bad_input_says_what_is_wrong(probs, labels, message):
    with pytest.raises(ValueError, match=message):
        calibration_errors(probs, labels)


def test_bad_temperature_is_refused():
    with pytest.raises(ValueError, match="temperature must be"):
        apply_temperature(HAND_PROBS, 0.0)
