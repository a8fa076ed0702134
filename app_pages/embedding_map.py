"""Map page: the selected run's images as a 2D map of their embeddings (UMAP of the penultimate layer), coloured
by given label with suspects ringed; a box or lasso selection shows the selected images as a 5x5 grid, and a
click on one opens it in the Review page. FiftyOne's embeddings panel is the model.

Part of the dashboard: `streamlit run app.py`, then Map. The view is in the URL: ?run=<id>&split=test|train.
The map is computed once per run by the training worker (map.npz); for an older run:
`python -m mnist_core.embedding_map --run runs/<run id>`.
"""
from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from mnist_core.embedding_map import MAP
from mnist_core.run_arrays import array_file
from ui.grid import GREEN, GREY, RED, clickable_grid, clicked_image, grid_png
from ui.map_view import SPLITS, cached_points, map_figure, selected_images
from ui.state import data_dir, require_run_view
from ui.text import md_escape
from ui.url import publish, restore

GRID = 25  # the notebook's 5x5

view = require_run_view()
names, info = view.class_names, view.info
st.header("Embedding map")
if restore("map_split", "split", options=list(SPLITS)) is not None:
    st.warning("split= in the link is not test or train; showing the test images.")
split = st.radio("Images", list(SPLITS), format_func=SPLITS.get, key="map_split", horizontal=True)
publish(split=split)

map_path = array_file(info.path, MAP)
if map_path is None:
    st.info(f"Run {md_escape(info.run_id)} has no embedding map yet. A run trained from the dashboard gets one "
            "from its worker right after training (allow a minute for 60,000 images); for a run trained before, "
            "or from the command line, compute it once with:")
    # The run folder by the server's setting, not its path: a visitor is not shown where the server keeps files.
    st.code(f"python -m mnist_core.embedding_map --run \"${{MNIST_RUNS_DIR:-runs}}/{info.run_id}\"", language="bash")
    st.stop()
points = cached_points(str(info.path), map_path.stat().st_mtime, split, str(data_dir()), view)
if isinstance(points, str):
    st.info(f"No map to show: {md_escape(points)}.")
    st.stop()

n = len(points.labels)
st.caption(f"{n:,} {SPLITS[split].lower()} · colour: given label · black rings: suspects (predicted as another "
           f"class, or a likely label issue: {int(points.suspect.sum()):,}) · drag a box, or pick the lasso in the "
           "chart's toolbar, to select images; double-click clears")
chart_key = f"map_chart_{split}"
figure = view.derived(("map_figure", split, map_path.stat().st_mtime), lambda: map_figure(points, names))
state = st.plotly_chart(figure, key=chart_key, on_select="rerun", selection_mode=("box", "lasso"),
                        config={"displayModeBar": True, "modeBarButtonsToRemove": ["toImage"]})
chosen = selected_images(state.selection if state else None, n)

if not len(chosen):
    st.info("Select points on the map (a box or a lasso) to see those images here.")
    st.stop()
# The most doubtful first: the lowest p(given label), so a lasso around a cluster's edge shows its suspects.
order = chosen[points.p_given[chosen].argsort(kind="stable")] if points.p_given is not None else chosen
shown = order[:GRID]
st.subheader(f"{len(chosen):,} images selected")
st.caption(f"showing {len(shown)}" + (", lowest p(given label) first" if points.p_given is not None else "")
           + " · click an image to open it in Review")
if points.predicted is not None:
    titles = [f"#{i}: {names[points.labels[i]]}, pred. {names[points.predicted[i]]}" for i in shown]
    colors = [GREEN if points.predicted[i] == points.labels[i] else RED for i in shown]
    hover = [f"{t} (p(given) {points.p_given[i]:.1%})" for i, t in zip(shown, titles, strict=True)]
else:
    titles = [f"#{i}: given {names[points.labels[i]]}" for i in shown]
    colors, hover = [GREY] * len(shown), titles
clickable_grid(grid_png(points.images[shown], titles, colors), shown.tolist(), hover, key="map_grid",
               shown_width=600)
opened = clicked_image("map_grid")
target = {"run": info.run_id, "image": str(opened), "split": split}
if opened is not None:
    try:
        st.switch_page("app_pages/review.py", query_params=target)
    except StreamlitAPIException:  # a page run on its own (AppTest.from_file): no Review page to switch to
        st.markdown(f"Open image #{opened} in **Review** (`?image={opened}&split={split}`).")
