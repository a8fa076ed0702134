"""Progress of a run, summarised from its event stream (metrics.jsonl), for progress bars and charts.

    from mnist_core.progress import summarize; summarize(runs.read_events(run_dir), epochs=10)

A page that watches a live run keeps a `Watcher` instead: each `update()` parses only the lines appended
since the last one and folds them into the same `Progress`, so a refresh costs what was added, not the
whole file again.

    watcher = Watcher(run_dir, epochs=10); watcher.update(); watcher.progress.overall
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from mnist_core.runs import parse_events

# The smoothed loss is an exponential moving average whose time constant is this fraction of an epoch:
# short enough to follow the first epoch's fast fall, long enough to hide batch-to-batch noise.
SMOOTHING_EPOCHS = 0.05
STAGES = {"starting": "starting the worker", "loading data": "loading data", "training": "training"}


@dataclass
class Progress:
    epochs: int
    epoch: int = 0  # current epoch, 0-based
    epoch_fraction: float = 0.0  # of the current epoch, 0..1
    overall: float = 0.0  # of the whole run, 0..1
    elapsed: float = 0.0  # seconds since training started
    eta: float | None = None  # seconds left, once some progress has been made
    stage: str = "starting"  # starting (no event yet) | loading data | training (see STAGES)
    running_loss: float | None = None
    loss_curve: list[tuple[float, float]] = field(default_factory=list)  # (fractional epoch, smoothed loss)
    epoch_rows: list[dict] = field(default_factory=list)  # one per finished epoch: train/test loss, accuracy
    grid: dict | None = None  # the latest epoch's predictions for the fixed test images (trainer.GRID_SIZE)
    final: dict | None = None  # the finished / failed / cancelled event, if any
    # Where the last batch event stood, to turn two running means into the mean loss between them.
    _last: tuple[int, int, float] = (-1, 0, 0.0)  # (epoch, batch, running loss)
    _ema: tuple[float, float] = (0.0, 0.0)  # (weighted sum, sum of weights): an unbiased EMA from the start

    def add(self, e: dict) -> None:
        """Fold one event into the summary."""
        kind = e.get("type")
        if kind == "batch":
            self._add_batch(e)
        elif kind == "epoch":
            self.epoch_rows.append({k: e[k] for k in ("epoch", "train_loss", "test_loss", "test_accuracy")})
            self.epoch, self.epoch_fraction, self.elapsed = e["epoch"], 1.0, e["elapsed"]
            self.grid = e.get("grid") or self.grid
        elif kind == "stage":
            self.stage = e.get("stage", self.stage)
        elif kind in ("finished", "failed", "cancelled"):
            self.final = e
        self._totals()

    def _add_batch(self, e: dict) -> None:
        epoch, batch, batches, running = e["epoch"], e["batch"], e["batches"], e["loss"]
        self.stage, self.epoch, self.epoch_fraction = "training", epoch, batch / batches
        self.running_loss, self.elapsed = running, e["elapsed"]
        # The trainer's loss is the running mean of this epoch (it restarts every epoch); the mean over the
        # batches since the last event is exact from two running means: (sum now - sum then) / batches between.
        last_epoch, last_batch, last_running = self._last
        if last_epoch != epoch:
            last_batch, last_running = 0, 0.0
        n = batch - last_batch
        if n <= 0:
            return
        interval_mean = (running * batch - last_running * last_batch) / n
        keep = math.exp(-n / (SMOOTHING_EPOCHS * batches))  # n batches' worth of decay
        total, weight = self._ema
        self._ema = (total * keep + interval_mean * (1 - keep), weight * keep + (1 - keep))
        self._last = (epoch, batch, running)
        self.loss_curve.append((epoch + self.epoch_fraction, self._ema[0] / self._ema[1]))

    def _totals(self) -> None:
        self.overall = min(1.0, (self.epoch + self.epoch_fraction) / self.epochs)
        if self.final and self.final.get("type") == "finished":
            self.overall, self.epoch_fraction, self.eta = 1.0, 1.0, 0.0
        elif self.overall > 0:
            self.eta = self.elapsed * (1 - self.overall) / self.overall

    @property
    def stage_text(self) -> str:
        return STAGES.get(self.stage, self.stage)


def summarize(events: list[dict], epochs: int) -> Progress:
    p = Progress(epochs=max(1, epochs))
    for e in events:
        p.add(e)
    return p


class EventTail:
    """Reads a metrics.jsonl incrementally: each `read()` returns the events of the complete lines appended
    since the last call. A half-written last line (the trainer is mid-write) is left for the next call."""

    def __init__(self, path: Path | str):
        self.path, self.offset = Path(path), 0

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                if os.fstat(f.fileno()).st_size <= self.offset:
                    return []
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # 0 when no line is complete yet
        self.offset += end
        return parse_events(data[:end])


class Watcher:
    """A run's Progress, kept up to date from what its metrics.jsonl gained since the last update."""

    def __init__(self, run_dir: Path | str, epochs: int):
        self.tail = EventTail(Path(run_dir) / "metrics.jsonl")
        self.progress = Progress(epochs=max(1, epochs))
        self.version = 0  # counts updates that brought events: a cheap key for "has anything changed"

    def update(self) -> bool:
        """Fold in the new events; True when there were any."""
        events = self.tail.read()
        for e in events:
            self.progress.add(e)
        self.version += bool(events)
        return bool(events)
