"""Training worker processes: who a run's worker is, whether it still lives, and reaping it when it ends.

A run's status.json names its worker by `pid` and `pid_start` (the boot id and the process's start time in
clock ticks, field 22 of /proc/<pid>/stat). A pid alone is not an identity: after a restart the number may
belong to any other process, which would keep the run "running" for ever. Old status files without
`pid_start` count as alive only while that pid runs a Python program of this project (its command line names
mnist_core or streamlit), which a reused pid almost never does.

    from mnist_core import procs
    procs.identity(os.getpid())  # {"pid": ..., "pid_start": "<boot id>:<ticks>"} for status.json
    procs.worker_alive(status)   # from a status.json dict
"""
from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

LEGACY_MARKERS = (b"mnist_core", b"streamlit")  # what a worker's (or the dashboard's) command line holds


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on: the command name in field 2 may hold spaces and ')'."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(") ", 1)[-1].split()


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_time(pid: int) -> str | None:
    """'<boot id>:<start ticks>' of a live process, unique for its lifetime; None where /proc cannot tell."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    return f"{_boot_id()}:{fields[19]}"  # field 22 overall (starttime) is the 20th from the state


def identity(pid: int) -> dict:
    """The status.json fields that name the worker process `pid`."""
    return {"pid": pid, "pid_start": start_time(pid)}


def worker_alive(status: dict) -> bool:
    """Whether the process status.json names as its worker is that same process and still running."""
    pid = status.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    fields = _stat_fields(pid)
    if fields is None:  # no such process, or no /proc at all (not Linux)
        return False if Path("/proc/self/stat").exists() else _exists_without_proc(pid)
    if fields[0] in ("Z", "X"):  # exited, not yet reaped by its parent: not training any more
        return False
    recorded = status.get("pid_start")
    if recorded:
        return recorded == start_time(pid)
    try:  # a status.json written before pid_start existed
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(marker in cmdline for marker in LEGACY_MARKERS)


def _exists_without_proc(pid: int) -> bool:
    """Where there is no /proc (not Linux): the best a signal 0 can say."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_when_done(proc: subprocess.Popen) -> None:
    """Wait for `proc` in a daemon thread, so it does not stay a zombie after it ends.

    Only this one child is waited for: a SIGCHLD handler or a double fork would touch other subprocess users.
    """
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()


SUPERVISOR_ENV = "MNIST_SUPERVISOR_PID"  # set by mnist_core.supervise for the ranks it starts
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# What a worker (spawned, or a standby) must not inherit from a starter that is itself a worker or a supervisor
INHERITED = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
             "TORCHELASTIC_RUN_ID", SUPERVISOR_ENV)


def worker_env() -> dict[str, str]:
    """This process's environment without what would make a worker believe it is a rank of a torchrun job."""
    return {k: v for k, v in os.environ.items() if k not in INHERITED}


def _set_parent_death_signal(sig: int) -> bool:
    """prctl(PR_SET_PDEATHSIG, sig) for this process (0: none); False where it is not available (not Linux)."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def outlive_parent() -> None:
    """Undo die_with_parent: a standby that took a run trains on like a spawned worker, whatever its starter."""
    _set_parent_death_signal(0)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent (the supervisor, `parent_pid`) dies, even by
    SIGKILL, which no handler sees: a rank must not train on, unsupervised, into a run already marked failed.

    Exits at once if the parent is already gone (the request only covers a death after it). Linux only; a
    no-op elsewhere.
    """
    import signal

    if not _set_parent_death_signal(int(signal.SIGKILL)):
        return
    if os.getppid() != parent_pid:
        os._exit(1)
