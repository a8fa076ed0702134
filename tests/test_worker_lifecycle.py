"""Training workers for real (the job limit and its queue: tests/test_queue.py): finished workers reaped (no zombie),
a cancel during the final evaluation, a diverged lr=10 run flagged.

    python -m pytest -q tests/test_worker_lifecycle.py
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from waiting import wait_for

from mnist_core import files, launch, runs
from mnist_core.config import TrainConfig
from mnist_core.data import Dataset
from mnist_core.distributed import DistContext
from mnist_core.health import run_health
from mnist_core.trainer import train

REPO = Path(__file__).resolve().parent.parent
QUICK = TrainConfig(data="mnist-sample", epochs=1, batch_size=32, device="cpu")
LONG = TrainConfig(data="mnist-sample", epochs=50, batch_size=100, device="cpu")
def _kill_workers(runs_dir: Path) -> None:
    for info in runs.list_runs(runs_dir):
        if info.status == "running":
            os.kill(files.read_json(info.path / "status.json")["pid"], signal.SIGKILL)


def _process_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return None  # gone: reaped


def test_a_finished_worker_is_reaped_not_left_a_zombie(tmp_path):
    run_dir = launch.start_worker(QUICK, tmp_path / "runs", tmp_path / "data")
    pid = files.read_json(run_dir / "status.json")["pid"]
    wait_for(lambda: runs.read_run(run_dir).status != "running", 120, "the worker to finish")
    assert runs.read_run(run_dir).status == "finished"
    # No other subprocess is started meanwhile (Popen reaps old children as a side effect).
    # after "finished" the worker still writes the label issues and the embedding map (UMAP's first call
    # compiles with numba), then exits and is reaped
    wait_for(lambda: _process_state(pid) is None, 300, f"worker {pid} to be reaped (state {_process_state(pid)})")


def _cancel_during_evaluation(run_dir: Path, at: int, calls: list):
    """A DistContext.predict_proba that writes the run's cancel file from inside evaluation number `at`
    (1-based), as a click would land, then evaluates."""
    real = DistContext.predict_proba

    def predict_proba(ctx, *args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            assert runs.request_cancel(run_dir)
        return real(ctx, *args, **kwargs)

    return predict_proba


def test_a_cancel_during_the_final_evaluation_wins_and_leaves_no_cancel_file(runs_dir, tmp_path, monkeypatch):
    config = TrainConfig(data="mnist-sample", epochs=2, batch_size=100, device="cpu")  # 40 batches an epoch
    run_dir = runs.create_run(runs_dir, config)
    calls = []  # mnist-sample's 1,000 test digits: one chunk per evaluation
    monkeypatch.setattr(DistContext, "predict_proba", _cancel_during_evaluation(run_dir, 2, calls))
    status = launch.run_training(config, run_dir, tmp_path)
    assert len(calls) == 2 and status["status"] == "cancelled"
    events = runs.read_events(run_dir)
    assert events[-1] == {"type": "cancelled", "epoch": 1, "batch": 40}  # where it was: all 40 batches trained
    assert not runs.cancel_requested(run_dir) and not (run_dir / "model.pt").exists()


def test_a_cancel_between_evaluation_chunks_stops_the_evaluation(mnist_subset, mnist_full):
    data = Dataset("mnist", mnist_subset.train_images[:256], mnist_subset.train_labels[:256],
                   mnist_full.test_images, mnist_full.test_labels, mnist_subset.class_names)  # 10,000: 5 chunks
    calls = []
    real = DistContext.predict_proba

    def predict_proba(ctx, *args, **kwargs):
        calls.append(1)  # the cancel click lands while this chunk is predicted
        return real(ctx, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DistContext, "predict_proba", predict_proba)
        events = list(train(TrainConfig(epochs=1, batch_size=256, device="cpu"), data, should_stop=lambda: bool(calls)))
    assert len(calls) == 1 and events[-1] == {"type": "cancelled", "epoch": 0, "batch": 1}


def test_a_cancel_after_the_last_event_ends_finished_and_is_cleaned_up(runs_dir, tmp_path):
    run_dir = runs.create_run(runs_dir, QUICK)

    def click_cancel(event: dict) -> None:
        if event["type"] == "finished":  # the checkpoint is being saved: too late to cancel
            assert runs.request_cancel(run_dir)

    status = launch.run_training(QUICK, run_dir, tmp_path, on_event=click_cancel)
    assert status["status"] == "finished" and not runs.cancel_requested(run_dir)


def test_a_diverged_lr10_run_is_flagged(runs_dir, tmp_path):
    config = TrainConfig(data="mnist-sample", epochs=2, lr=10.0, device="cpu")
    run_dir = runs.create_run(runs_dir, config)
    status = launch.run_training(config, run_dir, tmp_path)
    assert status["status"] == "finished" and status["test_accuracy"] == pytest.approx(0.1, abs=0.02)
    info = runs.read_run(run_dir)
    assert info.warning == status["warning"]
    assert info.warning.startswith("This run did not learn: the training loss rose from 2.")
    assert f"test accuracy {info.test_accuracy:.1%} is near chance level (10% for 10 classes)" in info.warning


def test_health_of_a_healthy_and_of_an_old_run(runs_dir):
    events = [{"type": "batch", "loss": 2.3}, {"type": "epoch", "train_loss": 0.3}]
    assert run_health(events, 0.95, 10) is None
    assert run_health(events, 0.55, 2) is not None and run_health(events, 0.56, 2) is None  # chance is 50%
    old = runs.create_run(runs_dir, TrainConfig(data="mnist-sample"))  # finished before "warning" existed
    runs.append_event(old, {"type": "batch", "loss": 2.3})
    runs.append_event(old, {"type": "epoch", "train_loss": 2.31})
    runs.set_status(old, "finished", test_accuracy=0.098)
    assert "near chance level" in runs.read_run(old).warning and "rose from 2.3 to 2.31" in runs.read_run(old).warning
