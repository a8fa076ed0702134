"""The trainer: a generator of progress events, so the CLI, the dashboard worker and tests render one stream.

The whole dataset is one uint8 tensor moved to the device once; batches are taken by index and
normalised on the fly; the order is reshuffled every epoch from the config's seed.

Events (dicts, `type` first):
    batch     epoch, batch, batches, loss (running mean this epoch), elapsed
    epoch     epoch, epochs, train_loss, test_loss, test_accuracy, elapsed, grid (GRID_SIZE fixed test
              images' predicted classes and probabilities: {"index": [...], "pred": [...], "p": [...]}), plus
              `test_probs` (not in the JSON)
    finished  test_accuracy, test_loss, duration, plus `net` (the trained network: with config.ema, the weight
              average every epoch was scored on), `test_probs` and, with
              config.validation > 0, `val_probs` and `val_labels` of the held-out training images (not written
              to metrics.jsonl)
    failed    error
    cancelled epoch, batch (the batches of that epoch actually trained)

Under torchrun, `dist` (see mnist_core.distributed) shards each epoch over the ranks, all-reduces the
gradients (DistributedDataParallel) and gathers the test probabilities; every rank yields the same events.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import torch

from mnist_core.augment import augment
from mnist_core.config import TrainConfig
from mnist_core.cuda_graph import LossStep, use_graphs
from mnist_core.data import Dataset, normalization, to_model_input
from mnist_core.device import autocast, resolve_device
from mnist_core.distributed import LOCAL, DistContext
from mnist_core.nets import make_net
from mnist_core.optim import FusedOptimizer, OneCycle
from mnist_core.predict import evaluate
from mnist_core.run_probs import stratified_holdout

GRID_SIZE = 25  # the fixed test images whose predictions every epoch event carries (grid_predictions)


def make_optimizer(config: TrainConfig, net: torch.nn.Module) -> FusedOptimizer:
    # fused: one kernel updates every parameter; on 2 CPU cores Adam's step costs a third of foreach's
    return FusedOptimizer(config.optimizer, net.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def make_average(net: torch.nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel | None:
    """An exponential moving average of net's weights and BatchNorm statistics, updated after every step, or
    None for decay 0. Averaging smooths the last epochs' noise out of the weights at no cost to the steps.
    The decay warms up as (1 + t) / (10 + t) after t updates (TensorFlow's ExponentialMovingAverage), so that
    the early epochs' figures are not the initial weights'."""
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel

    updates = [0]  # a Python count: the one AveragedModel passes is a tensor (a GPU sync to read)

    def average(averaged: list[torch.Tensor], current: list[torch.Tensor], _count: torch.Tensor) -> None:
        if not averaged[0].is_floating_point():  # BatchNorm's num_batches_tracked: a count, not a statistic
            torch._foreach_copy_(averaged, current)
            return
        updates[0] += 1  # one float32 group per update: the weights and statistics all live on one device
        kept = min(decay, (1 + updates[0]) / (10 + updates[0]))
        torch._foreach_lerp_(averaged, current, 1 - kept)

    return AveragedModel(net, multi_avg_fn=average, use_buffers=True)


EVAL_CHUNK = 2048  # test images between two cancel checks while evaluating (a multiple of predict's 512)


def _predict_or_stop(dist: DistContext, net, images: torch.Tensor, mean: float, std: float, device,
                     should_stop: Callable[[], bool]) -> torch.Tensor | None:
    """The test-set probabilities, or None once should_stop() is true: a cancel lands within a chunk's time
    (a fraction of a second) even when the whole evaluation takes seconds."""
    parts = []
    for start in range(0, max(len(images), 1), EVAL_CHUNK):
        if should_stop():
            return None
        parts.append(dist.predict_proba(net, images[start:start + EVAL_CHUNK], mean, std, device=device))
    return torch.cat(parts)


def grid_predictions(probs: torch.Tensor, size: int = GRID_SIZE) -> dict:
    """The predicted class and its probability for `size` fixed test images spread evenly over the test set
    (a test set sorted by class, as mnist-sample's is, still shows every class): the Train page's live grid."""
    index = torch.linspace(0, len(probs) - 1, min(size, len(probs))).round().long().unique()
    p, pred = probs[index].float().max(dim=1)
    return {"index": index.tolist(), "pred": pred.tolist(), "p": [round(x, 4) for x in p.tolist()]}


def train(config: TrainConfig, dataset: Dataset, should_stop: Callable[[], bool] = lambda: False,
          events_per_epoch: int = 50, dist: DistContext = LOCAL, score_every_epoch: bool = True) -> Iterator[dict]:
    """Train config.architecture on dataset; yield events. Stops between batches, between evaluation chunks
    and before the final event when should_stop() is true. With score_every_epoch=False (a cross-validation
    fold: mnist_core.folds) only the last epoch scores the test set; earlier epoch events carry test_loss and
    test_accuracy None and no test_probs or grid."""
    torch.manual_seed(config.seed)
    device = dist.device or resolve_device(config.device)
    net = dist.wrap(make_net(config.architecture, dataset.num_classes).to(device))
    should_stop = dist.stop_together(should_stop)
    optimizer = make_optimizer(config, net)
    average = make_average(dist.unwrap(net), config.ema)  # None when config.ema == 0
    scored = net if average is None else average.module  # the net every evaluation and the finished run use
    mixed = autocast(device, config.precision)
    mean, std = normalization(config.normalize)
    images, labels = dataset.train_images, dataset.train_labels
    if config.validation:  # held out before anything trains on it; the notebook recipe (0) is untouched
        keep, held = stratified_holdout(labels, config.validation, config.seed)
        val_images, val_labels, images, labels = images[held], labels[held], images[keep], labels[keep]
    images, labels = images.to(device), labels.to(device)
    n, bs = len(labels), dist.local_batch_size(config.batch_size)
    steps = math.ceil(dist.shard_size(n) / bs)
    scheduler = OneCycle(optimizer, config.lr, steps * config.epochs) if config.schedule == "onecycle" else None
    loss_step = LossStep(net, mixed, config.label_smoothing, bs, use_graphs(device, dist.world_size))
    order_gen = torch.Generator().manual_seed(config.seed)
    log_every = max(1, steps // events_per_epoch)
    start = time.perf_counter()
    for epoch in range(config.epochs):
        net.train()
        order = torch.randperm(n, generator=order_gen) if config.shuffle else torch.arange(n)
        order = dist.shard(order).to(device)
        loss_sum = torch.zeros((), device=device)
        for step in range(steps):
            idx = order[step * bs:(step + 1) * bs]
            x = to_model_input(images[idx], mean, std)  # (B, 1, 28, 28)
            x = augment(x, config.augment, fill=-mean / std, generator=order_gen)
            loss = loss_step(x, labels[idx])  # forward, loss and backward: one CUDA graph where it can be
            optimizer.step()
            if average is not None:
                average.update_parameters(dist.unwrap(net))
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.detach()
            last = step == steps - 1
            if step % log_every == 0 or last:
                running = dist.mean(loss_sum).item() / (step + 1)  # one device sync per logged batch, not per batch
                if not math.isfinite(running):
                    yield {"type": "failed", "error": f"loss became {running} in epoch {epoch}, batch {step}: "
                                                      "lower the learning rate or check the data"}
                    return
                yield {"type": "batch", "epoch": epoch, "batch": step + 1, "batches": steps, "loss": running,
                       "elapsed": time.perf_counter() - start}
            if should_stop():
                yield {"type": "cancelled", "epoch": epoch, "batch": step + 1}
                return
        if not score_every_epoch and epoch < config.epochs - 1:
            yield {"type": "epoch", "epoch": epoch, "epochs": config.epochs, "test_loss": None, "test_accuracy": None,
                   "train_loss": dist.mean(loss_sum).item() / steps, "elapsed": time.perf_counter() - start}
            continue
        probs = _predict_or_stop(dist, scored, dataset.test_images, mean, std, device, should_stop)
        if probs is None:
            yield {"type": "cancelled", "epoch": epoch, "batch": steps}
            return
        metrics = evaluate(probs, dataset.test_labels)
        if not math.isfinite(metrics["loss"]):  # the weights broke after the last checked batch loss
            yield {"type": "failed", "error": f"test predictions became non-finite after epoch {epoch}: "
                                              "lower the learning rate or check the data"}
            return
        loss_sum = dist.mean(loss_sum)
        yield {"type": "epoch", "epoch": epoch, "epochs": config.epochs, "train_loss": loss_sum.item() / steps,
               "test_loss": metrics["loss"], "test_accuracy": metrics["accuracy"],
               "elapsed": time.perf_counter() - start, "test_probs": probs, "grid": grid_predictions(probs)}
    held_out = {}
    if config.validation:
        held_out = {"val_probs": dist.predict_proba(scored, val_images, mean, std, device=device),
                    "val_labels": val_labels}
    if should_stop():  # a cancel during the last evaluation wins over finishing
        yield {"type": "cancelled", "epoch": config.epochs - 1, "batch": steps}
        return
    yield {"type": "finished", "test_accuracy": metrics["accuracy"], "test_loss": metrics["loss"],
           "duration": time.perf_counter() - start, "net": dist.unwrap(scored), "test_probs": probs,
           **held_out}
