"""Helpers for the app tests: a finished run made on the offline sample, and env pointing the app at it."""
from __future__ import annotations

from pathlib import Path

from mnist_core import runs
from mnist_core.config import TrainConfig
from mnist_core.launch import run_training


def make_finished_run(runs_dir: Path, data_dir: Path, epochs: int = 1, seed: int = 0, **fields) -> Path:
    config = TrainConfig(data="mnist-sample", epochs=epochs, batch_size=64, seed=seed, device="cpu", **fields)
    run_dir = runs.create_run(runs_dir, config)
    status = run_training(config, run_dir, data_dir)
    assert status["status"] == "finished", status
    return run_dir
