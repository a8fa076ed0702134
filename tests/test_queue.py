"""The training queue (mnist_core.jobs) with real workers: creation order and positions, cancelling a queued
run, the next run started by the worker that ends, a restarted server's dispatch, and the flock that keeps
dispatchers in different processes from starting one run twice or one run too many.

    python -m pytest -q tests/test_queue.py
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from waiting import wait_for

from mnist_core import files, jobs, launch, procs, runs
from mnist_core.config import TrainConfig

REPO = Path(__file__).resolve().parent.parent
QUICK = TrainConfig(data="mnist-sample", epochs=1, batch_size=100, device="cpu")
LONG = TrainConfig(data="mnist-sample", epochs=50, batch_size=100, device="cpu")
START = """import json, sys
from mnist_core import launch
from mnist_core.config import TrainConfig
print(launch.start_worker(TrainConfig(**json.loads(sys.argv[1])), sys.argv[2], sys.argv[3]).name)
"""


def _stop_everything(runs_dir: Path) -> None:
    """Empty the queue first (an ending worker would start the next run), then kill the live workers."""
    for run_dir in jobs.queued(runs_dir):
        jobs.cancel(run_dir)
    for info in runs.list_runs(runs_dir):
        pid = files.read_json(info.path / "status.json").get("pid")
        if info.status == "running" and pid != os.getpid():
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def one_job(monkeypatch, runs_dir):
    """MNIST_MAX_JOBS=1 (the workers this test starts inherit it); every worker is stopped afterwards."""
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "1")
    yield runs_dir
    _stop_everything(runs_dir)


def test_queued_runs_wait_in_creation_order_and_a_cancelled_one_leaves_the_queue(one_job, tmp_path):
    busy = runs.create_run(one_job, QUICK)  # trains "in this process": the one slot is taken
    first, second, third = (launch.start_worker(QUICK, one_job, tmp_path) for _ in range(3))
    listed = {r.run_id: r for r in runs.list_runs(one_job)}
    assert [(listed[r.name].status, listed[r.name].position) for r in (busy, first, second, third)] == [
        ("running", None), ("queued", 1), ("queued", 2), ("queued", 3)]
    assert runs.read_run(second).position == 2 and jobs.queued(one_job) == [first, second, third]
    assert files.read_json(first / "status.json")["data_dir"] == str(tmp_path.resolve())
    assert not (first / "worker.log").exists()  # nothing was started for it

    assert jobs.cancel(second) == "dequeued"
    info = runs.read_run(second)
    assert (info.status, info.error, info.position) == ("cancelled", jobs.CANCELLED_QUEUED, None)
    assert [runs.read_run(r).position for r in (first, third)] == [1, 2]
    assert jobs.cancel(second) == ""  # already over
    with pytest.raises(runs.RunStoreError, match=r"is queued: cancel it first, then delete it"):
        runs.delete_run(first)
    assert jobs.dispatch(one_job, tmp_path) == []  # still no free slot


def test_the_worker_that_ends_starts_the_next_queued_run_and_a_cancelled_one_never(one_job, tmp_path):
    """The issue's sequence in the core: one running, two queued; cancel the second; the third runs after the
    first, started by the first's worker as it ends (no page, no server, nobody else dispatches)."""
    busy = runs.create_run(one_job, QUICK)
    first, second, third = (launch.start_worker(QUICK, one_job, tmp_path) for _ in range(3))
    assert jobs.cancel(second) == "dequeued"
    runs.end_run(busy, "cancelled")
    assert jobs.dispatch(one_job, tmp_path) == [first]  # the slot is free: the oldest queued run starts
    seen = set()

    def third_done() -> bool:
        states = (runs.read_run(first).status, runs.read_run(third).status)
        seen.add(states)
        return states[1] == "finished"

    wait_for(third_done, 240, "the third run to be started by the first's worker and finish")
    assert ("running", "running") not in seen  # never two at once with MNIST_MAX_JOBS=1
    assert runs.read_run(first).status == "finished"
    third_status = files.read_json(third / "status.json")
    assert third_status["started_ns"] > (first / "model.pt").stat().st_mtime_ns  # after the first had finished
    assert third_status["pid"] != files.read_json(first / "status.json")["pid"] != os.getpid()
    assert runs.read_run(second).status == "cancelled" and not (second / "worker.log").exists()


def _dead_worker_identity() -> dict:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    identity = procs.identity(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return identity


def test_a_restarted_server_fails_the_dead_run_and_starts_the_queue(one_job, tmp_path):
    """The host restarted: the run that was training has a dead worker, a queued run is still in the store.
    `python -m mnist_core.jobs dispatch` (what scripts/serve.sh runs before the server) frees the slot and
    starts it; the dead run is failed in status.json itself, not only when read."""
    dead = runs.create_run(one_job, QUICK)
    runs.set_status(dead, "running", **_dead_worker_identity())
    waiting = jobs.enqueue(one_job, LONG, tmp_path)
    env = {**os.environ, "MNIST_RUNS_DIR": str(one_job), "MNIST_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "mnist_core.jobs", "dispatch"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["started", waiting.name]
    status = files.read_json(dead / "status.json")
    assert (status["status"], status["error"]) == ("failed", runs.DEAD_WORKER)
    info = runs.read_run(waiting)
    assert info.status == "running" and files.read_json(waiting / "status.json")["pid"] != os.getpid()
    wait_for(lambda: any(e["type"] == "batch" for e in runs.read_events(waiting)), 120, "the first batch")


def test_sessions_starting_together_get_one_run_and_the_rest_queued(tmp_path):
    """Three dashboard processes press Start at the same moment with MNIST_MAX_JOBS=1: each queues its run and
    dispatches, under the lock; exactly one starts, the others wait at positions 1 and 2."""
    env = {**os.environ, jobs.MAX_JOBS_ENV: "1"}
    runs_dir = tmp_path / "runs"
    args = [json.dumps(LONG.to_dict()), str(runs_dir), str(tmp_path / "data")]
    starters = [subprocess.Popen([sys.executable, "-c", START, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                 text=True) for _ in range(3)]
    try:
        names = [p.communicate(timeout=120)[0].strip() for p in starters]
        listed = runs.list_runs(runs_dir)
        assert sorted(r.run_id for r in listed) == sorted(names)
        assert sorted((r.status, r.position) for r in listed) == [("queued", 1), ("queued", 2), ("running", None)]
        [running] = [r for r in listed if r.status == "running"]
        oldest = min(listed, key=lambda r: (r.created_ns, r.run_id))
        assert running.run_id == oldest.run_id  # dispatch starts the oldest, whoever dispatched
    finally:
        _stop_everything(runs_dir)


def test_a_dispatcher_in_another_process_waits_for_the_lock(one_job, tmp_path):
    waiting = jobs.enqueue(one_job, LONG, tmp_path)
    env = {**os.environ, "MNIST_RUNS_DIR": str(one_job), "MNIST_DATA_DIR": str(tmp_path)}
    with jobs.queue_lock(one_job):
        other = subprocess.Popen([sys.executable, "-m", "mnist_core.jobs", "dispatch"], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(3)  # long enough for it to import, list the queue and start the run, were it not locked out
        assert other.poll() is None and runs.read_run(waiting).status == "queued"
    assert other.communicate(timeout=60)[0].split() == ["started", waiting.name]
    assert runs.read_run(waiting).status == "running"
    assert jobs.cancel(waiting) == "requested"  # started meanwhile: Cancel stops it as a running run
    wait_for(lambda: runs.read_run(waiting).status == "cancelled", 120, "the started run to stop")


def test_the_default_limit_is_one_job_on_two_cores(monkeypatch):
    monkeypatch.delenv(jobs.MAX_JOBS_ENV, raising=False)
    monkeypatch.setattr(jobs, "max_workers", lambda device: 2)
    assert jobs.max_jobs() == 1
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "lots")
    with pytest.raises(ValueError, match=r"MNIST_MAX_JOBS must be a whole number >= 1, got 'lots'"):
        jobs.max_jobs()
