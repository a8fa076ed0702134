"""The training queue: at most MNIST_MAX_JOBS runs train at once; the runs started after them wait as "queued".

A queued run is a run folder whose status.json says "queued" (with the data folder its worker will read), so
the queue is the run store itself and survives a server restart. Its position is its place among the queued
runs by creation time (`created_ns`, then the run id): 1 starts next. `dispatch` marks runs whose worker died
as failed and starts the oldest queued runs while fewer than MNIST_MAX_JOBS train, all under an flock on
<runs dir>/.queue.lock: two dispatchers (two sessions, a worker that ends, the CLI, a restarted server) never
start the same run, nor one run too many. It is called when a run is queued (launch.start_worker), by every
worker as it ends, by the CLI when its run starts and ends, at server start (scripts/serve.sh) and every few
seconds by the dashboard's server process (ui/train_queue.py), so a queued run starts when a slot frees even
with no page open, and after a worker was killed.

    python -m mnist_core.jobs dispatch   # start what the queue allows now (MNIST_RUNS_DIR, MNIST_DATA_DIR)
    python -m mnist_core.jobs list       # the running and queued runs, in order
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mnist_core import procs, quotas, runs, standby
from mnist_core.config import TrainConfig
from mnist_core.data import default_data_dir, default_runs_dir
from mnist_core.distributed import max_workers
from mnist_core.files import read_json
from mnist_core.run_read import created_ns_of, queue_order

MAX_JOBS_ENV = "MNIST_MAX_JOBS"
LOCK_NAME = ".queue.lock"  # a file, not a folder: list_runs skips it
CANCELLED_QUEUED = "cancelled while queued: it never started"


def max_jobs() -> int:
    """MNIST_MAX_JOBS, else what the machine holds: a run per 2 cores and per 2 GiB (a worker took 756 MB)."""
    text = os.environ.get(MAX_JOBS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{MAX_JOBS_ENV} must be a whole number >= 1, got {text!r}")
        return int(text)
    memory_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return max(1, min(max_workers("cpu") // 2, int(memory_gib // 2)))


@contextmanager
def queue_lock(runs_dir: Path | str) -> Iterator[None]:
    """The queue's lock between processes: an exclusive flock on <runs dir>/.queue.lock."""
    Path(runs_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(runs_dir) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def enqueue(runs_dir: Path | str, config: TrainConfig, data_dir: Path | str, owner: str = "") -> Path:
    """A new run folder, queued (its worker reads `data_dir`); `dispatch` starts it when its turn comes. With an
    `owner` (a login), quotas.QuotaError when they have MNIST_MAX_RUNS_PER_USER runs already, nothing created."""
    with queue_lock(runs_dir):  # created under the lock: a dispatcher sees the queue whole, in creation order,
        if owner:  # and two pages pressing Start at once cannot both pass the per-person limit
            quotas.check_runs(runs_dir, owner)
        return runs.create_run(runs_dir, config, status="queued", owner=owner,
                               data_dir=str(Path(data_dir).resolve()))


def _statuses(runs_dir: Path) -> list[tuple[Path, dict]]:
    """(run folder, status.json) of every run folder whose status.json reads; nothing else is opened."""
    found = []
    for child in Path(runs_dir).iterdir() if Path(runs_dir).is_dir() else []:
        try:
            status = read_json(child / "status.json", default=None, error=runs.RunStoreError)
        except (runs.RunStoreError, OSError):
            continue
        if isinstance(status, dict) and child.is_dir():
            found.append((child, status))
    return found


def _order(item: tuple[Path, dict]) -> tuple:
    return (created_ns_of(item[1]), item[0].name)  # the queue's order, as run_read.queue_order's


def queued(runs_dir: Path | str) -> list[Path]:
    """The queued runs' folders, next to start first."""
    return [Path(runs_dir) / run_id for run_id in queue_order(Path(runs_dir))] if Path(runs_dir).is_dir() else []


def dispatch(runs_dir: Path | str | None = None, data_dir: Path | str | None = None) -> list[Path]:
    """Start the oldest queued runs while fewer than MNIST_MAX_JOBS train; the runs started.

    A "running" run whose worker died is written as failed here (readers already show it so), freeing its slot.
    `data_dir` is for a queued run that does not name its own. Never raises for a run that cannot start: that
    run is failed with the reason, and the rest wait for the next dispatch.
    """
    runs_dir = Path(runs_dir if runs_dir is not None else default_runs_dir())
    if not runs_dir.is_dir() or not os.access(runs_dir, os.W_OK):  # a read-only store: nothing can start
        return []
    if not any(_needs_dispatch(status) for _, status in _statuses(runs_dir)):
        return []  # the common case (nothing waits, nothing died): no lock taken, no lock file made
    started = []
    with queue_lock(runs_dir):
        found = sorted(_statuses(runs_dir), key=_order)
        active = 0
        for path, status in found:
            if status.get("status") != "running":
                continue
            if procs.worker_alive(status):
                active += 1
            else:  # only over that same dead worker's status: a write meanwhile wins
                runs.set_status(path, "failed", expect={k: status.get(k) for k in ("status", "pid", "pid_start")},
                                error=runs.DEAD_WORKER)
        limit = max_jobs()
        for path, status in found:
            if active >= limit:
                break
            if status.get("status") == "queued" and _start(path, status.get("data_dir") or data_dir):
                started.append(path)
                active += 1
    return started


def _needs_dispatch(status: dict) -> bool:
    """A run that waits, or one that reads as running but whose worker died (its slot is free)."""
    return status.get("status") == "queued" or (status.get("status") == "running" and not procs.worker_alive(status))


def _start(run_dir: Path, data_dir: Path | str | None) -> bool:
    """Turn a queued run into a running one with its worker; False when it was cancelled meanwhile."""
    now = runs.set_status(run_dir, "running", expect={"status": "queued"}, started_ns=time.time_ns(),
                          **procs.identity(os.getpid()))  # our pid until the worker's is known
    if now.get("status") != "running" or now.get("pid") != os.getpid():
        return False  # cancelled between our listing and this write (the run folder's lock decides)
    data_dir = data_dir if data_dir is not None else default_data_dir()
    try:  # the server's standby worker (mnist_core.standby) when one is ready: no fresh interpreter to wait for
        proc = standby.take(run_dir, data_dir) or spawn_worker(run_dir, data_dir)
    except OSError:
        return False  # spawn_worker failed the run, saying why
    # From now on a dead worker means a failed run, even if it dies before writing its own pid. Only while
    # still "running": a tiny run may already have finished, and its final status must stay.
    runs.set_status(run_dir, "running", expect={"status": "running"}, **procs.identity(proc.pid))
    procs.reap_when_done(proc)
    return True


def spawn_worker(run_dir: Path, data_dir: Path | str) -> subprocess.Popen:
    """`python -m mnist_core.launch RUN_DIR DATA_DIR` in a session of its own (it outlives the page)."""
    args = [str(Path(run_dir).resolve()), str(Path(data_dir).resolve())]  # absolute: it runs from the repo root
    env = procs.worker_env()
    try:
        with open(Path(run_dir) / "worker.log", "wb") as log:
            return subprocess.Popen([sys.executable, "-m", "mnist_core.launch", *args], env=env,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=Path(__file__).resolve().parent.parent)
    except OSError as exc:  # else the run would look "running" (with our pid) for as long as we live
        runs.set_status(run_dir, "failed", error=f"could not start the training worker: {exc}")
        raise


def cancel(run_dir: Path) -> str:
    """Cancel a run: a queued one becomes cancelled and never starts ("dequeued"); a running one is asked to
    stop after its current batch ("requested"); "" when it had already ended."""
    before = read_json(Path(run_dir) / "status.json", default={}, error=runs.RunStoreError)
    if before.get("status") == "queued":  # the write below decides, under the run folder's lock: a dispatch
        now = runs.set_status(run_dir, "cancelled", expect={"status": "queued"}, error=CANCELLED_QUEUED)
        if now.get("status") == "cancelled":  # that started it meanwhile leaves it "running": asked to stop
            return "dequeued"
    return "requested" if runs.request_cancel(run_dir) else ""


def dispatch_quietly(runs_dir: Path | str, data_dir: Path | str | None = None) -> list[Path]:
    """dispatch, for callers whose own outcome must not depend on it (a worker ending, the CLI): a problem is
    one line on stderr; the next dispatch tries again."""
    try:
        return dispatch(runs_dir, data_dir)
    except Exception as exc:  # e.g. a bad MNIST_MAX_JOBS, a read-only runs folder
        print(f"warning: could not start queued runs: {type(exc).__name__}: {exc}", file=sys.stderr)
        return []


def main(argv: list[str]) -> int:
    if argv not in (["dispatch"], ["list"]):
        print("usage: python -m mnist_core.jobs dispatch|list", file=sys.stderr)
        return 2
    runs_dir = default_runs_dir()
    if argv == ["dispatch"]:
        for path in dispatch(runs_dir, default_data_dir()):
            print(f"started {path.name}")
        return 0
    for info in runs.list_runs(runs_dir):
        if info.status in ("running", "queued"):
            print(info.run_id, info.status, info.position or "", info.config.get("data"), sep="\t")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
