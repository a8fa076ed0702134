"""The standby worker (mnist_core/standby.py) with real processes: it takes a queued run and leaves the same run
folder as a spawned worker; killed idle or holding a run, it is replaced and the run never stays stuck; cancel
works in it; it dies with its server; multi-process runs and MNIST_STANDBY=0 keep the fresh worker.

    python -m pytest -q tests/test_standby.py
"""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from waiting import wait_for

from mnist_core import jobs, launch, runs, standby
from mnist_core.config import TrainConfig
from mnist_core.files import read_json

REPO = Path(__file__).resolve().parent.parent
QUICK = TrainConfig(data="mnist-sample", epochs=1, batch_size=32, device="cpu")  # 125 batches, 1-3 s
LONG = TrainConfig(data="mnist-sample", epochs=50, batch_size=100, device="cpu")  # a minute: stopped by the tests
WARM_UP_S = 120  # importing torch on 2 shared cores: 3 s idle, far more while other tests run


@pytest.fixture
def keeper(tmp_path, monkeypatch):
    """A standby for tmp_path/runs (data in tmp_path: none, so only the imports are warmed up), stopped after."""
    monkeypatch.setenv(standby.STANDBY_ENV, "1")
    started = standby.start_standby(tmp_path / "runs", tmp_path)
    wait_for(started.pid, WARM_UP_S, "the standby worker to be ready")
    yield started
    started.stop()


def _status(run_dir: Path) -> dict:
    return read_json(run_dir / "status.json")


def _ended(run_dir: Path, timeout: float = 300) -> runs.RunInfo:
    """The run once its worker process has exited (after the label issues and the map it writes last)."""
    wait_for(lambda: runs.read_run(run_dir).status not in ("queued", "running"), timeout, "the run to end")
    wait_for(lambda: not _alive(_status(run_dir)["pid"]), timeout, "the worker to exit")
    return runs.read_run(run_dir)


def _alive(pid: int) -> bool:
    """The process exists and has not ended (a zombie has). Not its command line: a SIGKILLed process loses that
    while the kernel still tears it down, and status.json's pid_start names it until it is a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_the_standby_takes_a_run_and_leaves_the_same_files_as_a_spawned_worker(keeper, tmp_path):
    standby_pid = keeper.pid()
    taken = launch.start_worker(QUICK, tmp_path / "runs", tmp_path)
    assert _status(taken)["pid"] == standby_pid  # no fresh interpreter: the standby is the worker
    taken_info = _ended(taken)
    keeper.stop()  # the next run gets a spawned worker
    spawned = launch.start_worker(QUICK, tmp_path / "runs", tmp_path)
    spawned_info = _ended(spawned)
    assert _status(spawned)["pid"] != standby_pid
    assert taken_info.status == spawned_info.status == "finished"
    assert taken_info.test_accuracy == spawned_info.test_accuracy  # same seed, same data, one thread: same net
    assert sorted(p.name for p in taken.iterdir()) == sorted(p.name for p in spawned.iterdir())
    assert np.array_equal(runs.load_probs(taken)[0], runs.load_probs(spawned)[0])
    def kinds(run_dir):  # batch events are written at most every 0.4 s: how many depends on the machine's speed
        return [e["type"] for e in runs.read_events(run_dir) if e["type"] != "batch"]
    assert kinds(taken) == kinds(spawned) and "epoch" in kinds(taken)


def test_a_new_standby_is_ready_after_one_takes_a_run(keeper, tmp_path):
    first = keeper.pid()
    run_dir = launch.start_worker(QUICK, tmp_path / "runs", tmp_path)
    second = wait_for(keeper.pid, WARM_UP_S, "the next standby worker")
    assert second != first and _status(run_dir)["pid"] == first
    assert _ended(run_dir).status == "finished"
    assert _alive(second)  # the idle one waits on; a standby is no run: nothing else in the runs folder
    assert [p.name for p in (tmp_path / "runs").iterdir() if p.is_dir()] == [run_dir.name]


def test_a_killed_idle_standby_is_replaced_and_the_next_run_still_trains(keeper, tmp_path):
    killed = keeper.pid()
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: not _alive(killed), 30, "the standby to die")
    run_dir = launch.start_worker(QUICK, tmp_path / "runs", tmp_path)  # before or after the keeper noticed
    assert _status(run_dir)["pid"] != killed
    assert _ended(run_dir).status == "finished"
    replacement = wait_for(keeper.pid, WARM_UP_S, "a new standby worker")
    assert replacement != killed and _alive(replacement)


def test_a_standby_killed_holding_a_run_leaves_it_failed_and_is_replaced(keeper, tmp_path):
    holder = keeper.pid()
    run_dir = launch.start_worker(LONG, tmp_path / "runs", tmp_path)
    wait_for(lambda: any(e["type"] == "batch" for e in runs.read_events(run_dir)), 120, "the first batch")
    os.kill(holder, signal.SIGKILL)
    wait_for(lambda: not _alive(holder), 30, "the standby to die")
    assert runs.read_run(run_dir).status == "failed"  # readers say so at once
    jobs.dispatch(tmp_path / "runs", tmp_path)  # what the server's dispatcher does every 5 s
    info = runs.read_run(run_dir)
    assert info.status == "failed" and info.error == runs.DEAD_WORKER
    assert _status(run_dir)["status"] == "failed"  # written, not only read so: its slot is free
    replacement = wait_for(keeper.pid, WARM_UP_S, "a new standby worker")
    assert replacement != holder


def test_cancel_stops_a_run_in_the_standby(keeper, tmp_path):
    holder = keeper.pid()
    run_dir = launch.start_worker(LONG, tmp_path / "runs", tmp_path)
    wait_for(lambda: any(e["type"] == "batch" for e in runs.read_events(run_dir)), 120, "the first batch")
    assert jobs.cancel(run_dir) == "requested"
    info = _ended(run_dir, timeout=60)
    assert info.status == "cancelled" and runs.read_events(run_dir)[-1]["type"] == "cancelled"
    assert not _alive(holder) and not (run_dir / "cancel").exists()


def test_a_multi_process_run_is_not_given_to_the_standby(keeper, tmp_path):
    run_dir = runs.create_run(tmp_path / "runs", dataclasses.replace(QUICK, workers=2), status="queued")
    assert keeper.take(run_dir, tmp_path) is None
    assert keeper.pid() is not None  # still ready for the next single-process run


SERVER = """
import sys, time
from mnist_core import standby
keeper = standby.start_standby(sys.argv[1], sys.argv[2])
while keeper.pid() is None:
    time.sleep(0.05)
print(keeper.pid(), flush=True)
time.sleep(600)
"""


def test_an_idle_standby_dies_with_its_server(tmp_path):
    env = {**os.environ, standby.STANDBY_ENV: "1"}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path / "runs"), str(tmp_path)], cwd=REPO,
                              env=env, stdout=subprocess.PIPE, text=True)
    try:
        pid = int(server.stdout.readline())
        assert _alive(pid)
    finally:
        server.kill()  # SIGKILL: no handler of the server runs
        server.wait()
    wait_for(lambda: not _alive(pid), 30, "the standby to die with its server")


def test_mnist_standby_0_turns_it_off_and_a_bad_value_says_what_is_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv(standby.STANDBY_ENV, "0")
    assert standby.start_standby(tmp_path / "runs", tmp_path) is None
    run_dir = runs.create_run(tmp_path / "runs", QUICK, status="queued")
    assert standby.take(run_dir, tmp_path) is None and not (run_dir / "worker.log").exists()
    monkeypatch.setenv(standby.STANDBY_ENV, "yes")
    with pytest.raises(ValueError, match="MNIST_STANDBY must be 0 .* or 1 .*, got 'yes'"):
        standby.start_standby(tmp_path / "runs", tmp_path)
