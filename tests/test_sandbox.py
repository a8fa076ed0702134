"""The dashboard's analysis runs in a limited child process (issue 17 item 5): real bombs hit its memory and
CPU limits, Cancel and the death of the server kill it, and nothing is left running.

    python -m pytest -q tests/test_sandbox.py
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from dataset_files import big_png, make_zip

from mnist_core.data import DataError
from mnist_core.own_data import datasets
from mnist_core.own_data.archive import MB, Limits
from mnist_core.own_data.sandbox import ImportCancelled, run_limited

ROOT = Path(__file__).resolve().parent.parent


def sleeper(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(120)


def gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":  # dead, waiting for its parent to reap it
            return True
        time.sleep(0.05)
    return False


def test_the_result_comes_back():
    analysis = run_limited(datasets.analyse_bytes, ("a.zip", make_zip({f"{'ab'[i % 2]}/{i}.png": big_png(40, i)
                                                                      for i in range(6)})), Limits())
    assert analysis.class_names == ["a", "b"] and len(analysis.train_index) == 4


def test_an_npz_that_needs_too_much_memory_is_stopped():
    bomb = io.BytesIO()
    np.savez_compressed(bomb, images=np.zeros((30_000, 28, 28)), labels=np.zeros(30_000, int))  # 188 MB float64
    assert len(bomb.getvalue()) < 500_000
    limits = Limits(memory_bytes=64 * MB)
    with pytest.raises(DataError, match=r"needed more than 64 MB of memory \(MNIST_IMPORT_MEMORY_MB\)"):
        run_limited(datasets.analyse_bytes, ("bomb.npz", bomb.getvalue(), 0.2, 0, limits), limits)


def spin() -> None:
    while True:
        pass


def test_an_analysis_is_stopped_at_the_cpu_limit():
    start = time.monotonic()
    with pytest.raises(DataError, match=r"more than 1 s of CPU time \(MNIST_IMPORT_CPU_SECONDS\)"):
        run_limited(spin, (), Limits(cpu_seconds=1))
    assert time.monotonic() - start < 15


def test_cancel_kills_the_child(tmp_path):
    pid_file = tmp_path / "pid"
    asked = threading.Event()
    threading.Timer(1.0, asked.set).start()
    with pytest.raises(ImportCancelled, match="cancelled; nothing was imported"):
        run_limited(sleeper, (str(pid_file),), Limits(), should_stop=asked.is_set)
    assert gone(int(pid_file.read_text()))


def test_an_exception_while_waiting_kills_the_child(tmp_path):
    """Streamlit stops a script whose visitor clicked Cancel or closed the tab by raising in its next call."""
    pid_file = tmp_path / "pid"

    def interrupt(elapsed: float) -> None:
        if pid_file.exists():
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_limited(sleeper, (str(pid_file),), Limits(), on_wait=interrupt)
    assert gone(int(pid_file.read_text()))


def test_the_child_dies_with_the_server(tmp_path):
    pid_file = tmp_path / "pid"
    code = ("import sys; sys.path.insert(0, 'tests'); from test_sandbox import sleeper; "
            "from mnist_core.own_data.sandbox import run_limited; from mnist_core.own_data.archive import Limits\n"
            f"if __name__ == '__main__': run_limited(sleeper, ({str(pid_file)!r},), Limits())")
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    server.send_signal(signal.SIGKILL)
    server.wait()
    assert gone(int(pid_file.read_text()), within_s=10)
