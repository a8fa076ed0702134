"""Test helper (not a test file): a finished run folder in milliseconds, without training.

The folder is what run_training leaves: config.json, status.json (finished), metrics.jsonl (one epoch and
the final event), probs.pt, and model.pt holding an untrained net of the architecture asked for. Use it
wherever a test needs "a run" to click through a page; train for real only to test training itself.

    from fake_run import make_fake_run
    run_dir = make_fake_run(runs_dir, labels=mnist_sample.test_labels.numpy())   # random, seeded probs
"""
from pathlib import Path

import numpy as np
import torch

from mnist_core import runs
from mnist_core.config import TrainConfig
from mnist_core.data import DIGITS
from mnist_core.launch import checkpoint_meta
from mnist_core.nets import make_net


def make_fake_run(runs_dir: Path, probs: np.ndarray | None = None, labels: np.ndarray | None = None,
                  class_names: list[str] = DIGITS, data: str = "mnist-sample", run_id: str | None = None,
                  label_corrections: str = "", seed: int = 0, architecture: str = "notebook") -> Path:
    """A finished run on `labels` (the test labels of `data`) with `probs`, else seeded random probabilities
    that favour the given label (a run at chance would carry a health warning and never be the default)."""
    if probs is None:
        logits = np.random.default_rng(seed).normal(scale=3.0, size=(len(labels), len(class_names)))
        logits[np.arange(len(labels)), labels] += 4.0  # about 85% right: a run that learned (mnist_core.health)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    config = TrainConfig(data=data, epochs=1, seed=seed, architecture=architecture,
                         label_corrections=label_corrections)
    run_dir = runs.create_run(runs_dir, config, run_id=run_id)
    accuracy = float((probs.argmax(axis=1) == labels).mean())
    final = {"test_accuracy": accuracy, "test_loss": float(-np.log(probs[np.arange(len(labels)), labels]).mean())}
    runs.save_checkpoint(run_dir / "model.pt", make_net(architecture, len(class_names)),
                         checkpoint_meta(config, class_names, final))
    runs.save_probs(run_dir, torch.tensor(probs, dtype=torch.float32), torch.tensor(labels))
    runs.append_event(run_dir, {"type": "epoch", "epoch": 0, "epochs": 1, "train_loss": final["test_loss"],
                                "test_loss": final["test_loss"], "test_accuracy": accuracy, "elapsed": 0.0})
    runs.append_event(run_dir, {"type": "finished", **final, "duration": 0.0})
    runs.set_status(run_dir, "finished", test_accuracy=accuracy, duration=0.0)
    return run_dir


def add_oof_probs(run_dir: Path, probs: np.ndarray, labels: np.ndarray, k: int = 5) -> Path:
    """Give a run the oof_probs.pt of a `--folds k` run (issue 12's format): out-of-fold probabilities of every
    training image, the labels the folds trained on, and each image's fold (round robin here)."""
    path = run_dir / "oof_probs.pt"
    torch.save({"probs": torch.tensor(probs, dtype=torch.float32), "labels": torch.tensor(labels, dtype=torch.int64),
                "folds": torch.from_numpy((np.arange(len(labels)) % k).astype(np.int8)), "k": k}, path)
    return path
