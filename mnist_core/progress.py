"""Progress of a run, summarised from its event stream (metrics.jsonl), for progress bars and charts.

    from mnist_core.progress import summarize; summarize(runs.read_events(run_dir), epochs=10)

A run trained with --folds K first trains K fold models (mnist_core.folds): its fold_batch / fold_epoch / fold
events move the same two bars, `fold` says which fold trains, and the whole-run bar and the time left cover the
folds and the final model together (a fold epoch weighs (K-1)/K of a final one: it trains on that share).

A page that watches a live run keeps a `Watcher` instead: each `update()` parses only the lines appended
since the last one and folds them into the same `Progress`, so a refresh costs what was added, not the
whole file again.

    watcher = Watcher(run_dir, epochs=10, folds=5); watcher.update(); watcher.progress.overall
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
    folds: int = 0  # K of a cross-validated run (config.folds), else 0
    fold: int | None = None  # the fold (0-based) training now; None before the folds and once the final model trains
    fold_round: int = 0  # this fold's place among the folds the writing process trains (all K but under torchrun)
    fold_rounds: int = 0  # how many folds that process trains; 0 until the first fold event
    fold_rows: list[dict] = field(default_factory=list)  # one per finished fold: fold, held-out accuracy and loss
    final_model: bool = False  # a cross-validated run's final model is training (its folds are done)
    _folds_elapsed: float = 0.0  # the cross-validation's seconds: the final model's own clock starts after them
    # Where the last batch event stood, to turn two running means into the mean loss between them.
    _last: tuple[int, int, float] = (-1, 0, 0.0)  # (epoch, batch, running loss)
    _ema: tuple[float, float] = (0.0, 0.0)  # (weighted sum, sum of weights): an unbiased EMA from the start

    def add(self, e: dict) -> None:
        """Fold one event into the summary."""
        kind = e.get("type")
        if kind in ("fold_batch", "fold_epoch", "fold"):
            self._add_fold(e)
        elif kind == "batch":
            self._start_final()
            self._add_batch(e)
            self.elapsed += self._folds_elapsed
        elif kind == "epoch":
            self._start_final()
            self.epoch_rows.append({k: e[k] for k in ("epoch", "train_loss", "test_loss", "test_accuracy")})
            self.epoch, self.epoch_fraction = e["epoch"], 1.0
            self.elapsed = self._folds_elapsed + e["elapsed"]
            self.grid = e.get("grid") or self.grid
        elif kind == "stage":
            self.stage = e.get("stage", self.stage)
        elif kind in ("finished", "failed", "cancelled"):
            self.final = e
        self._totals()

    def _add_fold(self, e: dict) -> None:
        self.stage, self.elapsed = "training", e["elapsed"]
        if e["type"] == "fold":
            self.fold_rows.append({k: e[k] for k in ("fold", "held_out_accuracy", "held_out_loss", "images")})
            self._folds_elapsed = e["elapsed"]
            return
        self.fold, self.fold_round, self.fold_rounds = e["fold"], e["round"], e["rounds"]
        self.epoch = e["epoch"]
        self.epoch_fraction = e["batch"] / e["batches"] if e["type"] == "fold_batch" else 1.0
        if e["type"] == "fold_batch":
            self.running_loss = e["loss"]

    def _start_final(self) -> None:
        if self.folds and not self.final_model:
            self.final_model, self.fold = True, None

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
        done, total = self.epoch + self.epoch_fraction, self.epochs
        if self.folds:
            share = (self.folds - 1) / self.folds  # of the training set a fold model trains on
            fold_work = (self.fold_rounds or self.folds) * self.epochs * share
            done = fold_work + done if self.final_model else (self.fold_round * self.epochs + done) * share
            total = fold_work + self.epochs
        self.overall = min(1.0, done / total)
        if self.final and self.final.get("type") == "finished":
            self.overall, self.epoch_fraction, self.eta = 1.0, 1.0, 0.0
        elif self.overall > 0:
            self.eta = self.elapsed * (1 - self.overall) / self.overall

    @property
    def stage_text(self) -> str:
        return STAGES.get(self.stage, self.stage)

    @property
    def phase_text(self) -> str:
        """What trains: 'Fold 2/5' or 'Final model' in a cross-validated run, '' in any other."""
        if not self.folds:
            return ""
        return "Final model" if self.fold is None and (self.final_model or self.fold_rows) else \
            f"Fold {(self.fold or 0) + 1}/{self.folds}"


def summarize(events: list[dict], epochs: int, folds: int = 0) -> Progress:
    p = Progress(epochs=max(1, epochs), folds=folds)
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

    def __init__(self, run_dir: Path | str, epochs: int, folds: int = 0):
        self.tail = EventTail(Path(run_dir) / "metrics.jsonl")
        self.progress = Progress(epochs=max(1, epochs), folds=folds)
        self.version = 0  # counts updates that brought events: a cheap key for "has anything changed"

    def update(self) -> bool:
        """Fold in the new events; True when there were any."""
        events = self.tail.read()
        for e in events:
            self.progress.add(e)
        self.version += bool(events)
        return bool(events)
