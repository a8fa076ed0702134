"""Cross-validation for the data review: `--folds 5 --recipe fast` on the 60,000 MNIST training digits against
the notebook's own loop for its 10 epochs, both measured in this run on this machine.

    python benchmarks/folds.py [--quick] [--folds 5]

Full (about 5 minutes on 2 cores): the notebook's loop for 10 epochs (the reference), then the whole
`python -m mnist_core.train --data mnist --recipe fast --folds 5` path in this process (run_training into a
temporary run folder: loading the data, 5 fold models on 48,000 digits each, the final model on all 60,000,
every evaluation, oof_probs.pt, embeddings.pt and the checkpoint written). Target: the run takes at most the
reference's time. Also reported: the out-of-fold accuracy over the 60,000 and the final test accuracy.
Quick (a smoke run, about a minute): 100 batches of the notebook loop against 1 epoch of the folds on 6,400
digits; no target applies. Data from MNIST_DATA_DIR or ../shared/data.
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from common import Row, data_dir, load_average, print_rows
from notebook_reference import train_notebook

from mnist_core import runs
from mnist_core.config import TrainConfig, apply_recipe
from mnist_core.data import DIGITS, load_dataset
from mnist_core.launch import run_training
from mnist_core.run_probs import load_oof

QUICK_STEPS = 100


def quick_data_dir(root: Path) -> tuple[Path, str]:
    """The first QUICK_STEPS * 64 training and 1,000 test digits as an imported dataset under root."""
    import json

    full = load_dataset("mnist", data_dir(), download=False)
    folder = root / "datasets" / "mnist-quick"
    folder.mkdir(parents=True)
    n = QUICK_STEPS * 64
    np.savez(folder / "data.npz", train_images=full.train_images[:n].numpy(),
             train_labels=full.train_labels[:n].numpy(), test_images=full.test_images[:1000].numpy(),
             test_labels=full.test_labels[:1000].numpy())
    (folder / "manifest.json").write_text(json.dumps({"class_names": DIGITS}))
    return root, "mnist-quick"


def cross_validated_run(data: str, source: Path, runs_dir: Path, folds: int, epochs: int | None) -> dict:
    """One `--recipe fast --folds K` run through run_training: seconds, fold seconds, accuracies."""
    config = apply_recipe(TrainConfig(data=data, folds=folds), "fast")
    if epochs:
        config = dataclasses.replace(config, epochs=epochs)
    run_dir = runs.create_run(runs_dir, config)
    fold_end = []

    def note(event: dict) -> None:
        if event["type"] == "folds_done":
            fold_end.append(time.perf_counter())

    start = time.perf_counter()
    status = run_training(config, run_dir, source, on_event=note)
    seconds = time.perf_counter() - start
    if status["status"] != "finished":
        raise RuntimeError(f"the cross-validated run {status['status']}: {status.get('error')}")
    probs, labels, _ = load_oof(run_dir)
    return {"seconds": seconds, "folds_s": fold_end[0] - start,
            "oof_accuracy": float((probs.argmax(1) == labels).mean()), "test_accuracy": status["test_accuracy"],
            "images": len(labels)}


def run(quick: bool = False, folds: int = 5) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="bench-folds-"))
    try:
        source, data = quick_data_dir(work) if quick else (data_dir(), "mnist")
        load_before = load_average()
        notebook_s, _, _ = train_notebook(1 if quick else 10, QUICK_STEPS if quick else None, verbose=not quick)
        reference = f"notebook loop, {f'{QUICK_STEPS} steps' if quick else '10 epochs'}"
        print(f"{reference}: {notebook_s:.1f} s", flush=True)
        cv = cross_validated_run(data, source, work / "runs", folds, 1 if quick else None)
        print(f"--folds {folds} --recipe fast on {cv['images']:,} training digits: {cv['seconds']:.1f} s in all, "
              f"{cv['folds_s']:.1f} s of it the folds; out-of-fold accuracy {cv['oof_accuracy']:.4f}, "
              f"final test accuracy {cv['test_accuracy']:.4f}", flush=True)
        print(f"load average before {load_before}, after {load_average()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    what = f"--folds {folds} --recipe fast" + (" (1 epoch, 6,400 digits)" if quick else ", 60,000 digits")
    return [
        Row("folds", f"{what}: the whole run (data, {folds} folds, final model, files)", cv["seconds"], "s",
            reference, notebook_s, "<= the reference", None if quick else cv["seconds"] <= notebook_s),
        Row("folds", f"of which the {folds} fold models", cv["folds_s"], "s", reference, notebook_s),
        Row("folds", "out-of-fold accuracy over the training digits", cv["oof_accuracy"] * 100, "%"),
        Row("folds", "final model's test accuracy", cv["test_accuracy"] * 100, "%"),
    ]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run on 6,400 digits")
    p.add_argument("--folds", type=int, default=5)
    args = p.parse_args()
    print_rows(run(args.quick, args.folds))
