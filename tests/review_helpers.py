"""Test helper (not a test file): a finished run folder with given probabilities, without training.

    from review_helpers import make_fake_run
"""
import re
from pathlib import Path

import numpy as np
import torch

from mnist_core import runs
from mnist_core.config import TrainConfig
from mnist_core.launch import checkpoint_meta
from mnist_core.model import make_net


def make_fake_run(runs_dir: Path, probs: np.ndarray, labels: np.ndarray, class_names: list[str],
                  data: str = "toy", run_id: str | None = None, label_corrections: str = "") -> Path:
    """A run folder as run_training leaves it (config, status finished, model.pt, probs.pt), from given arrays."""
    config = TrainConfig(data=data, epochs=1, label_corrections=label_corrections)
    run_dir = runs.create_run(runs_dir, config, run_id=run_id)
    accuracy = float((probs.argmax(axis=1) == labels).mean())
    runs.save_checkpoint(run_dir / "model.pt", make_net("notebook", len(class_names)),
                         checkpoint_meta(config, class_names, {"test_accuracy": accuracy}))
    runs.save_probs(run_dir, torch.tensor(probs, dtype=torch.float32), torch.tensor(labels))
    runs.set_status(run_dir, "finished", test_accuracy=accuracy, duration=0.0)
    return run_dir


def unescaped(markdown: str) -> str:
    """What a Markdown string escaped by ui.text.md_escape shows: its backslash escapes (and the invisible word
    joiners that keep URLs from becoming links) removed."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")
