"""A run's life in the store, done for real: broken run folders, a read-only and a full runs folder, a pid
reused by an unrelated live process, cancel requests that arrive late.

    python -m pytest -q tests/test_run_lifecycle.py

The read-only and full-disk tests mount a read-only bind mount and a tiny tmpfs (tests/mounts.py).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mounts import mounted

from mnist_core import files, procs, runs
from mnist_core.config import TrainConfig

SECRET = "hunter2-password"  # in a malformed file: must never reach a message


@pytest.fixture
def unrelated_process() -> Iterator[subprocess.Popen]:
    """A live process that is not a training worker (what a reused pid points at after a restart)."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def _orphaned_run(runs_dir: Path, **status) -> Path:
    """A run whose status.json says running, as its worker left it."""
    run_dir = runs.create_run(runs_dir, TrainConfig(data="mnist-sample"))
    files.write_json_atomic(run_dir / "status.json", {"status": "running", "created": "2026-12-01T10:00:00",
                                                     **status})
    return run_dir


def test_a_reused_pid_does_not_keep_a_run_running(runs_dir, unrelated_process):
    pid = unrelated_process.pid
    recorded = procs.start_time(pid).split(":")[0] + ":1"  # the dead worker's start time: long before
    run_dir = _orphaned_run(runs_dir, pid=pid, pid_start=recorded)
    info = runs.read_run(run_dir)
    assert info.status == "failed" and info.error == runs.DEAD_WORKER
    assert runs.request_cancel(run_dir) is False and not (run_dir / "cancel").exists()  # nothing to cancel
    runs.delete_run(run_dir)  # no longer refused
    assert not run_dir.exists()
    assert unrelated_process.poll() is None  # and the unrelated process was left alone


def test_an_old_status_without_start_time_still_works(runs_dir, unrelated_process):
    reused = _orphaned_run(runs_dir, pid=unrelated_process.pid)  # `sleep` is not one of ours
    assert runs.read_run(reused).status == "failed"
    worker = subprocess.Popen([sys.executable, "-c", "import time, mnist_core; time.sleep(60)"])
    try:
        live = _orphaned_run(runs_dir, pid=worker.pid)  # a live process of this project: still running
        assert runs.read_run(live).status == "running"
    finally:
        worker.kill()
        worker.wait()
    assert runs.read_run(live).status == "failed"


def test_the_recorded_worker_is_alive_only_while_it_is_the_same_process(runs_dir):
    worker = subprocess.Popen(["sleep", "60"])
    run_dir = runs.create_run(runs_dir, TrainConfig())
    runs.set_status(run_dir, "running", **procs.identity(worker.pid))
    assert runs.read_run(run_dir).status == "running"
    worker.kill()
    worker.wait()
    assert runs.read_run(run_dir).status == "failed"


BROKEN_FILES = {
    "torn status": ("status.json", '{"status": "runn' + SECRET, "status.json is not valid JSON"),
    "status is a list": ("status.json", json.dumps([SECRET]), "status.json is not a JSON object"),
    "unknown status": ("status.json", json.dumps({"status": SECRET}), "status.json has no known status"),
    "accuracy as text": ("status.json", json.dumps({"status": "finished", "test_accuracy": SECRET}),
                         "status.json field 'test_accuracy' has the wrong type (str)"),
    "torn config": ("config.json", SECRET + "{", "config.json is not valid JSON"),
    "config with a stray field": ("config.json", json.dumps({"data": "mnist", SECRET: 1}),
                                  "config.json is not a training config"),
    "config with a wrong type": ("config.json", json.dumps({"data": "mnist", "epochs": {}}),
                                 "config.json is not a training config"),
}


@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_a_broken_run_is_listed_with_its_reason_and_can_be_deleted(runs_dir, case):
    name, content, reason = BROKEN_FILES[case]
    good = runs.create_run(runs_dir, TrainConfig(data="mnist-sample"))
    runs.set_status(good, "finished", test_accuracy=0.9)
    broken = runs.create_run(runs_dir, TrainConfig(data="mnist-sample"))
    (broken / name).write_text(content)
    listed = runs.list_runs(runs_dir)
    assert [(r.run_id, r.status) for r in listed] == [(good.name, "finished"), (broken.name, runs.BROKEN)]
    error = listed[1].error
    assert error.startswith(f"broken run folder: {reason}") and SECRET[:6] not in error and str(runs_dir) not in error
    runs.delete_run(broken)
    assert not broken.exists() and [r.run_id for r in runs.list_runs(runs_dir)] == [good.name]


def _dead_workers_run(runs_dir: Path) -> Path:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return _orphaned_run(runs_dir, pid=proc.pid, pid_start="gone:1")


def test_a_read_only_runs_folder_is_still_listed(tmp_path):
    writable = tmp_path / "runs"
    dead = _dead_workers_run(writable)
    finished = runs.create_run(writable, TrainConfig(data="mnist-sample"))
    runs.set_status(finished, "finished", test_accuracy=0.9)
    (read_only := tmp_path / "ro").mkdir()
    with mounted("--bind", "-o", "ro", str(writable), str(read_only)):
        with pytest.raises(OSError, match="Read-only file system"):  # the mount really refuses writes
            (read_only / "probe").write_text("x")
        listed = {r.run_id: r for r in runs.list_runs(read_only)}
        assert listed[dead.name].status == "failed" and listed[dead.name].error == runs.DEAD_WORKER
        assert listed[finished.name].status == "finished"


def test_a_full_disk_does_not_break_reading(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)):
        dead = _dead_workers_run(full / "runs")
        fd = os.open(full / "filler", os.O_WRONLY | os.O_CREAT)
        with pytest.raises(OSError, match="No space left"):
            while True:
                os.write(fd, b"\0" * 4096)
        os.close(fd)
        with pytest.raises(OSError, match="No space left"):
            files.write_json_atomic(full / "probe.json", {"padding": "x" * 10_000})
        info = runs.read_run(dead)
        assert info.status == "failed" and info.error == runs.DEAD_WORKER


def test_a_cancel_after_the_end_writes_nothing_and_an_end_clears_a_pending_one(runs_dir):
    run_dir = runs.create_run(runs_dir, TrainConfig())
    assert runs.request_cancel(run_dir) is True and runs.cancel_requested(run_dir)
    runs.end_run(run_dir, "finished", test_accuracy=0.9)  # the worker finished before it saw the request
    assert not runs.cancel_requested(run_dir)
    assert runs.request_cancel(run_dir) is False and not runs.cancel_requested(run_dir)
    assert runs.end_run(run_dir, "failed", error="late")["status"] == "finished"  # only over "running"
    assert runs.read_run(run_dir).error is None


def test_an_end_is_not_written_for_a_run_whose_worker_died(runs_dir):
    run_dir = _dead_workers_run(runs_dir)
    assert runs.read_run(run_dir).status == "failed"
    after = runs.end_run(run_dir, "finished", test_accuracy=0.9)  # a late writer must not flip it back
    assert after["status"] == "running" and "test_accuracy" not in after
    assert runs.read_run(run_dir).status == "failed"


def test_reaped_worker_is_no_zombie():
    proc = subprocess.Popen(["true"])
    procs.reap_when_done(proc)
    deadline = time.monotonic() + 5
    while (Path(f"/proc/{proc.pid}").exists() or proc.returncode is None) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{proc.pid}").exists() and proc.returncode == 0
