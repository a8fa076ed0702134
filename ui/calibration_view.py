"""The Probabilities page's calibration and history sections: the reliability diagram (raw and calibrated), the
metrics, the calibrated/raw switch, and the test probabilities after each epoch.

Everything is computed once per run (RunView.derived) from files the run keeps (mnist_core/run_probs.py).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from mnist_core import run_probs
from mnist_core.calibration import apply_temperature, calibration_report, reliability_bins
from mnist_core.history import prediction_changes
from ui.charts import probability_histogram
from ui.grid import GREEN, RED, grid_png
from ui.state import RunView
from ui.url import publish, restore

HOW_TO_VALIDATE = ("This run has no validation split, so no temperature was fitted. Train with **Validation images** "
                   "on the Train page (or `python -m mnist_core.train --validation 5000`) to calibrate it.")


def temperature(view: RunView) -> float | None:
    return view.derived("temperature", lambda: run_probs.load_temperature(view.info.path))


def shown_probs(view: RunView) -> tuple[np.ndarray, bool]:
    """The switch 'Calibrated probabilities' (in the URL as ?calibrated=1), and the probabilities it selects:
    temperature-scaled where the run has a temperature, else the raw ones."""
    t = temperature(view)
    restore("prob_calibrated", "calibrated", lambda v: v == "1")
    calibrated = st.toggle("Calibrated probabilities (temperature scaling)", key="prob_calibrated", disabled=t is None,
                           help=f"Divide the logits by T = {t:.3f}, fitted on the validation split." if t else
                           "Needs a run trained with a validation split.")
    publish(calibrated="1" if calibrated else None)
    if calibrated and t is not None:
        return view.derived(("calibrated", t), lambda: apply_temperature(view.probs, t)), True
    return view.probs, False


def reliability_figure(probs: np.ndarray, labels: np.ndarray, t: float | None) -> go.Figure:
    """Accuracy against mean confidence per 15-bin bin, raw and (with t) calibrated; counts on hover and as text."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#888"),
                               name="perfectly calibrated"))
    series = [("raw", probs, "#4c78a8")] + ([(f"calibrated (T = {t:.2f})", apply_temperature(probs, t), "#f58518")]
                                            if t is not None else [])
    for name, p, color in series:
        bins = reliability_bins(p, labels)
        filled = bins["count"] > 0
        fig.add_trace(go.Scatter(
            x=bins["confidence"][filled], y=bins["accuracy"][filled], mode="lines+markers", name=name,
            marker=dict(color=color, size=np.clip(np.sqrt(bins["count"][filled]), 6, 24)),
            customdata=bins["count"][filled], hovertemplate="confidence %{x:.3f}, accuracy %{y:.3f}: "
                                                            "%{customdata} images<extra></extra>"))
    fig.update_layout(title="Reliability diagram (15 bins; marker size: images per bin)", height=420,
                      xaxis=dict(title="mean confidence (p of the predicted class)", range=[0, 1.02]),
                      yaxis=dict(title="accuracy", range=[0, 1.02]), margin=dict(t=40), legend=dict(x=0.02, y=0.98))
    return fig


def calibration_section(view: RunView) -> None:
    st.subheader("Are the probabilities right?")
    t = temperature(view)
    report = view.derived("calibration", lambda: calibration_report(view.probs, view.labels, t))
    left, right = st.columns([3, 2])
    left.plotly_chart(view.derived("reliability", lambda: reliability_figure(view.probs, view.labels, t)),
                      key="prob_reliability")
    rows = [("ECE (15 bins)", "ece"), ("MCE", "mce"), ("NLL", "nll"), ("Brier", "brier")]
    right.dataframe({"metric": [r[0] for r in rows], "raw": [report[k] for _, k in rows],
                     "calibrated": [report[f"{k}_scaled"] for _, k in rows]},
                    hide_index=True, key="prob_calibration_table")
    if t is None:
        right.info(HOW_TO_VALIDATE)
    else:
        verdict = "overconfident (T > 1 softens them)" if t > 1 else "underconfident (T < 1 sharpens them)"
        right.caption(f"Temperature T = {t:.3f}, fitted on the run's validation split (never on these test images): "
                      f"the raw probabilities were {verdict}.")


def history_section(view: RunView, k: int, name: str) -> None:
    """p(k | image) for the true k's after a chosen epoch, and the images whose prediction changed in between."""
    st.subheader("How training changed the model")
    loaded = view.derived("epoch_probs", lambda: run_probs.load_epoch_probs(view.info.path))
    if loaded is None or len(loaded[1]) != len(view.labels):
        st.info("This run did not keep its test probabilities after each epoch (runs trained before they were kept).")
        return
    per_epoch = view.derived("epoch_probs_np", lambda: loaded[0].astype(np.float32))
    epochs = len(per_epoch)
    if epochs < 2:
        st.caption("One epoch only: nothing changed between epochs.")
        return
    restore("prob_epoch", "epoch", int, options=list(range(1, epochs + 1)))
    epoch = st.slider("After epoch", 1, epochs, epochs, key="prob_epoch")
    fig = view.derived(("epoch_hist", epoch, k), lambda: probability_histogram(
        per_epoch[epoch - 1][view.labels == k, k], 0.5, f"p({name} | image) of the true {name}s after epoch {epoch}",
        height=300))
    st.plotly_chart(fig, key="prob_epoch_histogram")
    restore("prob_changed", "changed", lambda v: tuple(int(x) for x in v.split("-")))
    chosen = st.session_state.get("prob_changed")
    if not (isinstance(chosen, (tuple, list)) and len(chosen) == 2 and all(1 <= e <= epochs for e in chosen)):
        st.session_state["prob_changed"] = (1, epochs)  # a first visit, or a bad ?changed= in the URL
    first, second = st.slider("Predictions that changed between epochs", 1, epochs, key="prob_changed")
    publish(epoch=epoch, changed=f"{first}-{second}")
    out = view.derived(("changes", first, second), lambda: prediction_changes(per_epoch, view.labels, first - 1,
                                                                              second - 1))
    st.caption(f"{len(out['indices'])} test images changed their prediction from epoch {first} to {second}: "
               f"{out['fixed']} became right, {out['broken']} became wrong, {out['other']} wrong both times.")
    shown = out["indices"][:25]
    if len(shown):
        names = view.class_names
        titles = [f"#{i}: {names[a]} -> {names[b]}" for i, a, b in zip(shown, out["pred_first"], out["pred_second"],
                                                                       strict=False)]
        colors = [GREEN if b == view.labels[i] else RED for i, b in zip(shown, out["pred_second"], strict=False)]
        st.image(grid_png(view.images[shown], titles, colors),
                 caption=f"first 25 · green: right after epoch {second} · red: wrong")
