"""Retrain with the corrections: a new run with a run's config plus the corrected labels its review found, and
which runs are the before and after of such a retraining (pure functions on the run store; no Streamlit).

    from mnist_core.review.retrain import retrain
    run_dir = retrain(info, store.history(info.run_id, split=None), runs_dir, data_dir, owner="")

The corrections (the run's own corrections file, if any, plus every image whose latest verdict is "label is
wrong", training and test rows) are kept under <runs dir>/corrections/ as a Train-page upload is
(corrections.store_corrections), and the new run's config names that file.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from mnist_core.config import TrainConfig
from mnist_core.launch import start_worker
from mnist_core.review.corrections import Corrections, CorrectionsError, store_corrections
from mnist_core.review.export import review_corrections
from mnist_core.review.store import Verdict
from mnist_core.runs import RunInfo

ONLY_DIFFERENCE = {"label_corrections", "recipe"}  # a retraining keeps every other field of the config


def retrain_corrections(info: RunInfo, history: list[Verdict]) -> Corrections:
    """The corrections a retraining of `info` trains with (history: its verdicts on both splits)."""
    data = info.config.get("data", "")
    return Corrections(data, review_corrections(history, data, info.config.get("label_corrections", "")))


def new_corrections(info: RunInfo, history: list[Verdict]) -> dict[tuple[str, int], int]:
    """The corrections a retraining adds to what `info` already trained with, (split, index) -> label."""
    previous = review_corrections([], info.config.get("data", ""), info.config.get("label_corrections", ""))
    return {key: label for key, label in retrain_corrections(info, history).labels.items()
            if previous.get(key) != label}


def retrain(info: RunInfo, history: list[Verdict], runs_dir: Path | str, data_dir: Path | str,
            owner: str = "") -> Path:
    """Start (queue) the new run: `info`'s config with the corrections file; returns its run folder.
    CorrectionsError when the review corrected nothing new; ConfigError / QuotaError as start_worker raises."""
    if not new_corrections(info, history):
        raise CorrectionsError("No verdict says 'label is wrong' beyond the corrections this run already trained "
                               "with: there is nothing new to retrain with.")
    path = store_corrections(runs_dir, retrain_corrections(info, history))
    config = dataclasses.replace(TrainConfig.from_dict(dict(info.config)), label_corrections=str(path.resolve()))
    return start_worker(config, runs_dir, data_dir, owner=owner)


def retrain_partners(info: RunInfo, finished: list[RunInfo]) -> list[RunInfo]:
    """The finished runs that are `info` retrained with other corrections, or `info`'s own run before (their
    configs differ in the corrections file only), newest first."""
    def same_but_corrections(other: RunInfo) -> bool:
        fields = set(info.config) | set(other.config)
        differ = {f for f in fields if info.config.get(f) != other.config.get(f)}
        return "label_corrections" in differ and differ <= ONLY_DIFFERENCE

    return [r for r in finished if r.run_id != info.run_id and same_but_corrections(r)]


def before_and_after(a: RunInfo, b: RunInfo) -> tuple[RunInfo, RunInfo]:
    """(before, after): the older run first (by creation time, then run id)."""
    key = lambda r: (r.created_ns or 0, r.run_id)  # noqa: E731
    return (a, b) if key(a) <= key(b) else (b, a)
