"""Probabilities page: the notebook's histogram of p(class k | image) over the test images of true class k,
with a threshold; the images under it, lowest first; an overview of all classes; whether the probabilities are
calibrated (raw or temperature-scaled); and how they changed from epoch to epoch.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core.review.browse import below_threshold, page_count, page_of, threshold_table
from ui.calibration_view import calibration_section, history_section, shown_probs
from ui.charts import histogram_grid, move_threshold, probability_histogram
from ui.grid import GREEN, RED, clickable_grid, clicked_image, grid_png, image_dialog
from ui.state import require_run_view
from ui.text import md_escape
from ui.url import publish, restore

view = require_run_view()
names = view.class_names

restore("prob_class", "class", options=names)
restore("prob_threshold", "threshold", lambda v: min(1.0, max(0.0, round(float(v), 2))))
st.session_state.setdefault("prob_threshold", 0.5)


def _first_page() -> None:  # another class or threshold: the images under it from their first page
    st.session_state["prob_page"] = 1


st.header("Probabilities")
left, right = st.columns([1, 3])
name = left.selectbox("True class k", names, key="prob_class", on_change=_first_page)
threshold = right.slider("Threshold on p(k | image)", 0.0, 1.0, step=0.01, key="prob_threshold",
                         on_change=_first_page)
k = names.index(name)
probs, calibrated = shown_probs(view)
publish(**{"class": name, "threshold": f"{threshold:.2f}"})

# This session's figure for (run, k) is built once (Plotly validation is slow); a slider move only moves the line.
figure_key = (view.info.run_id, k, calibrated)
if st.session_state.get("prob_figure_key") != figure_key:
    st.session_state["prob_figure_key"] = figure_key
    st.session_state["prob_figure"] = probability_histogram(
        probs[view.labels == k, k], threshold,
        f"Probability that a true {name} belongs to class {name}, p(C{name} | data)")
st.plotly_chart(move_threshold(st.session_state["prob_figure"], threshold), key="prob_histogram")
under = below_threshold(probs, view.labels, k, threshold)
wrong = int((view.predicted[under] != k).sum())
shown_name = md_escape(name)  # class names of an imported dataset are user data: no Markdown
st.metric(f"True {shown_name}s under the threshold", f"{len(under)}", f"{wrong} of them misclassified",
          delta_color="off", delta_arrow="off")  # a count, not a change: no arrow
if len(under):
    pages = page_count(len(under))
    if st.session_state.get("prob_page", 1) > pages:  # e.g. another run selected: keep the widget in range
        st.session_state["prob_page"] = pages
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, key="prob_page") if pages > 1 else 1
    shown = page_of(under, page - 1)
    titles = [f"pred. {names[view.predicted[i]]}, p={probs[i, k]:.2f}" for i in shown]
    colors = [GREEN if view.predicted[i] == k else RED for i in shown]
    clickable_grid(grid_png(view.images[shown], titles, colors), shown.tolist(),
                   [f"#{i}: true {names[view.labels[i]]}, {t}" for i, t in zip(shown, titles, strict=True)],
                   key="prob_grid")
    st.caption("lowest p(k | image) first · red: misclassified · click an image to see it large")
    opened = clicked_image("prob_grid")
    if opened is not None:
        image_dialog(view.images[opened], f"Test image #{opened}: true {names[view.labels[opened]]}, predicted "
                     f"{names[view.predicted[opened]]}, p({name}) = {view.probs[opened, k]:.3f}", view.probs[opened],
                     names, k)
else:
    st.info(f"No true {shown_name} has p({shown_name} | image) below {threshold:.2f}.")

st.subheader("All classes")
table = pd.DataFrame(threshold_table(probs, view.labels, threshold))
table["class"] = names
st.dataframe(table, hide_index=True, key="prob_table")
if st.toggle("Show the histograms of every class (log scale)", key="prob_show_all"):
    st.plotly_chart(histogram_grid(probs, view.labels, names, threshold), key="prob_overview")
calibration_section(view)
history_section(view, k, name)
