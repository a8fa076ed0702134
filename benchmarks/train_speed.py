"""Training throughput: the notebook's loop against the core trainer, same net, batch 64, same number of steps.

    python benchmarks/train_speed.py [--quick] [--rounds N]

Full: one epoch each (938 batches of 64 over the 60,000 training digits), timed from the first batch to the
last as the notebook's loop is (the core trainer's end-of-epoch evaluation on the 10,000 test digits is a row
of its own; the notebook loop has none), run alternately `--rounds` times (default 2) so that
both see the same machine load; the medians are compared. Quick: 150 batches and 1,000 test digits, 3 rounds.
Also prints the first-epoch average loss of both: the `notebook` recipe is the same maths (the notebook
printed 0.36806), so the two curves must agree. Data from MNIST_DATA_DIR or ../shared/data.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from common import Row, data_dir, load_average, print_rows
from notebook_reference import train_notebook

from mnist_core.config import TrainConfig, apply_recipe
from mnist_core.data import Dataset, load_dataset
from mnist_core.trainer import train

QUICK_STEPS, QUICK_TEST = 150, 1000
NOTEBOOK_FIRST_EPOCH_LOSS, LOSS_TOLERANCE, TARGET_SPEEDUP = 0.365, 0.05, 2.5


def train_core(dataset: Dataset) -> tuple[float, float, float]:
    """One epoch of the `notebook` recipe through mnist_core.trainer.train: (seconds of the training steps,
    seconds with the end-of-epoch evaluation, average loss). Both clocks start when the first batch does."""
    config = dataclasses.replace(apply_recipe(TrainConfig(data="mnist"), "notebook"), epochs=1)
    events = list(train(config, dataset))
    epoch = next(e for e in events if e["type"] == "epoch")
    steps_s = [e["elapsed"] for e in events if e["type"] == "batch"][-1]
    return steps_s, epoch["elapsed"], epoch["train_loss"]


def cpu_timed(fn, *args) -> tuple[float, object]:
    """(CPU seconds of this process, fn's result): CPU time is the work done, whatever the load."""
    cpu = time.process_time()
    result = fn(*args)
    return time.process_time() - cpu, result


def run(quick: bool = False, rounds: int | None = None) -> list[Row]:
    rounds = rounds or (3 if quick else 2)
    dataset = load_dataset("mnist", data_dir(), download=False)
    steps = QUICK_STEPS if quick else len(dataset.train_labels) // 64 + 1
    if quick:  # the first steps * 64 digits: the same batches the notebook loop sees
        dataset = dataclasses.replace(dataset, train_images=dataset.train_images[:steps * 64],
                                      train_labels=dataset.train_labels[:steps * 64],
                                      test_images=dataset.test_images[:QUICK_TEST],
                                      test_labels=dataset.test_labels[:QUICK_TEST])
    load_before = load_average()
    notebook_runs, core_runs = [], []  # notebook: (loop s, CPU s, loss); core: (steps s, CPU s, loss, with eval s)
    for i in range(rounds):
        cpu, (seconds, losses, _) = cpu_timed(train_notebook, 1, steps, 0, False)
        notebook_runs.append((seconds, cpu, losses[0]))
        cpu, (steps_s, epoch_s, loss) = cpu_timed(train_core, dataset)
        core_runs.append((steps_s, cpu, loss, epoch_s))
        print(f"round {i + 1}/{rounds}: notebook loop {seconds:.2f} s (process CPU {notebook_runs[-1][1]:.2f} s, "
              f"loss {losses[0]:.5f}), core trainer {steps_s:.2f} s, {epoch_s:.2f} s with its evaluation "
              f"(process CPU {cpu:.2f} s, loss {loss:.5f})", flush=True)
    notebook_s, notebook_cpu = (statistics.median(r[k] for r in notebook_runs) for k in (0, 1))
    core_s, core_cpu, core_epoch_s = (statistics.median(r[k] for r in core_runs) for k in (0, 1, 3))
    notebook_loss, core_loss = notebook_runs[0][2], core_runs[0][2]
    print(f"load average before {load_before}, after {load_average()}")
    what = f"{steps} steps" if quick else "1 epoch"
    return [
        Row("train_speed", f"notebook recipe, {what} of batch 64, training steps", core_s, "s", "notebook loop",
            notebook_s, f">= {TARGET_SPEEDUP}x", None if quick else notebook_s / core_s >= TARGET_SPEEDUP),
        Row("train_speed", "the same with the core's end-of-epoch test-set evaluation", core_epoch_s, "s",
            "notebook loop (no evaluation)", notebook_s),
        Row("train_speed", "CPU time of the process (data loading and set-up included)", core_cpu, "s",
            "notebook loop", notebook_cpu),
        Row("train_speed", f"average loss over {what}", core_loss, "", "notebook loop", notebook_loss,
            f"within {LOSS_TOLERANCE} of {NOTEBOOK_FIRST_EPOCH_LOSS}",
            None if quick else abs(core_loss - NOTEBOOK_FIRST_EPOCH_LOSS) <= LOSS_TOLERANCE),
    ]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps instead of a whole epoch")
    p.add_argument("--rounds", type=int, default=None, help="alternating runs of each (median taken)")
    args = p.parse_args()
    print_rows(run(args.quick, args.rounds))
