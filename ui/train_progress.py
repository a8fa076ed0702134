"""The Train page's live part: the watched run's progress (what the worker is doing, two bars, the smoothed
loss, the accuracy per epoch, a 5x5 grid of fixed test images with the current model's predictions), and the
runs table with its delete button. Used by app_pages/train.py:

    info = watched_run(); progress_panel(info); runs_table()

Watching must not slow training (both share the server's cores), so while a run is live one fragment polls
once a second and reads only what metrics.jsonl gained (mnist_core.progress.Watcher); the charts are rebuilt
only when there is something new, at most every CHART_EVERY_S. Once the run has ended the page is drawn once,
with no fragment at all, so nothing polls a finished run.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from mnist_core import runs
from mnist_core.data import DataError
from mnist_core.progress import Progress, Watcher
from ui import identity, state
from ui.grid import GREEN, RED, grid_png
from ui.train_queue import queued_panel

POLL_S = 1.0  # the live fragment's refresh while a run trains
CHART_EVERY_S = 3.0  # the charts' refresh at most, while training (each redraw costs the browser a Plotly render)
WATCH_KEY, WATCHER_KEY, FIGURES_KEY = "train_watch", "train_watcher", "train_figures"  # session_state, not widgets


def watched_run() -> runs.RunInfo | None:
    """The run whose progress this page shows: the one launched here (perhaps queued), else the newest running one.

    A running run found here is remembered, so that a reloaded page (a new session) keeps showing it when it
    ends, with its final status, instead of dropping it from the page."""
    all_runs = runs.list_runs(state.runs_dir())
    wanted = st.session_state.get(WATCH_KEY)
    for r in all_runs:
        if r.run_id == wanted and r.status != runs.BROKEN:  # a broken run has no config to show progress of
            return r
    running = next((r for r in all_runs if r.status == "running"), None)
    if running is not None:
        st.session_state[WATCH_KEY] = running.run_id
    return running


def progress_panel(info: runs.RunInfo | None) -> None:
    """The watched run: polled once a second while it waits or trains, drawn once when it has ended."""
    if info is None:
        return
    if info.status in ("queued", "running"):
        _live_panel(info.run_id, info.status)
    else:
        _panel(info)


@st.fragment(run_every=POLL_S)
def _live_panel(run_id: str, drawn: str) -> None:
    try:
        info = runs.read_run(state.runs_dir() / run_id)  # this run only: not every run's files each second
    except runs.RunStoreError:
        st.rerun(scope="app")  # deleted meanwhile (by another tab): the page redraws without it
    _panel(info)
    if info.status != drawn:  # started, or ended: the sidebar, the queue and the runs table change with it
        st.rerun(scope="app")


def _watcher(info: runs.RunInfo) -> Watcher:
    """This session's Watcher of the run (a new one when another run is watched)."""
    kept = st.session_state.get(WATCHER_KEY)
    if kept is None or kept[0] != info.run_id:
        kept = (info.run_id, Watcher(info.path, info.config.get("epochs", 1), folds=info.config.get("folds", 0)))
        st.session_state[WATCHER_KEY] = kept
    return kept[1]


def _panel(info: runs.RunInfo) -> None:
    if info.status == "queued":
        queued_panel(info)
        return
    watcher = _watcher(info)
    watcher.update()
    p = watcher.progress
    live = info.status == "running"
    st.subheader(f"Run {info.run_id} · {info.status}")
    progress_bars(p, live)
    if live:
        if identity.may_cancel(info.owner) and st.button("Cancel training", key="train_cancel"):
            if runs.request_cancel(info.path):
                st.toast("Cancel requested: the worker stops after its current batch.")
            else:
                st.toast("The run had already ended.")
    elif info.status == "finished":
        st.success(f"Finished: test accuracy {info.test_accuracy:.2%} in {info.duration:.0f} s.")
        if info.warning:
            st.warning(info.warning, icon=":material/warning:")
    else:
        st.error(f"Run {info.status}: {info.error or 'stopped'}")
    loss_fig, acc_fig = _figures(info.run_id, watcher, live)
    left, middle, right = st.columns([5, 4, 4])
    if loss_fig is not None:
        left.plotly_chart(loss_fig, key="train_loss_chart")
    if acc_fig is not None:
        middle.plotly_chart(acc_fig, key="train_acc_chart")
    with right:
        live_grid(info, p)


def progress_bars(p: Progress, live: bool) -> None:
    """The epoch bar and the whole-run bar; before the first batch they say what the worker is doing."""
    if live and p.stage != "training":
        waiting = {"starting": "starting the worker (Python and PyTorch load first)…",
                   "loading data": "loading data…"}.get(p.stage, f"{p.stage_text}…")
        st.progress(0.0, text=f"Epoch 1/{p.epochs}: {waiting}")
        st.progress(0.0, text=f"Whole run: 0% · {waiting}")
        return
    eta = f", about {p.eta:.0f} s left" if p.eta is not None and live else ""
    phase = f"{p.phase_text} · " if p.phase_text else ""  # a cross-validated run: which fold, or the final model
    st.progress(p.epoch_fraction, text=f"{phase}Epoch {p.epoch + 1}/{p.epochs}: {p.epoch_fraction:.0%}")
    st.progress(p.overall, text=f"Whole run: {p.overall:.0%} in {p.elapsed:.0f} s{eta}")
    if p.fold_rows:
        rows = sorted(p.fold_rows, key=lambda r: r["fold"])
        st.caption("Held-out accuracy of the folds: " + ", ".join(
            f"fold {r['fold'] + 1}: {r['held_out_accuracy']:.2%}" for r in rows))


def _figures(run_id: str, watcher: Watcher, live: bool) -> tuple[go.Figure | None, go.Figure | None]:
    """The loss and accuracy figures, rebuilt only when new events came in (while training: at most every
    CHART_EVERY_S, or when an epoch ended); otherwise the same figures again."""
    p, now = watcher.progress, time.monotonic()
    kept = st.session_state.get(FIGURES_KEY)
    if kept is not None and kept["run"] == run_id:
        fresh = kept["version"] == watcher.version
        recent = live and now - kept["at"] < CHART_EVERY_S and kept["epochs_done"] == len(p.epoch_rows)
        if fresh or recent:
            return kept["figures"]
    figures = (loss_figure(p), accuracy_figure(p))
    st.session_state[FIGURES_KEY] = {"run": run_id, "version": watcher.version, "at": now,
                                     "epochs_done": len(p.epoch_rows), "figures": figures}
    return figures


def loss_figure(p: Progress) -> go.Figure | None:
    if not p.loss_curve:
        return None
    x, y = zip(*p.loss_curve, strict=True)
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", name="smoothed loss"))
    fig.update_layout(title="Training loss (smoothed across batches)", height=300, margin=dict(t=40, b=40),
                      xaxis=dict(title="epoch", range=[0, p.epochs]), yaxis=dict(title="cross-entropy"))
    return fig


def accuracy_figure(p: Progress) -> go.Figure | None:
    if not p.epoch_rows:
        return None
    rows = pd.DataFrame(p.epoch_rows)
    fig = go.Figure(go.Scatter(x=rows["epoch"] + 1, y=rows["test_accuracy"], mode="lines+markers"))
    low = float(rows["test_accuracy"].min())
    fig.update_layout(title="Test accuracy per epoch", height=300, margin=dict(t=40, b=40),
                      xaxis=dict(title="epoch", dtick=1, range=[0.5, max(p.epochs, 1) + 0.5]),
                      yaxis=dict(title="accuracy", tickformat=".1%", range=[max(0.0, low - 0.02), 1.0]))
    return fig


def live_grid(info: runs.RunInfo, p: Progress) -> None:
    """25 fixed test images with the predictions of the model after the latest epoch (from its event)."""
    if not p.grid:
        if info.status == "running":
            st.caption("After the first epoch: 25 test images with the model's predictions, updated every epoch.")
        return
    try:
        dataset = state.load_data(info.config["data"])
    except DataError:
        return  # the data source is gone (a removed import): the rest of the panel still stands
    index, pred, prob = p.grid["index"], p.grid["pred"], p.grid["p"]
    labels, names = dataset.test_labels[index].tolist(), dataset.class_names
    titles = [f"{names[c]} ({q:.0%})" for c, q in zip(pred, prob, strict=True)]
    colors = [GREEN if c == y else RED for c, y in zip(pred, labels, strict=True)]
    images = np.ascontiguousarray(dataset.test_images[index])
    right = sum(c == GREEN for c in colors)
    st.image(grid_png(images, titles, colors, scale=2),
             caption=f"After epoch {len(p.epoch_rows)}: {right} of {len(index)} fixed test images right "
                     "(green right, red wrong; the model's class and its probability)")


def _accuracy(r: runs.RunInfo) -> str:
    return f"{r.test_accuracy:.2%}" if r.test_accuracy is not None else ""


def status_text(r: runs.RunInfo) -> str:
    """'queued #2' for a queued run (its place in the queue), else the status."""
    return f"queued #{r.position}" if r.status == "queued" and r.position else r.status


def run_choice(r: runs.RunInfo) -> str:
    """How a run reads in the delete list: id · status · data · accuracy."""
    return " · ".join(x for x in (r.run_id, status_text(r), str(r.config.get("data")), _accuracy(r)) if x)


def runs_table() -> None:
    all_runs = runs.list_runs(state.runs_dir())
    st.subheader("Runs")
    if not all_runs:
        st.caption("No runs yet.")
        return
    owners = identity.login_on() or any(r.owner for r in all_runs)  # who started each run, once anyone did
    st.dataframe(pd.DataFrame([{  # text, with "" for what a run does not have yet (not a literal None)
        "run": r.run_id, "status": status_text(r), **({"started by": r.owner} if owners else {}),
        "data": r.config.get("data") or "",
        "architecture": r.config.get("architecture") or "",
        "epochs": r.config.get("epochs"), "test accuracy": _accuracy(r),
        "duration (s)": f"{r.duration:.1f}" if r.duration else "", "created": r.created,
        "problem": r.warning or (r.error if r.status != "finished" else "") or "",
    } for r in all_runs]), hide_index=True, key="train_runs_table")
    if not identity.may_delete():
        st.caption(identity.delete_refusal())
        return
    by_id = {r.run_id: r for r in all_runs}
    if st.session_state.get("train_delete_pick") in by_id:
        # The browser keeps a keyed selectbox's label as it was drawn; setting the pick again sends the new
        # one (a run's status and accuracy change under it), instead of "running" for a finished run.
        st.session_state["train_delete_pick"] = st.session_state["train_delete_pick"]
    pick = st.selectbox("Run to delete", list(by_id), key="train_delete_pick",
                        format_func=lambda run_id: run_choice(by_id[run_id]))
    if st.button("Delete run…", key="train_delete"):
        st.session_state["train_confirm_delete"] = pick
    if st.session_state.get("train_confirm_delete") == pick:
        target = by_id[pick]
        st.warning(f"Delete run {pick} and its model for good?")
        yes, no = st.columns(2)
        if yes.button("Yes, delete", key="train_delete_confirm", type="primary"):
            if target.status in ("running", "queued"):
                st.error(f"This run is {'still training' if target.status == 'running' else 'queued'}: "
                         "cancel it first.")
            else:
                runs.delete_run(target.path)
                st.session_state.pop("train_confirm_delete")
                st.rerun()
        if no.button("Keep it", key="train_delete_keep"):
            st.session_state.pop("train_confirm_delete")
            st.rerun()
