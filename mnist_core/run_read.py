"""Reading the run store, which never writes (except list_runs copying in finished runs that are only in the
artifact store, mnist_core.artifacts): a run's status as it stands, broken run folders, the run list.

A run whose worker died reads as failed (mnist_core.procs names the worker by pid and start time); a folder
whose status.json or config.json cannot be read as a run reads as BROKEN with a reason that never quotes the
files' contents, so the pages list it (it can be deleted) instead of failing. mnist_core.runs re-exports these
names; use them from there:

    from mnist_core import runs
    [(r.run_id, r.status, r.error) for r in runs.list_runs()]
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from mnist_core import artifacts, procs
from mnist_core.config import ConfigError, TrainConfig, upgrade_fields
from mnist_core.data import TORCHVISION_CLASSES, default_runs_dir  # noqa: F401  (runs re-exports it)

STATUSES = ("queued", "running", "finished", "failed", "cancelled")  # queued: mnist_core.jobs
BROKEN = "broken"  # a RunInfo status only: the folder cannot be read as a run (RunInfo.error says why)
DEAD_WORKER = "the training worker stopped unexpectedly"


class RunStoreError(RuntimeError):
    """A run folder or checkpoint is missing or unreadable; the message says which and why."""


@dataclass
class RunInfo:
    run_id: str
    path: Path
    status: str  # one of STATUSES, or BROKEN
    config: dict
    created: str
    test_accuracy: float | None
    duration: float | None
    error: str | None
    created_ns: int = 0  # orders runs created within the same second (`created` is for display)
    warning: str | None = None  # a finished run that did not learn (see mnist_core.health)
    position: int | None = None  # a queued run's place in the queue, 1 = next to start (see mnist_core.jobs)
    owner: str = ""  # who started it from the dashboard with login on (status.json "owner"); "" otherwise


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in ("config.json", "status.json"))


def read_run(run_dir: Path, position: bool = True) -> RunInfo:
    """The run as it stands. Never writes: a run whose worker died reads as failed, and a folder whose files
    cannot be read as a run reads as BROKEN with the reason (never the files' contents) in `error`. A queued
    run's `position` is filled in unless `position` is False (list_runs numbers them itself)."""
    run_dir = Path(run_dir)
    if not is_run_folder(run_dir):
        raise RunStoreError(f"Run {run_dir.name} is not a run folder (config.json or status.json is missing)")
    try:
        status, config = _status_file(run_dir), _config_file(run_dir)
    except RunStoreError as exc:
        return RunInfo(run_dir.name, run_dir, BROKEN, {}, "", None, None, f"broken run folder: {exc}")
    state, error = status["status"], status.get("error")
    if state == "running" and not procs.worker_alive(status):
        state, error = "failed", DEAD_WORKER
    warning = status.get("warning")
    if state == "finished" and "warning" not in status:  # finished before run health was recorded
        warning = _legacy_health(run_dir, status, config)
    info = RunInfo(run_dir.name, run_dir, state, config, status.get("created", ""), status.get("test_accuracy"),
                   status.get("duration"), error, status.get("created_ns") or 0, warning,
                   owner=status.get("owner") or "")
    if state == "queued" and position:
        order = queue_order(run_dir.parent)  # read a moment later: the run may have started meanwhile
        info.position = order.index(run_dir.name) + 1 if run_dir.name in order else None
    return info


def queue_order(runs_dir: Path) -> list[str]:
    """The ids of the queued runs, next to start first (by creation time); only status.json files are read."""
    found = []
    for child in Path(runs_dir).iterdir():
        try:
            status = json.loads((child / "status.json").read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(status, dict) and status.get("status") == "queued":
            found.append((created_ns_of(status), child.name))
    return [run_id for _, run_id in sorted(found)]


def created_ns_of(status: dict) -> int:
    value = status.get("created_ns")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _legacy_health(run_dir: Path, status: dict, config: dict) -> str | None:
    from mnist_core.health import run_health

    builtin = config["data"] in (*TORCHVISION_CLASSES, "mnist-sample")  # ten classes each
    return run_health(read_events(run_dir), status.get("test_accuracy"), 10 if builtin else None)


_STATUS_TYPES = {"created": str, "error": str, "warning": str, "created_ns": int, "owner": str,
                 "test_accuracy": (int, float), "duration": (int, float)}


def _status_file(run_dir: Path) -> dict:
    status = _json_object(run_dir, "status.json")
    if status.get("status") not in STATUSES:
        raise RunStoreError(f"status.json has no known status (one of {', '.join(STATUSES)})")
    for name, kind in _STATUS_TYPES.items():
        value = status.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise RunStoreError(f"status.json field {name!r} has the wrong type ({type(value).__name__})")
    return status


def _config_file(run_dir: Path) -> dict:
    """config.json as a full TrainConfig dict; the reason names a field, never a value from the file."""
    values = upgrade_fields(_json_object(run_dir, "config.json"))  # a run saved before a field was renamed
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    if set(values) - known:
        raise RunStoreError("config.json is not a training config (it has fields TrainConfig does not know)")
    try:
        config = TrainConfig.from_dict(values)
        config.validate()
    except ConfigError as exc:
        if exc.field != "label_corrections":  # a corrections file moved away since: the run is still a run
            raise RunStoreError(f"config.json is not a training config (bad field {exc.field!r})") from None
    except TypeError:
        raise RunStoreError("config.json is not a training config (a field has the wrong type)") from None
    return config.to_dict()


def _json_object(run_dir: Path, name: str) -> dict:
    path = run_dir / name
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise RunStoreError(f"{name} is missing") from None
    except OSError as exc:
        raise RunStoreError(f"{name} cannot be read ({exc.strerror or type(exc).__name__})") from None
    except ValueError as exc:  # json's message says where, never what: no file contents reach a page
        raise RunStoreError(f"{name} is not valid JSON ({type(exc).__name__} at byte {getattr(exc, 'pos', '?')})"
                            ) from None
    if not isinstance(value, dict):
        raise RunStoreError(f"{name} is not a JSON object")
    return value


def list_runs(runs_dir: Path | str | None = None) -> list[RunInfo]:
    """All runs, newest first, broken ones (status BROKEN) last; folders that are not runs are skipped.

    With an artifact store (MNIST_ARTIFACTS), finished runs only there are copied here first; one that cannot
    be copied (missing or damaged objects) is listed as BROKEN with the reason."""
    root = Path(runs_dir if runs_dir is not None else default_runs_dir())
    runs, children = [], _children(root)
    if artifacts.configured():
        problems = artifacts.materialise("runs", root, {c.name for c in children})
        runs = [RunInfo(name, root / name, BROKEN, {}, "", None, None, problem)
                for name, problem in problems.items() if name]
        children = _children(root)
    for child in children:
        if is_run_folder(child):
            try:
                runs.append(read_run(child, position=False))
            except RunStoreError:  # vanished meanwhile (deleted by another session)
                continue
    waiting = sorted((r for r in runs if r.status == "queued"), key=lambda r: (r.created_ns, r.run_id))
    for number, r in enumerate(waiting, 1):
        r.position = number
    return sorted(runs, key=lambda r: (r.created, r.created_ns, r.run_id), reverse=True)


def _children(root: Path) -> list[Path]:
    try:
        return list(root.iterdir()) if root.is_dir() else []
    except OSError:
        return []


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
