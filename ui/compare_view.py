"""The Compare page's figures and tables: overlaid learning curves, config differences, per-class accuracy, and
the disagreement grids of two runs. Arithmetic lives in mnist_core/compare.py.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from mnist_core import runs
from mnist_core.compare import config_differences, disagreement, epoch_curve
from mnist_core.predict import evaluate
from ui.grid import GREEN, grid_png
from ui.state import RunView


def memo(key, build):
    """This session's figures and tables for a selection of runs, built once (make_subplots alone costs ~50 ms
    a rerun); at most 8 selections are kept."""
    store = st.session_state.setdefault("compare_memo", {})
    if key not in store:
        if len(store) >= 8:
            store.clear()
        store[key] = build()
    return store[key]


def curves_figure(views: list[RunView], x: str) -> go.Figure:
    """Train and test loss (left) and test accuracy (right) of every run, against epoch or wall time (s)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "test accuracy"))
    for i, view in enumerate(views):
        curve = view.derived("epoch_curve", lambda v=view: epoch_curve(runs.read_events(v.info.path)))
        color = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"][i % 4]
        xs = curve[x]
        fig.add_trace(go.Scatter(x=xs, y=curve["train_loss"], name=f"{view.info.run_id} train loss",
                                 line=dict(color=color, dash="dot")), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=curve["test_loss"], name=f"{view.info.run_id} test loss",
                                 line=dict(color=color)), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=curve["test_accuracy"], name=f"{view.info.run_id} test accuracy",
                                 line=dict(color=color), showlegend=False), row=1, col=2)
    title = "epoch" if x == "epoch" else "wall time (s)"
    fig.update_xaxes(title_text=title)
    fig.update_yaxes(tickformat=".1%", row=1, col=2)
    fig.update_layout(height=380, margin=dict(t=40), legend=dict(orientation="h", y=-0.25))
    return fig


def config_table(views: list[RunView]) -> pd.DataFrame:
    rows = config_differences({v.info.run_id: v.info.config for v in views})
    return pd.DataFrame(rows)


def per_class_table(views: list[RunView]) -> pd.DataFrame:
    table = {"class": views[0].class_names}
    for view in views:
        metrics = view.derived("metrics", lambda v=view: evaluate(v.probs, v.labels))
        table[view.info.run_id] = metrics["per_class_accuracy"]
    frame = pd.DataFrame(table)
    frame.loc[len(frame)] = ["all", *(float(v.correct.mean()) for v in views)]
    return frame


def disagreement_section(a: RunView, b: RunView) -> None:
    out = a.derived(("disagreement", b.info.run_id), lambda: disagreement(a.probs, b.probs, a.labels))
    n_a, n_b = len(out["a_only"]), len(out["b_only"])
    verdict = ("a real difference (p < 0.05)" if out["p_value"] < 0.05 else
               "within noise: the test set cannot tell them apart (p >= 0.05)")
    st.markdown(f"**A** `{a.info.run_id}` {a.correct.mean():.2%} against **B** `{b.info.run_id}` "
                f"{b.correct.mean():.2%}: they disagree on {n_a + n_b} test images; A alone right on {n_a}, "
                f"B alone right on {n_b}. McNemar's exact test: p = {out['p_value']:.3g}, {verdict}.")
    names = a.class_names
    left, right = st.columns(2)
    for column, idx, right_view, wrong_view, title in ((left, out["a_only"], a, b, "A right, B wrong"),
                                                         (right, out["b_only"], b, a, "B right, A wrong")):
        column.markdown(f"**{title}** ({len(idx)})")
        shown = idx[:25]
        if not len(shown):
            column.caption("none")
            continue
        titles = [f"#{i}: {names[right_view.predicted[i]]} / {names[wrong_view.predicted[i]]}" for i in shown]
        column.image(grid_png(a.images[shown], titles, [GREEN] * len(shown)),
                     caption="#index: right prediction / wrong prediction · first 25")
