"""The Review page's last sections: "Retrain with the corrections" (one button: a new run with the same config
plus the labels this review corrected) and the before / after view of a run and its retraining on the same test
images: accuracy, per-class accuracy and the test images whose prediction changed.

    streamlit run app.py, then Review: give "Label is wrong" verdicts, press "Retrain with the corrections"
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core.compare import prediction_changes
from mnist_core.config import ConfigError
from mnist_core.data import DataError
from mnist_core.quotas import QuotaError
from mnist_core.review.corrections import CorrectionsError
from mnist_core.review.retrain import before_and_after, new_corrections, retrain, retrain_partners
from mnist_core.review.store import ReviewStore, ReviewStoreError
from mnist_core.runs import RunStoreError
from ui import identity, state
from ui.grid import GREEN, GREY, RED, grid_png
from ui.text import md_escape

MESSAGE_KEY = "review_retrain_message"


def retrain_section(view: state.RunView, store: ReviewStore) -> None:
    """The button, with what it will correct; the new run trains in the background (see Train)."""
    st.subheader("Retrain with the corrections")
    info = view.info
    try:
        new = new_corrections(info, store.history(info.run_id, split=None))
    except (CorrectionsError, ReviewStoreError) as exc:
        st.error(f"Cannot retrain this run with its corrections: {md_escape(exc)}")
        return
    n_train = sum(split == "train" for split, _ in new)
    st.caption(f"This review corrected {n_train} training and {len(new) - n_train} test labels beyond what run "
               f"{md_escape(info.run_id)} trained with. Retraining makes a new run with the same config and "
               "these corrections (training labels change what the model learns; test labels what it is scored "
               "on); the before / after view below compares the two once it has finished.")
    message = st.session_state.pop(MESSAGE_KEY, None)
    if message:
        (st.error if message[0] == "error" else st.success)(md_escape(message[1]))
    if identity.require_login("start a training run", key="review_retrain_login"):
        st.button("Retrain with the corrections", key="review_retrain", type="primary", disabled=not new,
                  on_click=_retrain, args=(info, store))


def _retrain(info, store: ReviewStore) -> None:
    """Button callback: the verdicts as they stand now (another reviewer may have added some), then the run."""
    try:
        run_dir = retrain(info, store.history(info.run_id, split=None), state.runs_dir(), state.data_dir(),
                          owner=identity.email())
    except (CorrectionsError, ConfigError, QuotaError, ReviewStoreError, ValueError, OSError) as exc:
        st.session_state[MESSAGE_KEY] = ("error", f"Not retrained: {exc}")
        return
    st.session_state[MESSAGE_KEY] = ("ok", f"Started run {run_dir.name} with the corrected labels: watch it on "
                                           "Train; it appears below when it has finished.")


def before_after_section(view: state.RunView) -> None:
    """This run against one of its retrainings (or the run it retrains), on the after run's test labels."""
    st.subheader("Before / after retraining")
    partners = retrain_partners(view.info, state.finished_runs())
    if not partners:
        st.caption("No finished run differs from this one in its label corrections only: retrain with the "
                   "corrections above, and the two are compared here.")
        return
    by_id = {p.run_id: p for p in partners}
    chosen = st.selectbox("Compare with", list(by_id), key="review_after",
                          format_func=lambda run_id: state.run_label(by_id[run_id]))
    try:
        other = state.cached_run_view(str(by_id[chosen].path), (by_id[chosen].path / "model.pt").stat().st_mtime,
                                      str(state.data_dir()))
    except (RunStoreError, DataError, OSError) as exc:
        st.error(f"Run {md_escape(chosen)} cannot be shown: {md_escape(exc)}")
        return
    before, after = (view, other) if before_and_after(view.info, other.info)[0] is view.info else (other, view)
    if before.probs.shape != after.probs.shape:
        st.warning("The two runs were scored on different test sets or class counts: nothing to compare.")
        return
    labels = after.labels
    out = prediction_changes(before.probs, after.probs, labels)
    relabelled = int((before.labels != labels).sum())
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Before ({before.info.run_id})", f"{out['accuracy'][0]:.2%}")
    c2.metric(f"After ({after.info.run_id})", f"{out['accuracy'][1]:.2%}",
              delta=f"{(out['accuracy'][1] - out['accuracy'][0]) * 100:+.2f} points")
    c3.metric("Predictions changed", f"{len(out['changed'])}",
              help=f"{len(out['fixed'])} now right, {len(out['broken'])} now wrong, the rest wrong both times.")
    if relabelled:
        st.caption(f"{relabelled} test labels were corrected for the after run: both runs are scored on the "
                   "corrected labels, so the difference is the model's.")
    names = view.class_names
    table = pd.DataFrame({"class": names, "before": out["per_class"][0], "after": out["per_class"][1]})
    table["change"] = table["after"] - table["before"]
    st.dataframe(table.style.format({"before": "{:.2%}", "after": "{:.2%}", "change": "{:+.2%}"}, na_rep="—"),
                 hide_index=True, width="stretch", key="review_before_after_table")
    shown = out["changed"][:25]
    if not len(shown):
        st.caption("No test image changed its predicted class.")
        return
    was, now = before.predicted[shown], after.predicted[shown]
    titles = [f"#{i}: {names[b]} -> {names[a]}" for i, b, a in zip(shown, was, now, strict=True)]
    colors = [GREEN if a == y else RED if b == y else GREY for a, b, y in zip(now, was, labels[shown], strict=True)]
    st.image(grid_png(after.images[shown], titles, colors),
             caption=f"Test images whose prediction changed (#index: before -> after; green: now right, red: now "
                     f"wrong, grey: wrong both times) · first {len(shown)} of {len(out['changed'])}")
