"""The standby worker process (started by mnist_core.standby's keeper, not by people): warm up, say ready, wait
for one run, then be that run's worker exactly as `python -m mnist_core.launch RUN_DIR DATA_DIR` would.

    python -m mnist_core.standby_worker SERVER_PID DATA_DIR

The warm-up (the training modules, torch, torchvision's MNIST loader and MNIST's files: about 5 s of a cold
worker's 3.5-9 s to its first batch, benchmarks/first_progress.py) runs in a thread at nice +10, so a run that
trains meanwhile keeps the cores; the main thread, which later trains, keeps nice 0 and gets its own OpenMP
threads (libgomp keeps a pool per thread that starts parallel work). Nothing is forked.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

from mnist_core import procs
from mnist_core.standby import READY

WARM_UP_NICE = 10  # a thread at nice 10 gets about a tenth of a core that a training run also wants


def warm_up(data_dir: Path) -> None:
    """What a fresh worker pays before its first batch: the training modules, torch, torchvision and MNIST's files
    (read once: their pages stay cached, and torchvision's loader is imported)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_UP_NICE)  # this thread only, on Linux
    except OSError:  # not allowed here: warm up at the same priority
        pass
    import mnist_core.launch  # noqa: F401  (torch and every module a run needs)
    from mnist_core.data import load_dataset, missing_idx_files

    try:
        if not missing_idx_files("mnist", data_dir):
            load_dataset("mnist", data_dir, download=False)
    except Exception as exc:  # only a warm-up: the run that needs these files will say what is wrong with them
        print(f"MNIST not read ahead: {type(exc).__name__}: {exc}", file=sys.stderr)


def main(argv: list[str]) -> int:
    """Warm up, say ready, wait for one run, then be its worker."""
    server_pid, data_dir = int(argv[0]), Path(argv[1])
    procs.die_with_parent(server_pid)
    ready = os.fdopen(os.dup(1), "w")  # the keeper reads one line here: nothing else may reach it
    os.dup2(2, 1)  # what anything prints goes to the standby's log until it has a run
    warming = threading.Thread(target=warm_up, args=(data_dir,), name="warm-up")
    warming.start()  # the main thread, which trains, keeps its nice 0 (and its own OpenMP threads)
    warming.join()
    print(READY, file=ready, flush=True)
    ready.close()
    line = sys.stdin.readline()
    if not line:  # the server stopped, or stopped wanting a standby
        return 0
    job = json.loads(line)
    procs.outlive_parent()
    with open(Path(job["run_dir"]) / "worker.log", "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    with open(os.devnull, "rb") as null:
        os.dup2(null.fileno(), 0)
    from mnist_core import launch

    return launch.main([job["run_dir"], job["data_dir"]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
