"""Supervise a multi-process training run: start its ranks under torchrun's agent, record how it ended.

The dashboard's detached worker (`python -m mnist_core.launch RUN_DIR DATA_DIR`, config.workers > 1) calls
`supervise`: PyTorch's elastic agent, the engine behind torchrun, starts config.workers ranks of that same
worker on this machine (rendezvous on a free localhost port). Rank 0 writes the run. When a rank dies, the
agent stops the others (SIGTERM, then SIGKILL after 30 s), and rank 0 may be gone before it could record
anything, so the supervisor, whose pid status.json holds, marks the run failed saying which rank ended how.
Each rank asks the kernel to kill it when the supervisor dies (procs.die_with_parent): a SIGKILLed supervisor
takes its ranks with it, and its run reads as failed (its worker is dead) and stays so.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from mnist_core import procs, runs
from mnist_core.distributed import max_workers
from mnist_core.files import read_json


def supervise(run_dir: Path, data_dir: Path, workers: int) -> int:
    """Run `workers` ranks of the worker for run_dir; 0 when the run finished or was cancelled, else 1."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # torchrun would give each rank 1 thread; share this machine's cores out instead (only for these ranks: the
    # next queued run, which this process starts when it ends, gets the machine's default again)
    own_threads = "OMP_NUM_THREADS" not in os.environ
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, max_workers("cpu") // workers)))
    os.environ[procs.SUPERVISOR_ENV] = str(os.getpid())  # the ranks' parent: they die with it
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=workers, run_id=Path(run_dir).name,
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0)
    failures: dict = {}
    try:
        elastic_launch(config, sys.executable)("-m", "mnist_core.launch", str(run_dir), str(data_dir))
        problem = ""
    except ChildFailedError as exc:
        failures, problem = exc.failures, ""
    except Exception as exc:  # rendezvous trouble, or a signal to this supervisor (SignalException)
        problem = f"the training processes were stopped ({type(exc).__name__}: {exc})"
    finally:
        if own_threads:
            os.environ.pop("OMP_NUM_THREADS", None)
    return record_outcome(Path(run_dir), failures, workers, problem)


def describe_failures(failures: dict, workers: int) -> str:
    """'rank 1 of 2 exited with code 3; rank 0 of 2 was stopped by SIGTERM': causes first, collateral after."""
    def collateral(item) -> bool:
        return item[1].exitcode in (-signal.SIGTERM, -signal.SIGKILL)

    parts = []
    for rank, failure in sorted(failures.items(), key=lambda item: (collateral(item), item[0])):
        how = (f"was stopped by {failure.signal_name()}" if failure.exitcode < 0
               else f"exited with code {failure.exitcode}")
        parts.append(f"rank {rank} of {workers} {how}")
    return "training process " + "; ".join(parts) if parts else ""


def record_outcome(run_dir: Path, failures: dict, workers: int, problem: str = "") -> int:
    """Make status.json final once every rank has ended; keep what rank 0 recorded, add what it could not know.

    `failures` maps rank -> torch ProcessFailure. Returns the supervisor's exit code.
    """
    for tmp in run_dir.glob(".*.tmp"):  # a rank killed mid-write leaves a temp file (never a half-written one)
        tmp.unlink(missing_ok=True)
    status = read_json(run_dir / "status.json", default={}, error=runs.RunStoreError)
    state, reported = status.get("status"), status.get("error")
    if state in ("finished", "cancelled"):
        return 0
    rank0_reported = state == "failed" and bool(reported)
    if rank0_reported:  # rank 0 recorded its failure (a NaN loss, bad data, a lost peer) and exited 1
        failures = {rank: f for rank, f in failures.items() if rank != 0}
    parts = [describe_failures(failures, workers), problem, reported if rank0_reported else ""]
    if not any(parts[:2]) and rank0_reported:
        return 1
    error = "; ".join(p for p in parts if p) or "the training processes exited without recording a result"
    runs.append_event(run_dir, {"type": "failed", "error": error})
    if rank0_reported:  # amend rank 0's failure with what only the supervisor knows
        runs.set_status(run_dir, "failed", expect={"status": "failed", "error": reported}, error=error)
    else:
        runs.end_run(run_dir, "failed", error=error)
    print(f"failed: {error}", file=sys.stderr)
    return 1
