"""The standby worker: a training worker started ahead of time, so that Start training does not wait for a fresh
interpreter to import torch and read MNIST (about 5 s of the 6 s from the click to the first batch, cold).

The server's dispatcher (ui/train_queue.py) starts one `Standby` per runs folder. Its keeper thread starts
`python -m mnist_core.standby_worker SERVER_PID DATA_DIR`, which imports the training modules and reads MNIST once (the
page cache and torchvision warm) in a thread at nice +10, so a run already training keeps the cores, then says
"ready" on its stdout and waits for one line on its stdin. `jobs.dispatch` hands a queued single-process run to
a ready standby (`take`) instead of spawning a worker: the standby *becomes* that run's worker, exactly as a
spawned one (`launch.main`: its own pid and start time in status.json, worker.log, the queue dispatched as it
ends), so cancel, reaping and dead-worker detection are unchanged. The keeper then starts the next standby.

A standby is no run: nothing counts it as a training job. Idle, it dies with the server (PR_SET_PDEATHSIG, and
the EOF on its stdin); once it holds a run it outlives the server, as a spawned worker does. One that dies idle
is replaced (after 1, 2, 4 ... 60 s when it keeps dying before it is ready); one that dies holding a run leaves
that run to the dispatcher, which writes it failed like any dead worker. MNIST_STANDBY=0 turns it off (the tests
do, where they do not test it); then every run gets a fresh worker, as multi-process runs always do.

The standby process itself is mnist_core/standby_worker.py (it imports the training modules, which import the
queue, which imports this keeper).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from mnist_core import procs
from mnist_core.files import read_json

STANDBY_ENV = "MNIST_STANDBY"
READY = "ready"
RETRY_S, RETRY_MAX_S = 1.0, 60.0
LOG_NAME = ".standby.log"  # in the runs folder, a file (list_runs skips it): a standby's own output until it works

_keepers: dict[Path, Standby] = {}  # runs folder -> this process's keeper
_keepers_lock = threading.Lock()


def standby_enabled() -> bool:
    """MNIST_STANDBY: 1 (the default) keeps a standby worker ready in the server, 0 starts every run afresh."""
    text = os.environ.get(STANDBY_ENV, "").strip()
    if text not in ("", "0", "1"):
        raise ValueError(f"{STANDBY_ENV} must be 0 (no standby worker) or 1 (one per server), got {text!r}")
    return text != "0"


def start_standby(runs_dir: Path | str, data_dir: Path | str) -> Standby | None:
    """This process's keeper for `runs_dir`, started once; None when MNIST_STANDBY=0."""
    if not standby_enabled():
        return None
    key = Path(runs_dir).resolve()
    with _keepers_lock:
        if key not in _keepers:
            _keepers[key] = Standby(key, data_dir)
            _keepers[key].start()
        return _keepers[key]


def take(run_dir: Path | str, data_dir: Path | str) -> subprocess.Popen | None:
    """Hand `run_dir` to this process's ready standby for its runs folder; its process, or None (spawn one)."""
    keeper = _keepers.get(Path(run_dir).resolve().parent)
    return keeper.take(run_dir, data_dir) if keeper is not None else None


class Standby:
    """The keeper of one runs folder's standby worker: starts it, hands it a run, replaces it."""

    def __init__(self, runs_dir: Path | str, data_dir: Path | str):
        self.runs_dir, self.data_dir = Path(runs_dir).resolve(), Path(data_dir).resolve()
        self.lock = threading.Lock()
        self.ready: subprocess.Popen | None = None  # a standby waiting for a run
        self.changed = threading.Event()  # set when the ready standby was taken (or asked to stop)
        self.stopping = False

    def start(self) -> None:
        threading.Thread(target=self._keep, name="mnist-standby-keeper", daemon=True).start()

    def take(self, run_dir: Path | str, data_dir: Path | str) -> subprocess.Popen | None:
        """Give the ready standby this run (single-process runs only); None when there is none or it is gone."""
        try:  # the supervisor's torchrun path stays a fresh process; a bad config.json is the worker's to report
            if int(read_json(Path(run_dir) / "config.json", default={}).get("workers") or 1) > 1:
                return None
        except (ValueError, TypeError, AttributeError):
            return None
        with self.lock:
            proc, self.ready = self.ready, None
            if proc is None or proc.poll() is not None:
                return None
            line = json.dumps({"run_dir": str(Path(run_dir).resolve()), "data_dir": str(Path(data_dir).resolve())})
            try:
                (Path(run_dir) / "worker.log").write_bytes(b"")  # exists from the start, as a spawned worker's
                proc.stdin.write(line + "\n")
                proc.stdin.close()
                proc.stdout.close()
            except OSError:  # it died just now (BrokenPipeError): the keeper replaces it, the caller spawns a worker
                proc.kill()
                return None
            self.changed.set()
        return proc

    def stop(self) -> None:
        """End the idle standby (EOF on its stdin) and start no other; a standby holding a run trains on."""
        with self.lock:
            self.stopping = True
            proc, self.ready = self.ready, None
            self.changed.set()
        if proc is not None:
            _close_quietly(proc)
            proc.wait()
        with _keepers_lock:
            if _keepers.get(self.runs_dir) is self:
                del _keepers[self.runs_dir]

    def pid(self) -> int | None:
        """The ready standby's pid (None while one warms up or none runs)."""
        with self.lock:
            return self.ready.pid if self.ready is not None else None

    def _keep(self) -> None:
        """The keeper thread: always one standby warming up or ready. This thread starts them (and lives as long
        as the server), so their PR_SET_PDEATHSIG fires when the server dies, not when a page's thread ends."""
        retry = RETRY_S
        while not self.stopping:
            try:
                retry = self._keep_one(retry)
            except Exception as exc:  # never seen; the keeper must not die of it (its standby would, with it)
                print(f"warning: standby worker: {type(exc).__name__}: {exc}", file=sys.stderr)
                time.sleep(retry)

    def _keep_one(self, retry: float) -> float:
        """Start one standby and keep it until it is taken or dies; the wait before the next one."""
        proc = self._spawn()
        if proc is None or proc.stdout.readline().strip() != READY:  # died while warming up: wait, longer each time
            if proc is not None:
                proc.wait()
            time.sleep(retry)
            return min(retry * 2, RETRY_MAX_S)
        with self.lock:
            if self.stopping:
                _close_quietly(proc)
                proc.wait()
                return RETRY_S
            self.ready = proc
            self.changed.clear()
        while not self.changed.wait(timeout=0.5):  # until taken: then its new owner (jobs._start) reaps it
            if proc.poll() is not None:  # died idle (killed, crashed), perhaps seen by take already: replace it
                with self.lock:
                    if self.ready is proc:
                        self.ready = None
                break
        return RETRY_S

    def _spawn(self) -> subprocess.Popen | None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.runs_dir / LOG_NAME, "ab") as log:
                return subprocess.Popen(
                    [sys.executable, "-m", "mnist_core.standby_worker", str(os.getpid()), str(self.data_dir)],
                    env=procs.worker_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                    start_new_session=True, cwd=Path(__file__).resolve().parent.parent)
        except OSError as exc:
            print(f"warning: could not start the standby worker: {exc}", file=sys.stderr)
            return None


def _close_quietly(proc: subprocess.Popen) -> None:
    try:
        proc.stdin.close()
    except OSError:
        pass
