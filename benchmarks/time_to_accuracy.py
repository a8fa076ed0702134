"""Time to accuracy: the `fast` and `best` recipes against the notebook's 10 epochs, on real MNIST.

    python benchmarks/time_to_accuracy.py [--quick] [--recipes fast,best] [--seeds 0,1,2]

Full (about 10 minutes on 2 cores; run it in the background): the notebook's loop for its 10 epochs (the
reference), then each recipe through mnist_core.trainer.train, timed from the call to the final event
(every epoch's evaluation included). Targets: `fast` >= 99.0 % test accuracy in <= 25 % of the notebook's
time; `best` >= 99.70 % within 600 s (issue 15; 99.4 % until 2026-12). Quick (a smoke run, about a
minute): 100 batches of the notebook loop against one epoch of each recipe on the same 6,400 digits; no target applies.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

from common import Row, data_dir, load_average, print_rows
from notebook_reference import test_notebook, train_notebook

from mnist_core.config import TrainConfig, apply_recipe
from mnist_core.data import Dataset, load_dataset
from mnist_core.trainer import train

TARGETS = {"fast": (0.990, None, 0.25), "best": (0.997, 600.0, None)}  # accuracy, seconds, share of notebook
QUICK_STEPS = 100


def train_recipe(recipe: str, dataset: Dataset, seed: int, epochs: int | None = None) -> tuple[float, float, str]:
    """(seconds, final test accuracy, per-epoch accuracies as text) of one recipe run."""
    config = apply_recipe(TrainConfig(data="mnist", seed=seed), recipe)
    config = dataclasses.replace(config, epochs=epochs or config.epochs)
    start = time.perf_counter()
    curve = []
    for event in train(config, dataset):
        if event["type"] == "epoch":
            curve.append(f"{event['test_accuracy'] * 100:.2f}")
        elif event["type"] == "failed":
            raise RuntimeError(f"{recipe} recipe failed: {event['error']}")
    return time.perf_counter() - start, event["test_accuracy"], " ".join(curve)


def run(quick: bool = False, recipes: tuple[str, ...] = ("fast", "best"), seeds: tuple[int, ...] = (0,)) -> list[Row]:
    dataset = load_dataset("mnist", data_dir(), download=False)
    test_labels = dataset.test_labels  # all 10,000: the notebook's test loop runs over them all
    if quick:
        dataset = dataclasses.replace(dataset, train_images=dataset.train_images[:QUICK_STEPS * 64],
                                      train_labels=dataset.train_labels[:QUICK_STEPS * 64],
                                      test_images=dataset.test_images[:1000], test_labels=dataset.test_labels[:1000])
    load_before = load_average()
    epochs = 1 if quick else 10
    notebook_s, _, network = train_notebook(epochs, QUICK_STEPS if quick else None, verbose=not quick)
    notebook_acc = (test_notebook(network)[1].argmax(1) == test_labels).float().mean().item()
    reference = f"notebook loop, {f'{QUICK_STEPS} steps' if quick else '10 epochs'} ({notebook_acc * 100:.2f} %)"
    print(f"{reference}: {notebook_s:.1f} s", flush=True)
    rows = []
    for recipe in recipes:
        min_accuracy, max_seconds, max_share = TARGETS[recipe]
        for seed in seeds:
            seconds, accuracy, curve = train_recipe(recipe, dataset, seed, epochs=1 if quick else None)
            print(f"`{recipe}` recipe, seed {seed}: {seconds:.1f} s, test accuracy per epoch (%): {curve}", flush=True)
            limit = max_seconds if max_seconds is not None else max_share * notebook_s
            target = (f">= {min_accuracy * 100:.1f} % within " +
                      (f"{max_seconds:g} s" if max_seconds is not None else f"{max_share:.0%} of the reference"))
            rows.append(Row("time_to_accuracy", f"`{recipe}` recipe, seed {seed}: {accuracy * 100:.2f} % test accuracy",
                            seconds, "s", reference, notebook_s, target,
                            None if quick else bool(accuracy >= min_accuracy and seconds <= limit)))
    print(f"load average before {load_before}, after {load_average()}")
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run on 6,400 digits")
    p.add_argument("--recipes", default="fast,best", help="comma list of: fast, best")
    p.add_argument("--seeds", default="0", help="comma list of seeds, one run of each recipe per seed")
    args = p.parse_args()
    print_rows(run(args.quick, tuple(args.recipes.split(",")), tuple(int(s) for s in args.seeds.split(","))))
