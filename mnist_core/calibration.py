"""Are the probabilities right? Reliability bins, ECE/MCE, NLL, Brier, and temperature scaling.

Pure numpy on what `predict_proba` gave: probs (N, C) with rows summing to 1, labels (N,), always in the order
`(probs, labels)`. Temperature scaling (Guo et al. 2017) is fitted on held-out probabilities: the logits are
recovered as log p (softmax is invariant to a constant per row), so a run need not keep its logits.

    from mnist_core.calibration import calibration_report, fit_temperature
    python -m pytest -q tests/test_calibration.py
"""
from __future__ import annotations

import math

import numpy as np

N_BINS = 15
# float32 softmax underflows to exactly 0 beyond a logit gap of ~104; the smallest float32 (log = -103.3)
# stands in for it, so log p stays finite and the temperature's search never meets -inf * 0.
_TINY = 1.4e-45
T_RANGE = (0.05, 20.0)  # bounds of the temperature search; MNIST nets fit between 0.5 and 3


def _as_arrays(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or labels.shape != (len(probs),):
        raise ValueError(f"expected probs (N, C) and labels (N,), got {probs.shape} and {labels.shape}")
    if len(labels) == 0:
        raise ValueError("no images: calibration needs at least one probability row")
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"labels must lie in 0..{probs.shape[1] - 1}")
    return probs, labels


def reliability_bins(probs, labels, n_bins: int = N_BINS) -> dict:
    """Confidence (p of the predicted class) in `n_bins` equal bins (lo, hi] as in Guo et al.; per bin the count,
    the mean confidence and the accuracy (NaN where empty). Keys: edges (n_bins + 1), count, confidence, accuracy."""
    probs, labels = _as_arrays(probs, labels)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # (lo, hi]: searchsorted 'left' puts a value equal to an edge in the bin below it; 0 joins the first bin
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(index, weights=correct, minlength=n_bins) / count
    return {"edges": edges, "count": count, "confidence": mean_conf, "accuracy": accuracy}


def calibration_errors(probs, labels, n_bins: int = N_BINS) -> tuple[float, float]:
    """(ECE, MCE): the count-weighted mean and the maximum of |accuracy - confidence| over non-empty bins."""
    bins = reliability_bins(probs, labels, n_bins)
    filled = bins["count"] > 0
    gap = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    weight = bins["count"][filled] / bins["count"].sum()
    return float((gap * weight).sum()), float(gap.max())


def nll(probs, labels) -> float:
    """Mean negative log-likelihood of the given labels, -mean log p(given label | image)."""
    probs, labels = _as_arrays(probs, labels)
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], _TINY, 1.0)).mean())


def brier(probs, labels) -> float:
    """Multi-class Brier score: mean over images of sum_k (p_k - [k == label])^2 (0 best, 2 worst)."""
    probs, labels = _as_arrays(probs, labels)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(labels)), labels] = 1.0
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def apply_temperature(probs, temperature: float) -> np.ndarray:
    """softmax(log p / T) as float32: T > 1 softens, T < 1 sharpens; the argmax of every row is unchanged."""
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    z = np.log(np.clip(np.asarray(probs, dtype=np.float64), _TINY, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def fit_temperature(probs, labels, iterations: int = 80) -> float:
    """The T in T_RANGE minimising the NLL of softmax(log p / T) on held-out (probs, labels).

    A golden-section search on log T: the NLL is convex in 1/T, so it is unimodal in log T, and 80 steps narrow
    the bracket to 1e-16 of its width; no gradients, no learning rate to tune.
    """
    probs, labels = _as_arrays(probs, labels)
    logp = np.log(np.clip(probs, _TINY, 1.0))
    rows = np.arange(len(labels))

    def loss(log_t: float) -> float:
        z = logp / math.exp(log_t)
        top = z.max(axis=1)
        return float((top + np.log(np.exp(z - top[:, None]).sum(axis=1)) - z[rows, labels]).mean())

    lo, hi = math.log(T_RANGE[0]), math.log(T_RANGE[1])
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(iterations):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = loss(b)
    return float(math.exp((lo + hi) / 2))


def calibration_report(probs, labels, temperature: float | None = None, n_bins: int = N_BINS) -> dict:
    """NLL, Brier, ECE, MCE of (probs, labels); with a temperature also the same after scaling (`*_scaled`)."""
    ece, mce = calibration_errors(probs, labels, n_bins)
    report = {"nll": nll(probs, labels), "brier": brier(probs, labels), "ece": ece, "mce": mce,
              "temperature": temperature}
    if temperature is not None:
        scaled = apply_temperature(probs, temperature)
        ece_s, mce_s = calibration_errors(scaled, labels, n_bins)
        report.update(nll_scaled=nll(scaled, labels), brier_scaled=brier(scaled, labels), ece_scaled=ece_s,
                      mce_scaled=mce_s)
    else:
        report.update(nll_scaled=None, brier_scaled=None, ece_scaled=None, mce_scaled=None)
    return report
