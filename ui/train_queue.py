"""The training queue on the Train page, and the server's dispatcher. Used by app.py and ui/train_progress.py:

    start_dispatcher()        # once per server process: the standby worker, dispatch now, then every DISPATCH_EVERY_S
    queued_panel(info)        # the watched run while it waits: its position, a Cancel button
    queue_list()              # every queued run in order, each with a Cancel button (polls while any waits)

Runs beyond MNIST_MAX_JOBS wait as "queued" in the run store (mnist_core.jobs). A worker that ends starts the
next one itself; the dispatcher thread covers a worker that was killed (it cannot) and a server restarted with
runs still queued, so a queued run starts when a slot frees even with no page open. The server also keeps a
standby worker ready (mnist_core.standby; MNIST_STANDBY=0 turns it off), which the next Start hands its run to.
"""
from __future__ import annotations

import sys
import threading
import time

import streamlit as st

from mnist_core import jobs, runs, standby
from ui import state
from ui.text import md_escape

DISPATCH_EVERY_S = 5.0
QUEUE_POLL_S = 2.0


_started = threading.Lock()  # held for good by the first caller: one dispatcher per process, whatever the
# sessions (a module global, not st.cache_resource, which clearing the caches would start again)


def start_dispatcher() -> None:
    """A daemon thread of the server process: dispatch the queue at once (a restarted server), then every
    DISPATCH_EVERY_S (a slot freed by a killed worker); and the server's standby worker (mnist_core.standby)."""
    if not _started.acquire(blocking=False):
        return

    runs_dir, data_dir = state.runs_dir(), state.data_dir()  # the server's: its environment does not change
    try:
        standby.start_standby(runs_dir, data_dir)
    except ValueError as exc:  # a bad MNIST_STANDBY: say so in the server's log, train without a standby
        print(f"warning: {exc}; no standby worker", file=sys.stderr)

    def loop() -> None:
        while True:
            jobs.dispatch_quietly(runs_dir, data_dir)
            time.sleep(DISPATCH_EVERY_S)

    threading.Thread(target=loop, name="mnist-queue-dispatcher", daemon=True).start()


def _limit_text() -> str:
    try:
        limit = jobs.max_jobs()
    except ValueError as exc:
        return str(exc)
    return f"{limit} run{'s train' if limit > 1 else ' trains'} at once on this server ({jobs.MAX_JOBS_ENV}={limit})"


def queued_panel(info: runs.RunInfo) -> None:
    """The watched run while it waits for a slot."""
    st.subheader(f"Run {info.run_id} · queued")
    place = f"number {info.position} in the queue" if info.position else "about to start"
    st.info(f"Waiting: {place}. {_limit_text()}; it starts by itself when a slot frees, even if you leave "
            "this page.", icon=":material/hourglass_top:")
    if st.button("Cancel training", key="train_cancel", help="Takes the run out of the queue: it never starts."):
        _cancel(info)


def _cancel(info: runs.RunInfo) -> None:
    outcome = jobs.cancel(info.path)
    st.toast({"dequeued": f"Run {info.run_id} was taken out of the queue.",
              "requested": "It had just started: cancel requested, the worker stops after its current batch.",
              "": "The run had already ended."}[outcome])
    st.rerun(scope="app")


def queue_list() -> None:
    """Every queued run with its position; redrawn every QUEUE_POLL_S while any waits."""
    all_runs = runs.list_runs(state.runs_dir())
    waiting = [r for r in all_runs if r.status == "queued"]
    if waiting:
        training = ", ".join(f"`{r.run_id}`" for r in all_runs if r.status == "running")
        _live_queue(tuple(r.run_id for r in sorted(waiting, key=lambda r: r.position or 0)), training)


@st.fragment(run_every=QUEUE_POLL_S)
def _live_queue(drawn: tuple[str, ...], training: str) -> None:
    order = jobs.queued(state.runs_dir())
    if tuple(p.name for p in order) != drawn:
        st.rerun(scope="app")  # a run started or left the queue: the table and the panel change too
    st.subheader("Queue")
    now = f" Training now: {training}." if training else ""
    st.caption(f"{_limit_text()}.{now} Queued runs start in this order, oldest first.")
    for number, run_dir in enumerate(order, 1):
        try:
            info = runs.read_run(run_dir, position=False)
        except runs.RunStoreError:
            continue
        info.position = number
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.markdown(f"**{number}.** `{info.run_id}` · {md_escape(str(info.config.get('data')))} · "
                      f"{info.config.get('epochs')} epoch{'s' if info.config.get('epochs') != 1 else ''} · "
                      f"queued {info.created.replace('T', ' ')}")
        if right.button("Cancel", key=f"train_unqueue_{info.run_id}", help="Take it out of the queue"):
            _cancel(info)
