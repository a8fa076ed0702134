"""Run one training job into the run store, in this process or in a detached worker process.

`run_training` is shared by the CLI and the dashboard's worker: it creates the run folder, streams the
trainer's events into metrics.jsonl, and ends with a checkpoint, cached probabilities and a final status.
With config.folds = K it first runs the K-fold cross-validation (mnist_core.folds) and also writes
oof_probs.npz and embeddings.npz.

    python -m mnist_core.launch RUN_DIR DATA_DIR    # the worker the dashboard starts (not for people)

With config.workers > 1 the worker is a supervisor (mnist_core.supervise) that starts that many ranks of
this same module under torchrun's agent; each rank joins the process group (mnist_core.distributed) and is
killed by the kernel if the supervisor dies.

At most `MNIST_MAX_JOBS` runs train at once (default: one per 2 cores and 2 GiB of memory, so 1 on a 2-core
machine): `start_worker` queues the run and dispatches the queue (mnist_core.jobs); a worker that ends
dispatches it again, so the next queued run starts.
"""
from __future__ import annotations

import collections
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

from mnist_core import artifacts, jobs, procs, run_probs, runs
from mnist_core.allocator import keep_freed_memory
from mnist_core.calibration import fit_temperature
from mnist_core.config import ConfigError, TrainConfig
from mnist_core.data import Dataset, list_data_sources, load_dataset, normalization
from mnist_core.distributed import LOCAL, DistContext, launched_by_torchrun, max_workers, setup, teardown
from mnist_core.files import read_json
from mnist_core.health import run_health
from mnist_core.predict import predict_with_features
from mnist_core.run_arrays import array_file
from mnist_core.supervise import supervise

BATCH_EVENT_EVERY_S = 0.4  # the loss curve keeps about 2.5 points a second: enough to follow, cheap to read


def checkpoint_meta(config: TrainConfig, class_names: list[str], final: dict) -> dict:
    mean, std = normalization(config.normalize)
    return {"architecture": config.architecture, "class_names": class_names, "mean": mean, "std": std,
            "data": config.data, "config": config.to_dict(),
            "test_accuracy": final.get("test_accuracy"), "test_loss": final.get("test_loss")}


def load_training_data(config: TrainConfig, data_dir: Path | str) -> Dataset:
    """Validate the config and load its dataset, label corrections applied."""
    config.validate(known_data=list_data_sources(data_dir))
    dataset = load_dataset(config.data, data_dir)
    if config.label_corrections:
        from mnist_core.review.corrections import apply_label_corrections
        dataset = apply_label_corrections(dataset, config.label_corrections)
    return dataset


class BatchThrottle:
    """Which trainer events go into metrics.jsonl: every event but batch events, which are written at most every
    `every_s` seconds of training (and always the last batch of an epoch). A page watching the run re-reads
    the file each second: ten lines a second would only cost it and the trainer time, not show more."""

    def __init__(self, every_s: float = BATCH_EVENT_EVERY_S):
        self.every_s, self.last, self.kind = every_s, -math.inf, "batch"

    def keep(self, event: dict) -> bool:
        if event["type"] not in ("batch", "fold_batch"):
            return True
        if event["type"] != self.kind:  # the final model's clock starts at 0 after the folds' (mnist_core.folds)
            self.kind, self.last = event["type"], -math.inf
        if event["batch"] == event["batches"] or event["elapsed"] - self.last >= self.every_s:
            self.last = event["elapsed"]
            return True
        return False


def run_training(config: TrainConfig, run_dir: Path | None, data_dir: Path | str,
                 on_event: Callable[[dict], None] = lambda e: None,
                 should_stop: Callable[[], bool] | None = None, dist: DistContext = LOCAL) -> dict:
    """Train into an existing run folder (see runs.create_run); return the final status dict.

    Under torchrun every rank calls this with its `dist`: rank 0 writes the run folder, the others only train
    (their run_dir may be None) and raise if they break, so that torchrun stops the job.
    """
    keep_freed_memory()  # before the dataset and the first batch: see mnist_core.allocator
    if not dist.is_main:
        return _follow_training(config, data_dir, dist, run_dir)
    run_dir = Path(run_dir)
    stop = should_stop or (lambda: runs.cancel_requested(run_dir))
    if not dist.enabled:  # a multi-process run keeps the pid of the process that started the job
        runs.set_status(run_dir, "running", expect={"status": "running"}, **procs.identity(os.getpid()))
    try:
        runs.append_event(run_dir, {"type": "stage", "stage": "loading data"})  # the page says what is happening
        dataset = load_training_data(config, data_dir)
        per_epoch = []  # the test probabilities after each epoch, for the Probabilities page's epoch slider
        runs.append_event(run_dir, {"type": "stage", "stage": "training"})
        written, oof = BatchThrottle(), None
        for event in training_events(config, dataset, stop, dist):
            on_event(event)
            if event["type"] == "folds_done":  # tensors: kept for the end, not written to metrics.jsonl
                oof = event
                continue
            if written.keep(event):
                runs.append_event(run_dir, event)
            if event["type"] == "epoch":
                per_epoch.append(event["test_probs"].half())
            if event["type"] == "finished":
                save_run_probs(run_dir, event, dataset.test_labels, per_epoch)
                if oof is not None:
                    save_review_files(run_dir, config, dataset, oof, event["net"])
                runs.save_checkpoint(run_dir / "model.pt", event["net"],
                                     checkpoint_meta(config, dataset.class_names, event))
                warning = run_health(runs.read_events(run_dir), event["test_accuracy"], dataset.num_classes)
                return runs.end_run(run_dir, "finished", test_accuracy=event["test_accuracy"],
                                    duration=event["duration"], num_classes=dataset.num_classes, warning=warning)
            if event["type"] in ("failed", "cancelled"):
                return runs.end_run(run_dir, event["type"], error=event.get("error"))
        return runs.end_run(run_dir, "failed", error="training ended without a final event")
    except KeyboardInterrupt:  # Ctrl-C in the CLI: the person stopped it, nothing broke
        return _record_end(run_dir, on_event, "cancelled", "interrupted")
    except Exception as exc:
        prefix = f"rank 0 of {dist.world_size}: " if dist.enabled else ""
        return _record_end(run_dir, on_event, "failed", f"{prefix}{type(exc).__name__}: {exc}")


def save_run_probs(run_dir: Path, final: dict, test_labels, per_epoch: list) -> None:
    """probs.npz, epoch_probs.npz and, with a validation split, its probabilities and fitted temperature
    (written before model.pt, whose modification time keys the dashboard's caches)."""
    runs.save_probs(run_dir, final["test_probs"], test_labels)
    run_probs.save_epoch_probs(run_dir, per_epoch, test_labels)
    if "val_probs" in final:
        temperature = fit_temperature(final["val_probs"].numpy(), final["val_labels"].numpy())
        run_probs.save_validation(run_dir, final["val_probs"], final["val_labels"], temperature)


def training_events(config: TrainConfig, dataset: Dataset, should_stop: Callable[[], bool],
                    dist: DistContext = LOCAL):
    """The trainer's events, after the cross-validation's (mnist_core.folds) when config.folds > 0."""
    from mnist_core.folds import cross_validate  # here, not at the top: the server imports start_worker
    from mnist_core.trainer import train  # without torch

    if config.folds:
        for event in cross_validate(config, dataset, should_stop, dist):
            yield event
            if event["type"] in ("failed", "cancelled"):
                return
    yield from train(config, dataset, should_stop=should_stop, dist=dist)


def save_review_files(run_dir: Path, config: TrainConfig, dataset: Dataset, oof: dict, net) -> None:
    """oof_probs.npz and embeddings.npz of a --folds run. Both splits' features come from the final model: one
    feature space for the map and the near-duplicate search (each fold model has its own, so features from
    K models would only separate the folds); the probabilities stay out-of-fold."""
    run_probs.save_oof(run_dir, oof["probs"], dataset.train_labels, oof["folds"], config.folds)
    mean, std = normalization(config.normalize)
    _, train_features = predict_with_features(net, dataset.train_images, mean, std)
    _, test_features = predict_with_features(net, dataset.test_images, mean, std)
    run_probs.save_embeddings(run_dir, train=train_features, test=test_features)


def _record_end(run_dir: Path, on_event: Callable[[dict], None], kind: str, error: str) -> dict:
    event = {"type": kind, "error": error}
    on_event(event)
    runs.append_event(run_dir, event)
    return runs.end_run(run_dir, kind, error=error)


def _follow_training(config: TrainConfig, data_dir: Path | str, dist: DistContext, run_dir: Path | None) -> dict:
    """A rank other than 0: the same training, nothing written; its events match rank 0's (its own folds' aside,
    which it trains alone, stopping on the run's cancel file when it has one)."""
    from mnist_core.folds import cross_validate
    from mnist_core.trainer import train

    stop = (lambda: runs.cancel_requested(run_dir)) if run_dir is not None else (lambda: False)
    dataset = load_training_data(config, data_dir)
    if config.folds:
        (cv,) = collections.deque(cross_validate(config, dataset, stop, dist), maxlen=1)
        if cv["type"] != "folds_done":
            return {"status": cv["type"], "error": cv.get("error")}
    events = train(config, dataset, dist=dist)
    last = collections.deque(events, maxlen=1) or [{"type": "failed", "error": "training ended without events"}]
    return {"status": last[0]["type"], "error": last[0].get("error")}


def start_worker(config: TrainConfig, runs_dir: Path | str, data_dir: Path | str, owner: str = "") -> Path:
    """Create the run folder, queued, and dispatch the queue: the run trains at once in a detached process that
    outlives the page (and the browser tab) when fewer than MNIST_MAX_JOBS runs train, else when its turn comes.

    With config.workers > 1 that process supervises config.workers training processes (see `supervise`).
    With an `owner` (the dashboard's login) it is recorded in status.json, and quotas.QuotaError is raised when
    they have MNIST_MAX_RUNS_PER_USER runs already.
    """
    config.validate(known_data=list_data_sources(data_dir))
    jobs.max_jobs()  # a bad MNIST_MAX_JOBS is said here, before a run is queued that nothing would start
    limit = max_workers(config.device)
    if config.workers > limit:
        raise ConfigError("workers", f"at most {limit} training processes fit this machine (one per GPU, "
                                     f"or one per CPU core without GPUs), got {config.workers}")
    run_dir = jobs.enqueue(runs_dir, config, data_dir, owner=owner)
    jobs.dispatch(runs_dir, data_dir)
    return run_dir


def main(argv: list[str]) -> int:
    """The worker: train the run, then (a job, not a rank of one) start the next queued run in the freed slot."""
    run_dir, data_dir = Path(argv[0]), Path(argv[1])
    try:
        return _work(run_dir, data_dir)
    finally:
        if not launched_by_torchrun():  # the supervisor of a multi-process run dispatches for its ranks
            jobs.dispatch_quietly(run_dir.parent, data_dir)


def _work(run_dir: Path, data_dir: Path) -> int:
    try:
        config = TrainConfig.from_dict(read_json(run_dir / "config.json", error=runs.RunStoreError))
    except (runs.RunStoreError, ConfigError) as exc:
        runs.set_status(run_dir, "failed", error=f"bad config.json: {exc}")
        return 1
    if config.workers > 1 and not launched_by_torchrun():
        return supervise(run_dir, data_dir, config.workers)
    if launched_by_torchrun() and os.environ.get(procs.SUPERVISOR_ENV, "").isdigit():
        procs.die_with_parent(int(os.environ[procs.SUPERVISOR_ENV]))
    dist = LOCAL
    try:
        dist = setup(config.device) if launched_by_torchrun() else LOCAL
        status = run_training(config, run_dir, data_dir, dist=dist)
    except Exception as exc:  # joining the job, or a rank other than 0, failed: one line for worker.log
        print(f"error: rank {os.environ.get('RANK', 0)}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        teardown(dist)
    if status["status"] == "finished" and dist.is_main:
        write_issues_quietly(run_dir)  # first: the Review page's queues, then the slower map
        write_map_quietly(run_dir, data_dir)
        artifacts.push_quietly("runs", run_dir)  # both files join the run's objects (MNIST_ARTIFACTS)
    # The other ranks ended where rank 0 did (a failure too is decided together); rank 0 reports the outcome.
    return 0 if status["status"] in ("finished", "cancelled") or not dist.is_main else 1


def write_issues_quietly(run_dir: Path) -> None:
    """cleanlab's label issues of each split the run has (issues_<split>.npz), so that the Review page never
    computes them on a visit; a failure leaves one line in worker.log and the page computes them itself."""
    from mnist_core.review.issues import run_issues

    for split in ("test", "train") if array_file(run_dir, "oof_probs") else ("test",):
        try:
            run_issues(run_dir, split)
        except Exception as exc:
            print(f"label issues of the {split} split not written: {type(exc).__name__}: {exc}", file=sys.stderr)


def write_map_quietly(run_dir: Path, data_dir: Path) -> None:
    """The embedding map (map.npz) of a finished run, after its model is saved: the run is already finished and
    usable while the map is computed, and a map that fails leaves one line in worker.log, never a failed run."""
    from mnist_core.embedding_map import write_map  # umap (numba) loads only here
    try:
        write_map(run_dir, data_dir)
    except Exception as exc:
        print(f"embedding map not written: {type(exc).__name__}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
