"""The shared figures (ui/charts.py, ui/grid.py): a confusion click read back from what the browser sends,
readable cell numbers, histogram panels that leave room for titles and ticks, names shown as typed, and
the clickable grid's markers on its images.

    python -m pytest -q tests/test_charts.py
"""
from __future__ import annotations

import numpy as np
import plotly.io as pio
from PIL import Image

from ui.charts import confusion_cell, confusion_figure, histogram_grid, probability_bars, text_colors
from ui.grid import grid_figure, grid_size, image_centres, render_grid

NAMES = [str(k) for k in range(10)]


def test_a_clicked_cell_is_read_from_the_point_streamlit_gets():
    # What Streamlit 1.67 hands the page for a click with plotly 7.1 (typed arrays: customdata as an object).
    point = {"curve_number": 0, "point_number": 35, "point_index": 35, "x": 5, "y": 3,
             "customdata": {"0": 3, "1": 5, "2": 12}, "text": "12", "legendgroup": ""}
    assert confusion_cell(point, 10) == (3, 5)
    assert confusion_cell({"x": 5, "y": 3}, 10) == (3, 5)  # without an index: its coordinates
    assert confusion_cell({"point_index": 100}, 10) is None and confusion_cell({}, 10) is None
    assert confusion_cell({"point_index": True, "x": "a", "y": 1}, 10) is None


def test_marker_i_of_the_figure_is_the_cell_divmod_i():
    confusion = np.arange(100).reshape(10, 10)
    trace = confusion_figure(confusion, NAMES).data[0]
    for i in (0, 35, 99):
        true, pred = divmod(i, 10)
        assert (trace.y[i], trace.x[i], trace.customdata[i][2]) == (true, pred, confusion[true, pred])


def test_cell_numbers_contrast_with_their_cell():
    colors = text_colors("Blues", np.array([0.0, 0.3, 0.6, 0.8, 1.0]))
    assert colors[:2] == ["#111111", "#111111"] and colors[-2:] == ["#ffffff", "#ffffff"]
    trace = confusion_figure(np.diag([900] * 10) + 3, NAMES).data[0]
    assert trace.textfont.color[0] == "#ffffff" and trace.textfont.color[1] == "#111111"  # dark diagonal


def test_histogram_panels_leave_room_for_titles_and_tick_labels():
    labels = np.repeat(np.arange(10), 20)
    probs = np.random.default_rng(0).dirichlet(np.ones(10), size=200)
    fig = histogram_grid(probs, labels, NAMES, 0.5)
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    below = fig.layout.yaxis6.domain[1]  # the second row's top
    above = fig.layout.yaxis.domain[0]  # the first row's bottom, where its x tick labels hang
    assert (above - below) * plot_px >= 55  # tick labels (~20 px) and the title (~20 px) fit between them
    assert fig.layout.xaxis2.domain[0] - fig.layout.xaxis.domain[1] >= 0.05  # log-axis ticks beside panels


def test_class_names_are_shown_as_typed_in_figures():
    names = ["<a href='http://x'>cat</a>", "<b>dog</b>"]
    bars = probability_bars(np.array([0.4, 0.6]), names)
    assert list(bars.data[0].x) == ["&lt;a href='http://x'&gt;cat&lt;/a&gt;", "&lt;b&gt;dog&lt;/b&gt;"]
    assert "<b>" not in pio.to_json(confusion_figure(np.ones((2, 2), dtype=int), names))


def test_grid_markers_sit_on_their_images():
    n = 7
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[4] = 255  # one white image: its centre pixel is white in the picture
    picture = render_grid(images, [str(i) for i in range(n)])
    assert picture.size == grid_size(n)
    xs, ys = image_centres(n)
    assert picture.getpixel((xs[4], ys[4])) == (255, 255, 255) and picture.getpixel((xs[3], ys[3])) == (0, 0, 0)
    fig = grid_figure(b"png", [f"#{i}" for i in range(n)], shown_width=310)
    assert (fig.layout.width, fig.layout.height) == (310, round(310 * picture.size[1] / picture.size[0]))
    assert list(fig.data[0].x) == xs and fig.layout.hoverdistance == -1
    assert isinstance(picture, Image.Image)
