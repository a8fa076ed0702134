"""Predictions page: the test set as 5x5 grids ("True X, pred. Y"), filtered, sorted and paged; one image
large with its class probabilities; accuracy, per-class accuracy and a clickable confusion matrix.
"""
from __future__ import annotations

import streamlit as st

from mnist_core.predict import evaluate
from mnist_core.review.browse import OUTCOMES, SORTS, filter_images, page_count, page_of
from ui.charts import accuracy_bars, confusion_cell, confusion_figure, probability_bars
from ui.grid import GREEN, RED, clickable_grid, clicked_image, enlarge, grid_png, image_dialog
from ui.state import require_run_view
from ui.url import open_in_network, publish, restore

view = require_run_view()
names = view.class_names
ANY = "any"
GRID_WIDTH = 480  # px: the grid's column on a 1280 px wide window
choices = [ANY] + names


def _select_cell() -> None:  # runs before the script: may set the filter widgets' values
    points = st.session_state[_confusion_key()].selection.points
    cell = confusion_cell(points[0], len(names)) if points else None
    if cell is not None:
        true, pred = cell
        st.session_state.update(pred_true=names[true], pred_pred=names[pred], pred_outcome="all", pred_page=1,
                                pred_confusion_clicks=st.session_state.get("pred_confusion_clicks", 0) + 1)


def _confusion_key() -> str:
    """A new chart after each click: Plotly would dim every other cell while one is selected, and a selected
    cell could not be clicked again (a second click deselects it)."""
    return f"pred_confusion_{st.session_state.get('pred_confusion_clicks', 0)}"


def _first_page() -> None:  # a new filter or order: its first page, not the old page number
    st.session_state["pred_page"] = 1


def _inspect(image: int) -> None:  # a grid click also shows the image in the panel beside the grid
    st.session_state["pred_image"] = image


for key, param, opts in [("pred_true", "true", choices), ("pred_pred", "pred", choices),
                         ("pred_outcome", "outcome", OUTCOMES), ("pred_sort", "sort", SORTS)]:
    restore(key, param, options=opts)
restore("pred_page", "page", int)

st.header("Predictions")
c1, c2, c3, c4 = st.columns(4)
true_name = c1.selectbox("True class", choices, key="pred_true", on_change=_first_page)
pred_name = c2.selectbox("Predicted class", choices, key="pred_pred", on_change=_first_page)
outcome = c3.radio("Show", OUTCOMES, key="pred_outcome", horizontal=True, on_change=_first_page)
sort = c4.selectbox("Order", SORTS, key="pred_sort", on_change=_first_page)
selected = filter_images(view.probs, view.labels, None if true_name == ANY else names.index(true_name),
                         None if pred_name == ANY else names.index(pred_name), outcome, sort)
pages = page_count(len(selected))
if st.session_state.get("pred_page", 1) > pages:
    st.session_state["pred_page"] = pages
page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, key="pred_page")
shown = page_of(selected, page - 1)
publish(true=true_name, pred=pred_name, outcome=outcome, sort=sort, page=page)

st.caption(f"{len(selected):,} of {len(view.labels):,} test images match; showing {len(shown)}.")
left, right = st.columns([3, 2])
if len(shown):
    titles = [f"True {names[view.labels[i]]}, pred. {names[view.predicted[i]]}" for i in shown]
    colors = [GREEN if view.correct[i] else RED for i in shown]
    with left:
        clickable_grid(grid_png(view.images[shown], titles, colors), shown.tolist(),
                       [f"#{i}: {t} ({view.confidence[i]:.1%})" for i, t in zip(shown, titles, strict=True)],
                       key="pred_grid", on_open=_inspect, shown_width=GRID_WIDTH)
        st.caption("green: correct · red: wrong · click an image to see it large")
    opened = clicked_image("pred_grid")
    if opened is not None:
        image_dialog(view.images[opened], f"Test image #{opened}: true {names[view.labels[opened]]}, predicted "
                     f"{names[view.predicted[opened]]} ({view.confidence[opened]:.1%})", view.probs[opened], names,
                     int(view.labels[opened]))
    restore("pred_image", "image", int, options=list(shown))
    image = right.selectbox("Inspect image", list(shown), key="pred_image",
                            format_func=lambda i: f"#{i}: true {names[view.labels[i]]}, pred. "
                                                  f"{names[view.predicted[i]]} ({view.confidence[i]:.1%})")
    publish(image=image)
    right.image(enlarge(view.images[image], 196))
    bars = view.derived(("probability_bars", image),
                        lambda: probability_bars(view.probs[image], names, highlight=int(view.labels[image])))
    right.plotly_chart(bars, key="pred_image_probs")
    open_in_network(view.info.run_id, int(image), right)
else:
    left.info("No test image matches these filters.")

metrics = view.derived("metrics", lambda: evaluate(view.probs, view.labels))
st.subheader(f"Accuracy {metrics['accuracy']:.2%} · {int((~view.correct).sum())} wrong")
a, b = st.columns(2)
a.plotly_chart(view.derived("accuracy_bars", lambda: accuracy_bars(metrics["per_class_accuracy"], names)),
               key="pred_accuracy")
b.plotly_chart(view.derived("confusion", lambda: confusion_figure(metrics["confusion"], names)),
               key=_confusion_key(), on_select=_select_cell, selection_mode="points")
b.caption("Click a cell to show exactly those images in the grid.")
