"""The run store: one folder per run; every file is written atomically (temp file, then rename), except
metrics.jsonl, which is appended line by line and read back skipping a half-written last line.

<runs dir>/<run id>/            run id: YYYYmmdd-HHMMSS-xxxx
    config.json     TrainConfig
    status.json     {"status": queued|running|finished|failed|cancelled, "pid", "pid_start", "created",
                     "created_ns", "error", "test_accuracy", "warning", "owner" (who started it, with login
                     on), ...}; a queued run: "data_dir" (mnist_core.jobs)
    metrics.jsonl   one event per line, appended as training goes
    model.pt        checkpoint: state_dict plus metadata (architecture, classes, normalisation, metrics)
    probs.npz       cached test-set probabilities (N, C) and labels (N,) (probs.pt in runs trained before it;
                    mnist_core.run_arrays reads both)
    cancel          present while a cancel asked for is pending (removed when the run ends)
    worker.log      output of the detached worker (dashboard runs only)
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_core import artifacts, procs
from mnist_core.config import TrainConfig
from mnist_core.files import read_json, write_bytes_atomic, write_json_atomic
from mnist_core.run_arrays import array_file, as_array, read_arrays, save_arrays
from mnist_core.run_read import (  # noqa: F401  reading lives in run_read (it never writes); same API here
    BROKEN,
    DEAD_WORKER,
    STATUSES,
    RunInfo,
    RunStoreError,
    default_runs_dir,
    is_run_folder,
    list_runs,
    parse_events,
    read_events,
    read_run,
)

if TYPE_CHECKING:  # torch is imported where a net is saved or loaded, not by the pages that only read arrays
    import torch
    import torch.nn as nn


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def create_run(runs_dir: Path | str, config: TrainConfig, run_id: str | None = None, status: str = "running",
               owner: str = "", **fields) -> Path:
    """A new run folder: "running" in this process, or "queued" (mnist_core.jobs.enqueue) with `fields`. An
    `owner` (a login's email) goes into status.json, not the config: the config is the training recipe."""
    run_dir = Path(runs_dir) / (run_id or new_run_id())
    run_dir.mkdir(parents=True, exist_ok=False)
    write_json_atomic(run_dir / "config.json", config.to_dict())
    if status == "running":
        fields.update(procs.identity(os.getpid()))
    if owner:
        fields["owner"] = owner
    set_status(run_dir, status, created=_now(), created_ns=time.time_ns(), **fields)
    return run_dir


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def set_status(run_dir: Path, status: str, *, expect: dict | None = None, **fields) -> dict:
    """Merge `fields` into status.json and set its status; return status.json as it now is.

    With `expect`, only when status.json still holds those values (e.g. {"status": "running"}): the worker
    and the dashboard both write here, and neither may overwrite what the other wrote in the meantime.
    A final status removes a pending cancel request in the same locked step (see request_cancel).
    """
    return _update_status(run_dir, status, lambda current: not expect or all(
        current.get(k) == v for k, v in expect.items()), fields)


def end_run(run_dir: Path, status: str, **fields) -> dict:
    """Write a final status only over "running" with its worker alive: a run already ended, or whose worker
    (the supervisor of a multi-process run) died and which readers therefore show as failed, keeps that
    ending. Returns status.json as it now is."""
    current = _update_status(run_dir, status, lambda current: current.get("status") == "running"
                             and procs.worker_alive(current), fields)
    if current.get("status") == "finished":  # finished runs outlive this disk (MNIST_ARTIFACTS)
        artifacts.push_quietly("runs", Path(run_dir))
    return current


def _update_status(run_dir: Path, status: str, allowed, fields: dict) -> dict:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    with folder_lock(Path(run_dir)):
        current = read_json(Path(run_dir) / "status.json", default={}, error=RunStoreError)
        if not allowed(current):
            return current
        current.update(fields, status=status, updated=_now())
        write_json_atomic(Path(run_dir) / "status.json", current)
        if status != "running":
            (Path(run_dir) / "cancel").unlink(missing_ok=True)
    return current


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on a folder between processes: a run folder for status.json's read-modify-write,
    the runs folder for counting running jobs before starting one (mnist_core.launch)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def append_event(run_dir: Path, event: dict) -> None:
    """Append the JSON-safe part of an event (tensors and models are dropped) as one line."""
    line = (json.dumps({k: v for k, v in event.items() if _is_plain(v)}) + "\n").encode()
    with open(Path(run_dir) / "metrics.jsonl", "ab+") as f:
        if f.tell() > 0:  # after a half-written line (a writer died mid-line) start afresh, keeping this event
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = b"\n" + line
        f.write(line)


def _is_plain(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


def delete_run(run_dir: Path) -> None:
    """Remove a run folder and its objects in the artifact store (a run only there, which could not be copied
    here, too); a run still training or queued must be cancelled first."""
    run_dir = Path(run_dir)
    try:
        only_remote = not run_dir.exists() and run_dir.name in artifacts.remote_names("runs")
        if not only_remote and not is_run_folder(run_dir):
            raise RunStoreError(f"Run {run_dir.name} is not a run folder")
        status = None if only_remote else read_run(run_dir).status
        if status in ("running", "queued"):
            what = "still training" if status == "running" else "queued"
            raise RunStoreError(f"Run {run_dir.name} is {what}: cancel it first, then delete it")
        artifacts.delete("runs", run_dir.name)  # first: a run deleted here but kept there would come back
    except artifacts.ArtifactError as exc:
        raise RunStoreError(str(exc)) from None
    if not only_remote:
        shutil.rmtree(run_dir)


def request_cancel(run_dir: Path) -> bool:
    """Ask a running run to stop; False (nothing written) when it has already ended.

    Under the status lock, so a cancel either reaches the worker, which then ends the run as cancelled, or
    arrives after the final status and writes nothing: no cancel file outlives its run (see _update_status).
    """
    with folder_lock(Path(run_dir)):
        status = read_json(Path(run_dir) / "status.json", default={}, error=RunStoreError)
        if not isinstance(status, dict) or status.get("status") != "running" or not procs.worker_alive(status):
            return False
        write_bytes_atomic(Path(run_dir) / "cancel", b"")
    return True


def cancel_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / "cancel").exists()


def save_checkpoint(path: Path, net: nn.Module, meta: dict) -> None:
    """state_dict plus metadata (architecture, class_names, mean, std, data, metrics), atomically."""
    from mnist_core.checkpoint import checkpoint_bytes

    write_bytes_atomic(path, checkpoint_bytes(net, meta))


def load_checkpoint(source, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(net in eval mode, meta) from a path or file object; never unpickles arbitrary objects, and checks
    the file before torch reads it (mnist_core.checkpoint)."""
    from mnist_core.checkpoint import CheckpointError, read_checkpoint

    try:
        return read_checkpoint(source, device)
    except CheckpointError as exc:
        raise RunStoreError(str(exc)) from exc


def save_probs(run_dir: Path, probs, labels) -> None:
    """probs.npz: the test set's (probs (N, C) float32, labels (N,) int64), from tensors or arrays."""
    save_arrays(run_dir, "probs", probs=as_array(probs, np.float32), labels=as_array(labels, np.int64))


def load_probs(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Cached test-set (probs (N, C) float32, labels (N,) int64) of a finished run (probs.npz, else probs.pt)."""
    blob = read_arrays(run_dir, "probs", "a probabilities file")
    if blob is None:
        raise RunStoreError(f"Run {Path(run_dir).name} has no test probabilities (did it finish?)")
    file = array_file(run_dir, "probs").name
    probs, labels = blob.get("probs"), blob.get("labels")
    if probs is None or labels is None:
        raise RunStoreError(f"Run {Path(run_dir).name}: {file} is not a probabilities file: expected arrays "
                            "'probs' and 'labels'")
    problem = _probs_problem(probs, labels)
    if problem:
        raise RunStoreError(f"Run {Path(run_dir).name}: {file} {problem}")
    return probs.astype(np.float32, copy=False), labels.astype(np.int64, copy=False)


def _probs_problem(probs: np.ndarray, labels: np.ndarray) -> str:
    """What makes (probs, labels) unusable for the review pages, or ''."""
    if probs.ndim != 2 or labels.ndim != 1 or len(probs) != len(labels) or probs.shape[1] < 1:
        return (f"has the wrong shape: probabilities {tuple(probs.shape)} and labels {tuple(labels.shape)}, "
                "expected (N, classes) and (N,)")
    if probs.dtype.kind != "f" or labels.dtype.kind not in "iu":
        return f"has the wrong types: {probs.dtype} probabilities, {labels.dtype} labels"
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= probs.shape[1]):
        return f"has labels outside 0..{probs.shape[1] - 1}"
    if not bool(np.isfinite(probs).all()):
        return "has non-finite probabilities"
    return ""
