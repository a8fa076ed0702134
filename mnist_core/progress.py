"""Progress of a run, summarised from its event stream (metrics.jsonl), for progress bars and charts.

    from mnist_core.progress import summarize; summarize(runs.read_events(run_dir), epochs=10)
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Progress:
    epochs: int
    epoch: int = 0  # current epoch, 0-based
    epoch_fraction: float = 0.0  # of the current epoch, 0..1
    overall: float = 0.0  # of the whole run, 0..1
    elapsed: float = 0.0  # seconds since training started
    eta: float | None = None  # seconds left, once some progress has been made
    running_loss: float | None = None
    loss_curve: list[tuple[float, float]] = field(default_factory=list)  # (fractional epoch, running loss)
    epoch_rows: list[dict] = field(default_factory=list)  # one per finished epoch: train/test loss, accuracy
    final: dict | None = None  # the finished / failed / cancelled event, if any


def summarize(events: list[dict], epochs: int) -> Progress:
    p = Progress(epochs=max(1, epochs))
    for e in events:
        kind = e.get("type")
        if kind == "batch":
            p.epoch, p.epoch_fraction = e["epoch"], e["batch"] / e["batches"]
            p.running_loss, p.elapsed = e["loss"], e["elapsed"]
            p.loss_curve.append((e["epoch"] + p.epoch_fraction, e["loss"]))
        elif kind == "epoch":
            p.epoch_rows.append({k: e[k] for k in ("epoch", "train_loss", "test_loss", "test_accuracy")})
            p.epoch, p.epoch_fraction, p.elapsed = e["epoch"], 1.0, e["elapsed"]
        elif kind in ("finished", "failed", "cancelled"):
            p.final = e
    p.overall = min(1.0, (p.epoch + p.epoch_fraction) / p.epochs)
    if p.final and p.final.get("type") == "finished":
        p.overall, p.epoch_fraction, p.eta = 1.0, 1.0, 0.0
    elif p.overall > 0:
        p.eta = p.elapsed * (1 - p.overall) / p.overall
    return p
