"""Run one import analysis in a child process with a memory and a CPU-time limit, and a way to cancel it.

The dashboard analyses what a visitor uploads or picks here, so that no file can take the server's memory
or cores: the child gets RLIMIT_AS (its address space may grow by limits.memory_bytes) and RLIMIT_CPU
(limits.cpu_seconds, then the kernel kills it), dies with the server (PR_SET_PDEATHSIG), and the parent
kills it when asked to stop (Cancel, a closed tab: `should_stop` or an exception from `on_wait`) or when
twice the CPU limit and 30 s have passed on the wall clock. The result comes back pickled through a pipe.

    python -c "from mnist_core.own_data.sandbox import run_limited; from mnist_core.own_data.archive import Limits; \\
print(run_limited(sum, ([1, 2],), Limits()))"
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import types
from collections.abc import Callable
from contextlib import contextmanager

from mnist_core.data import DataError
from mnist_core.own_data.archive import MB, Limits

POLL_S = 0.2
_CONTEXT = multiprocessing.get_context("forkserver")  # no fork of a threaded server; children start in ms
_CONTEXT.set_forkserver_preload(["mnist_core.own_data.datasets"])  # imported (with torch) once, in the fork server


class ImportCancelled(DataError):
    """The analysis was stopped on request; nothing was imported."""


def run_limited(fn: Callable, args: tuple, limits: Limits, should_stop: Callable[[], bool] = lambda: False,
                on_wait: Callable[[float], None] | None = None):
    """fn(*args) in a limited child process: its value, or DataError saying which limit stopped it.

    While waiting, `on_wait(seconds so far)` is called every 0.2 s (the dashboard updates a message there,
    which is where Streamlit interrupts a script whose visitor clicked Cancel or left) and `should_stop()`
    is asked; either way the child is killed before this returns or raises.
    """
    parent, child = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=_child, daemon=True,
                               args=(child, fn, args, limits.memory_bytes, limits.cpu_seconds, os.getpid()))
    with _no_main_script():
        process.start()
    child.close()
    start = time.monotonic()
    try:
        while not parent.poll(POLL_S):
            elapsed = time.monotonic() - start
            if not process.is_alive() and not parent.poll(0):
                raise DataError(_death_message(process.exitcode, limits))
            if should_stop():
                raise ImportCancelled("The analysis was cancelled; nothing was imported.")
            if elapsed > wall_s(limits):  # asleep or blocked: the CPU limit alone would never end it
                raise DataError(f"The analysis took more than {wall_s(limits):,} s and was stopped; "
                                   "nothing was imported.")
            if on_wait is not None:
                on_wait(elapsed)
        try:
            kind, value = parent.recv()
        except EOFError:  # it died while sending
            process.join()
            raise DataError(_death_message(process.exitcode, limits)) from None
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        parent.close()
    if kind == "ok":
        return value
    if kind == "memory":
        raise DataError(_memory_message(limits))
    raise DataError(value)


def wall_s(limits: Limits) -> int:
    """The wall-clock limit: room for a busy machine's share of cores on top of the CPU limit."""
    return 2 * limits.cpu_seconds + 30


def _death_message(exitcode: int | None, limits: Limits) -> str:
    if exitcode in (-signal.SIGXCPU, -signal.SIGKILL):
        return (f"The analysis used more than {limits.cpu_seconds:,} s of CPU time (MNIST_IMPORT_CPU_SECONDS) and "
                "was stopped; nothing was imported. Import fewer or smaller images.")
    return f"The analysis stopped unexpectedly (exit code {exitcode}); nothing was imported. {_memory_message(limits)}"


def _memory_message(limits: Limits) -> str:
    return (f"The analysis needed more than {limits.memory_bytes / MB:,.0f} MB of memory (MNIST_IMPORT_MEMORY_MB) "
            "and was stopped; nothing was imported. Import fewer or smaller images.")


_MAIN_LOCK = threading.Lock()


@contextmanager
def _no_main_script():
    """multiprocessing re-runs the parent's __main__ file in the child when it has one; Streamlit (and AppTest)
    run a page script as __main__, which the child must never run again: start it with a bare __main__."""
    with _MAIN_LOCK:
        saved = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = saved


def _child(conn, fn: Callable, args: tuple, memory_bytes: int, cpu_seconds: int, server_pid: int) -> None:
    _die_with_parent(server_pid)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))  # SIGXCPU, then SIGKILL
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + memory_bytes,) * 2)
    try:
        message = ("ok", fn(*args))
    except MemoryError:
        message = ("memory", "")
    except DataError as exc:
        message = ("error", str(exc))
    except Exception as exc:  # a bug or an odd decoder error: said in one line, never as a traceback page
        message = ("error", f"The analysis failed ({type(exc).__name__}: {exc}); nothing was imported.")
    try:
        conn.send(message)
    except MemoryError:  # pickling a large result can itself exceed the limit
        conn.send(("memory", ""))
    conn.close()


def _address_space() -> int:
    """This process's current virtual size in bytes (what it inherited: the interpreter, numpy, torch)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _die_with_parent(server_pid: int) -> None:
    """End this process when the server that asked for it dies, so a killed server leaves no analysis running.

    Its parent is multiprocessing's fork server, which outlives a killed server until its children end, so
    PR_SET_PDEATHSIG (for the fork server) is backed by a thread watching the server's pid.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the thread and the CPU limit still end it
        pass

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # alive (or its pid reused by another user's process)
                pass
    threading.Thread(target=watch, daemon=True).start()
