"""Run health: whether a finished run actually learned, from its events and test accuracy.

A run with a learning rate far too high (lr=10) can end "finished" with a finite loss at chance accuracy (10%
on ten classes). `run_health` names that, so the Train page and the sidebar warn, and ui.state never makes
such a run the default model. The worker stores the answer in status.json ("warning") when the run finishes.

    from mnist_core.health import run_health
    run_health(runs.read_events(run_dir), test_accuracy=0.1, num_classes=10)  # -> "test accuracy 10.0% ..."
"""
from __future__ import annotations

import math

NEAR_CHANCE = 0.1  # of the way from chance to perfect: at or below it a run counts as not having learned


def chance_ceiling(num_classes: int) -> float:
    """The accuracy at or below which a run is 'near chance': 19% for 10 classes, 55% for 2."""
    chance = 1 / num_classes
    return chance + NEAR_CHANCE * (1 - chance)


def run_health(events: list[dict], test_accuracy: float | None, num_classes: int | None = None) -> str | None:
    """A one-sentence warning for a run that diverged or stayed at chance level; None for a healthy one.

    Diverged: the last epoch's mean training loss is above the first logged batch loss (the loss of the
    untrained net, about ln(classes)), or not finite. Chance: test accuracy at or below chance_ceiling.
    Without `num_classes` (runs recorded before it was stored, of an imported dataset) only the loss is judged.
    """
    problems = []
    first = next((e["loss"] for e in events if e.get("type") == "batch" and _number(e.get("loss"))), None)
    epochs = [e["train_loss"] for e in events if e.get("type") == "epoch" and "train_loss" in e]
    if epochs and first is not None:
        last = epochs[-1]
        if not _number(last) or not math.isfinite(last):
            problems.append(f"the training loss became {last}")
        elif last > first:
            problems.append(f"the training loss rose from {first:.3g} to {last:.3g} (diverged)")
    if _number(test_accuracy) and num_classes and num_classes > 1 and test_accuracy <= chance_ceiling(num_classes):
        problems.append(f"test accuracy {test_accuracy:.1%} is near chance level "
                        f"({1 / num_classes:.0%} for {num_classes} classes)")
    if not problems:
        return None
    return ("This run did not learn: " + "; ".join(problems)
            + ". Try a lower learning rate; this model is never picked by default.")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
