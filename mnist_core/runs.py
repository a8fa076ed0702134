"""The run store: one folder per run; every file is written atomically (temp file, then rename), except
metrics.jsonl, which is appended line by line and read back skipping a half-written last line.

<runs dir>/<run id>/            run id: YYYYmmdd-HHMMSS-xxxx
    config.json     TrainConfig
    status.json     {"status": running|finished|failed|cancelled, "pid", "created", "error", "test_accuracy", ...}
    metrics.jsonl   one event per line, appended as training goes
    model.pt        checkpoint: state_dict plus metadata (architecture, classes, normalisation, metrics)
    probs.pt        cached test-set probabilities (N, C) and labels (N,)
    cancel          present when a cancel was asked for
    worker.log      output of the detached worker (dashboard runs only)
"""
from __future__ import annotations

import datetime as dt
import fcntl
import io
import json
import math
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from mnist_core.config import TrainConfig
from mnist_core.model import make_net

STATUSES = ("running", "finished", "failed", "cancelled")
CHECKPOINT_FORMAT = 1


class RunStoreError(RuntimeError):
    """A run folder or checkpoint is missing or unreadable; the message says which and why."""


def default_runs_dir() -> Path:
    return Path(os.environ.get("MNIST_RUNS_DIR", "runs"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj) -> None:
    write_bytes_atomic(path, json.dumps(obj, indent=2, default=_json_default).encode())


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def create_run(runs_dir: Path | str, config: TrainConfig, run_id: str | None = None) -> Path:
    run_dir = Path(runs_dir) / (run_id or new_run_id())
    run_dir.mkdir(parents=True, exist_ok=False)
    write_json_atomic(run_dir / "config.json", config.to_dict())
    set_status(run_dir, "running", created=_now(), created_ns=time.time_ns(), pid=os.getpid())
    return run_dir


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def set_status(run_dir: Path, status: str, *, expect: dict | None = None, **fields) -> dict:
    """Merge `fields` into status.json and set its status; return status.json as it now is.

    With `expect`, only when status.json still holds those values (e.g. {"status": "running"}): the worker
    and the dashboard both write here, and neither may overwrite what the other wrote in the meantime.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    with _status_lock(Path(run_dir)):
        current = read_json(Path(run_dir) / "status.json", default={})
        if expect and any(current.get(k) != v for k, v in expect.items()):
            return current
        current.update(fields, status=status, updated=_now())
        write_json_atomic(Path(run_dir) / "status.json", current)
    return current


@contextmanager
def _status_lock(run_dir: Path) -> Iterator[None]:
    """An exclusive lock on the run folder between processes, for status.json's read-modify-write."""
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def read_json(path: Path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise RunStoreError(f"{path} is unreadable: {exc}") from exc


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


def read_events(run_dir: Path) -> list[dict]:
    """Events so far; a half-written last line (training still appending) is skipped."""
    try:
        return parse_events((Path(run_dir) / "metrics.jsonl").read_bytes())
    except FileNotFoundError:
        return []


def parse_events(data: bytes) -> list[dict]:
    """The events in some metrics.jsonl bytes; lines that are not a JSON object (a half-written one) are skipped."""
    events = []
    for line in data.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


@dataclass
class RunInfo:
    run_id: str
    path: Path
    status: str
    config: dict
    created: str
    test_accuracy: float | None
    duration: float | None
    error: str | None
    created_ns: int = 0  # orders runs created within the same second (`created` is for display)


def read_run(run_dir: Path) -> RunInfo:
    run_dir = Path(run_dir)
    status = read_json(run_dir / "status.json", default=None)
    config = read_json(run_dir / "config.json", default=None)
    if status is None or config is None:
        raise RunStoreError(f"{run_dir} is not a run folder (config.json or status.json is missing)")
    if not isinstance(status, dict) or not isinstance(config, dict):
        raise RunStoreError(f"{run_dir} is not a run folder (config.json or status.json is not a JSON object)")
    state = status.get("status", "failed")
    if state == "running" and not _process_alive(status.get("pid")):
        status = set_status(run_dir, "failed", expect={"status": "running", "pid": status.get("pid")},
                            error="the training worker stopped unexpectedly")
        state = status["status"]  # unchanged when the worker finished or another took over meanwhile
    return RunInfo(run_dir.name, run_dir, state, config, status.get("created", ""),
                   status.get("test_accuracy"), status.get("duration"), status.get("error"),
                   status.get("created_ns") or 0)


def _process_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited child not yet reaped) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return True


def list_runs(runs_dir: Path | str | None = None) -> list[RunInfo]:
    """All readable runs, newest first; folders that are not runs are skipped."""
    root = Path(runs_dir if runs_dir is not None else default_runs_dir())
    runs = []
    for child in root.iterdir() if root.is_dir() else []:
        if child.is_dir() and (child / "config.json").is_file():
            try:
                runs.append(read_run(child))
            except RunStoreError:
                continue
    return sorted(runs, key=lambda r: (r.created, r.created_ns, r.run_id), reverse=True)


def delete_run(run_dir: Path) -> None:
    """Remove a run folder; a run whose worker is still training must be cancelled first."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise RunStoreError(f"{run_dir} is not a run folder")
    if read_run(run_dir).status == "running":
        raise RunStoreError(f"Run {run_dir.name} is still training: cancel it first, then delete it")
    shutil.rmtree(run_dir)


def request_cancel(run_dir: Path) -> None:
    write_bytes_atomic(Path(run_dir) / "cancel", b"")


def cancel_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / "cancel").exists()


def save_checkpoint(path: Path, model: nn.Module, meta: dict) -> None:
    """state_dict plus metadata (architecture, class_names, mean, std, data, metrics), atomically."""
    state = {k: v.detach().cpu() for k, v in _unwrap(model).state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "meta": meta, "state_dict": state}, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "_orig_mod", model)  # torch.compile
    return getattr(model, "module", model)  # DistributedDataParallel


def load_checkpoint(source, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode, meta) from a path or file object; never unpickles arbitrary objects."""
    try:
        blob = torch.load(source, map_location=device, weights_only=True)
    except FileNotFoundError as exc:
        raise RunStoreError(f"No checkpoint at {source}") from exc
    except Exception as exc:  # pickle, zip and torch errors all mean: not a checkpoint we wrote
        raise RunStoreError(f"Not a readable MNIST Lab checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(blob, dict) or not isinstance(blob.get("meta"), dict) or "state_dict" not in blob:
        raise RunStoreError("Not an MNIST Lab checkpoint: expected a dict with 'meta' and 'state_dict'.")
    meta = blob["meta"]
    arch, names = meta.get("architecture"), meta.get("class_names")
    if not isinstance(names, list) or not names:
        raise RunStoreError("Checkpoint metadata has no class_names.")
    mean, std = meta.get("mean"), meta.get("std")
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (mean, std)) or std <= 0:
        raise RunStoreError(f"Checkpoint metadata has no usable normalisation: mean {mean!r}, std {std!r}.")
    try:
        model = make_net(str(arch), num_classes=len(names))
    except ValueError as exc:
        raise RunStoreError(f"Checkpoint architecture not supported: {exc}") from exc
    try:
        model.load_state_dict(blob["state_dict"])
    except (RuntimeError, TypeError) as exc:
        # torch: "Error(s) in loading state_dict for X:" then one tab-indented line per problem
        lines = str(exc).splitlines()
        detail = " ".join(line.strip() for line in lines[1:] or lines)
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        raise RunStoreError(f"Checkpoint weights do not fit architecture {arch!r} "
                            f"with {len(names)} classes: {detail}") from exc
    return model.to(device).eval(), meta


def save_probs(run_dir: Path, probs: torch.Tensor, labels: torch.Tensor) -> None:
    buffer = io.BytesIO()
    torch.save({"probs": probs.float().cpu(), "labels": labels.long().cpu()}, buffer)
    write_bytes_atomic(Path(run_dir) / "probs.pt", buffer.getvalue())


def load_probs(run_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Cached test-set (probs (N, C) float32, labels (N,) int64) of a finished run."""
    path = Path(run_dir) / "probs.pt"
    try:
        blob = torch.load(path, weights_only=True)
    except FileNotFoundError as exc:
        raise RunStoreError(f"Run {Path(run_dir).name} has no test probabilities (did it finish?)") from exc
    except Exception as exc:
        raise RunStoreError(f"{path} is unreadable ({type(exc).__name__}: {exc})") from exc
    if not isinstance(blob, dict) or not all(isinstance(blob.get(k), torch.Tensor) for k in ("probs", "labels")):
        raise RunStoreError(f"{path} is not a probabilities file: expected tensors 'probs' and 'labels'")
    return blob["probs"], blob["labels"]
