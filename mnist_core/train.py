"""Train a network from the command line, into the run store, with progress bars.

    python -m mnist_core.train --data mnist --epochs 10 --batch-size 64 --lr 1e-3 \\
        [--data-dir DIR] [--runs-dir DIR] [--seed N] [--device auto|cpu|cuda] [--precision auto|float32|bfloat16]
        [--recipe notebook] [--folds K]

Prints the notebook's per-epoch lines (`Epoch 0/10: average loss 0.36806`), then
`test accuracy: 0.9xxx` and the run folder. Bad arguments exit 2 with a one-line message. With --folds K,
K cross-validation folds train first, each printing `Fold 1/5: held-out accuracy 0.98xx ...`.

On several processes or machines, the same command under torchrun (DistributedDataParallel; rank 0 writes
the run and prints; --batch-size stays the global batch; see docs/distributed.md):

    torchrun --nproc-per-node 2 -m mnist_core.train --data mnist --epochs 10
"""
from __future__ import annotations

import dataclasses
import os
import sys
from argparse import Namespace

from tqdm import tqdm

from mnist_core import distributed, jobs, runs
from mnist_core.cli import ArgumentParser, fail
from mnist_core.config import AUGMENTATIONS, PRECISIONS, RECIPE_NOTES, RECIPES, ConfigError, TrainConfig, apply_recipe
from mnist_core.data import default_data_dir, list_data_sources
from mnist_core.device import resolve_device
from mnist_core.distributed import LOCAL, DistContext
from mnist_core.launch import run_training
from mnist_core.nets import ARCHITECTURES


def parse_args(argv: list[str] | None) -> Namespace:
    p = ArgumentParser(prog="python -m mnist_core.train", description="Train a classifier into the run store.",
                epilog="recipes: " + "; ".join(f"{name}: {note}" for name, note in RECIPE_NOTES.items()))
    p.add_argument("--data", default="mnist", help="data source name (see --list-data)")
    p.add_argument("--recipe", choices=list(RECIPES), default="default",
                   help="preset hyperparameters; flags given explicitly override it")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer")
    p.add_argument("--architecture", help=f"the network: {', '.join(ARCHITECTURES)} (default: the recipe's)")
    p.add_argument("--augment", help=f"training-time augmentation: {', '.join(AUGMENTATIONS)} (default: the recipe's)")
    p.add_argument("--label-smoothing", type=float, metavar="E", help="in [0, 1) (default: the recipe's)")
    p.add_argument("--ema", type=float, metavar="DECAY",
                   help="score a moving average of the weights with this decay, e.g. 0.999; 0: none "
                        "(default: the recipe's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", help=f"what the steps compute in: {', '.join(PRECISIONS)}; auto is bfloat16 on a "
                                       "GPU and float32 on the CPU (default: the recipe's)")
    p.add_argument("--no-shuffle", action="store_true", help="keep the data order fixed (as the notebook)")
    p.add_argument("--validation", type=int, default=0, metavar="N",
                   help="hold out N training images (seeded, stratified) to calibrate the probabilities on; "
                        "default 0: train on all, as the notebook")
    p.add_argument("--folds", type=int, default=0, metavar="K",
                   help="cross-validate first (K 2..10): K fold models give every training image probabilities "
                        "from a model that never saw it (oof_probs.pt, for the data review); default 0: none")
    p.add_argument("--label-corrections", default="", help="CSV of corrected labels (see mnist_core.review)")
    p.add_argument("--data-dir", default=str(default_data_dir()))
    p.add_argument("--runs-dir", default=str(runs.default_runs_dir()))
    p.add_argument("--list-data", action="store_true", help="print the available data sources and exit")
    return p.parse_args(argv)


def build_config(args: Namespace) -> TrainConfig:
    config = apply_recipe(TrainConfig(data=args.data, seed=args.seed, device=args.device,
                                      label_corrections=args.label_corrections, validation=args.validation,
                                      folds=args.folds),
                          args.recipe)
    overrides = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                 "optimizer": args.optimizer, "architecture": args.architecture, "augment": args.augment,
                 "label_smoothing": args.label_smoothing, "ema": args.ema, "precision": args.precision}
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    if args.no_shuffle:
        config = dataclasses.replace(config, shuffle=False)
    return config


class ProgressPrinter:
    """Renders trainer events: a tqdm bar per epoch (on stderr), then the notebook's per-epoch line."""

    def __init__(self, epochs: int):
        self.epochs, self.bar, self.done = epochs, None, 0

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if kind in ("batch", "fold_batch"):
            if self.bar is None:
                fold = f"fold {event['fold'] + 1}/{event['folds']} " if kind == "fold_batch" else ""
                self.bar, self.done = tqdm(total=event["batches"], desc=f"{fold}epoch {event['epoch']}",
                                           unit="batch", leave=False, file=sys.stderr), 0
            self.bar.update(event["batch"] - self.done)
            self.done = event["batch"]
            self.bar.set_postfix(loss=f"{event['loss']:.4f}")
        elif kind == "epoch":
            self._close()
            tqdm.write(f"Epoch {event['epoch']}/{self.epochs}: average loss {event['train_loss']:.5f}"
                       f"  (test loss {event['test_loss']:.4f}, test accuracy {event['test_accuracy']:.4f})")
        elif kind == "fold_epoch":
            self._close()
        elif kind == "fold":
            self._close()
            tqdm.write(f"Fold {event['fold'] + 1}/{event['folds']}: held-out accuracy {event['held_out_accuracy']:.4f}"
                       f"  (held-out loss {event['held_out_loss']:.4f}, {event['images']} images)")
        elif kind in ("failed", "cancelled"):
            self._close()  # main() then prints the one error line

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list_data:
        print("\n".join(list_data_sources(args.data_dir)))
        return 0
    try:
        config = build_config(args).validate(known_data=list_data_sources(args.data_dir))
        resolve_device(config.device)
    except (ConfigError, ValueError) as exc:
        return fail(exc, 2)
    if not distributed.launched_by_torchrun():
        return train_into_run(config, args)
    try:
        dist = distributed.setup(config.device)
    except (ValueError, RuntimeError) as exc:
        return fail(f"could not join the torchrun job: {exc}", 1)
    try:
        config = dataclasses.replace(config, workers=dist.world_size)
        if dist.is_main:
            return train_into_run(config, args, dist)
        try:  # the other ranks train in step with rank 0 and write nothing
            run_training(config, None, args.data_dir, dist=dist)
        except Exception as exc:
            return fail(f"rank {dist.rank}: {type(exc).__name__}: {exc}", 1)
        return 0  # it ended where rank 0 did (a NaN loss too is decided together); rank 0 reports the outcome
    finally:
        distributed.teardown(dist)


def train_into_run(config: TrainConfig, args: Namespace, dist: DistContext = LOCAL) -> int:
    """Create the run folder, train into it with progress bars, print the outcome; the exit code."""
    try:
        run_dir = runs.create_run(args.runs_dir, config)
    except OSError as exc:
        return fail(f"cannot create a run folder in {args.runs_dir}: {exc.strerror or exc}", 2)
    jobs.dispatch_quietly(args.runs_dir, args.data_dir)  # e.g. runs queued by a server that is down
    try:
        status = run_training(config, run_dir, args.data_dir, on_event=ProgressPrinter(config.epochs),
                              should_stop=lambda: False, dist=dist)
    except KeyboardInterrupt:
        status = runs.end_run(run_dir, "cancelled", error="interrupted")
    finally:  # this run's slot is free: a queued dashboard run may start
        jobs.dispatch_quietly(args.runs_dir, args.data_dir)
    if status["status"] != "finished":
        return fail(f"run {status['status']}: {status.get('error')}  (run folder: {run_dir})", 1)
    print(f"test accuracy: {status['test_accuracy']:.4f}")
    print(f"run folder: {run_dir}")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Every run file is written, renamed into place and closed by now: skip the interpreter's teardown of torch's
    # thousands of modules (about 1.2 s on 2 cores, benchmarks/whole_process.py), which a person only waits for.
    os._exit(code)
