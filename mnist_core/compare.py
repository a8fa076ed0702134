"""Runs side by side: are two runs scored on the same test set, where do they disagree, is the difference more
than noise (McNemar's exact test), which config fields differ, and their learning curves.

Pure functions on what the run store holds: probabilities as `(probs, labels)`, configs as dicts, events as
metrics.jsonl gives them.

    from mnist_core.compare import check_comparable, disagreement, mcnemar_exact
    python -m pytest -q tests/test_compare.py
"""
from __future__ import annotations

import math

import numpy as np


class CompareError(ValueError):
    """The runs cannot be compared image by image; the message says why, naming the runs."""


def check_comparable(names: list[str], probs: list[np.ndarray], labels: list[np.ndarray]) -> None:
    """Raise CompareError unless every run has the same class count and the same test labels, in the same order."""
    first = names[0]
    for name, p, y in zip(names[1:], probs[1:], labels[1:], strict=True):
        if p.shape[1] != probs[0].shape[1]:
            raise CompareError(f"Runs {first} and {name} have different class counts ({probs[0].shape[1]} and "
                               f"{p.shape[1]}): they predict different things, so there is nothing to compare.")
        if len(y) != len(labels[0]) or not np.array_equal(y, labels[0]):
            detail = (f"{len(labels[0])} and {len(y)} test images" if len(y) != len(labels[0]) else
                      f"the same number of images, but {int((y != labels[0]).sum())} labels differ")
            raise CompareError(f"Runs {first} and {name} were scored on different test sets ({detail}): "
                               "compare runs trained on the same data source.")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b images only A got right and c images only B got right.

    Under 'the runs are equally good' each disagreement is a fair coin: p = P(X <= min(b, c)) doubled, capped
    at 1, for X ~ Binomial(b + c, 1/2). Exact integer arithmetic: 0.5 ** n underflows for n > 1074.
    """
    if b < 0 or c < 0:
        raise ValueError(f"counts must be >= 0, got {b} and {c}")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def disagreement(probs_a: np.ndarray, probs_b: np.ndarray, labels: np.ndarray) -> dict:
    """The test images A gets right and B wrong (`a_only`), and the reverse (`b_only`), with McNemar's p-value."""
    right_a = probs_a.argmax(axis=1) == labels
    right_b = probs_b.argmax(axis=1) == labels
    a_only, b_only = np.flatnonzero(right_a & ~right_b), np.flatnonzero(right_b & ~right_a)
    return {"a_only": a_only, "b_only": b_only, "both_right": int((right_a & right_b).sum()),
            "both_wrong": int((~right_a & ~right_b).sum()), "p_value": mcnemar_exact(len(a_only), len(b_only))}


def config_differences(configs: dict[str, dict]) -> list[dict]:
    """One row per config field whose value is not the same in every run: {"field": name, run: value, ...}."""
    fields = sorted({k for c in configs.values() for k in c})
    rows = []
    for field_name in fields:
        values = {run: c.get(field_name) for run, c in configs.items()}
        if len({repr(v) for v in values.values()}) > 1:
            rows.append({"field": field_name, **{run: str(v) for run, v in values.items()}})
    return rows


def epoch_curve(events: list[dict]) -> dict[str, list]:
    """Per epoch (1-based): wall time since the start, train loss, test loss, test accuracy (epoch events only)."""
    rows = [e for e in events if e.get("type") == "epoch"]
    return {"epoch": [e["epoch"] + 1 for e in rows], "elapsed": [e.get("elapsed") for e in rows],
            "train_loss": [e["train_loss"] for e in rows], "test_loss": [e["test_loss"] for e in rows],
            "test_accuracy": [e["test_accuracy"] for e in rows]}


def prediction_changes(probs_before: np.ndarray, probs_after: np.ndarray, labels: np.ndarray) -> dict:
    """Before and after a retraining, on the same test images and `labels`: the images whose predicted class
    changed (`changed`), those it fixed (wrong before, right after: `fixed`) and broke (`broken`), both accuracies
    and both per-class accuracies (NaN for a class with no image)."""
    before, after = probs_before.argmax(axis=1), probs_after.argmax(axis=1)
    changed = np.flatnonzero(before != after)
    classes = np.arange(probs_before.shape[1])

    def per_class(predicted: np.ndarray) -> np.ndarray:
        right = np.bincount(labels, weights=predicted == labels, minlength=len(classes))
        total = np.bincount(labels, minlength=len(classes))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, right / total, np.nan)

    return {"changed": changed, "fixed": changed[after[changed] == labels[changed]],
            "broken": changed[before[changed] == labels[changed]],
            "accuracy": (float((before == labels).mean()), float((after == labels).mean())),
            "per_class": (per_class(before), per_class(after))}
