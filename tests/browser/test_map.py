"""Browser: on the Map page, dragging a box around one cluster of the embedding map (Playwright's mouse) selects
exactly its images and shows them as a 5x5 grid with the selected count; a lasso around half of it selects that
half; a click on an image opens it in Review.

    python -m pytest tests/browser/test_map.py -q
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from mnist_core import runs
from mnist_core.data import load_dataset
from mnist_core.run_arrays import save_arrays
from tests.browser.harness import SCREENSHOTS, AppServer, open_page, wait_idle
from tests.fake_run import make_fake_run

pytestmark = pytest.mark.browser
CLUSTER = (-10.0, 0.0)  # the test images labelled 3 sit near here, in two blobs 3 above and 3 below; the rest at x >= 5


@pytest.fixture(scope="module")
def map_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("map")
    labels = load_dataset("mnist-sample").test_labels.numpy()
    run_dir = make_fake_run(root / "runs", labels=labels, run_id="20260101-000000-map1")
    rng = np.random.default_rng(0)
    xy = np.column_stack([rng.uniform(5, 20, len(labels)), rng.uniform(-8, 8, len(labels))])
    threes = np.flatnonzero(labels == 3)
    xy[threes] = np.array(CLUSTER) + rng.uniform(-0.5, 0.5, size=(len(threes), 2))
    xy[threes[1::2], 1] += 3  # the upper blob: every second 3
    xy[threes[0::2], 1] -= 3
    save_arrays(run_dir, "map", test=xy.astype(np.float32))
    with AppServer(root / "data", root / "runs", log_path=root / "streamlit.log") as server:
        yield server, run_dir, threes


def _screen(page, x: float, y: float) -> tuple[float, float]:
    """Page pixels of data point (x, y) on the map (plotly's own axis conversion)."""
    return page.evaluate("""([x, y]) => {
        const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
        const l = gd._fullLayout, box = gd.getBoundingClientRect();
        return [box.left + l._size.l + l.xaxis.d2p(x), box.top + l._size.t + l.yaxis.d2p(y)];
    }""", [x, y])


def test_a_box_around_a_cluster_shows_its_images_as_a_grid(page, map_app):
    server, run_dir, threes = map_app
    open_page(page, f"{server.url}/map?run={run_dir.name}")
    expect(page.get_by_text("Select points on the map")).to_be_visible()
    page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').wait_for()
    start, end = _screen(page, CLUSTER[0] - 2, CLUSTER[1] + 4.5), _screen(page, CLUSTER[0] + 2, CLUSTER[1] - 4.5)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=5)
    page.mouse.move(*end, steps=5)
    page.mouse.up()
    expect(page.get_by_role("heading", name=f"{len(threes)} images selected")).to_be_visible()
    grid = page.locator(".st-key-map_grid")
    expect(grid).to_be_visible()
    expect(page.get_by_text("showing 25, lowest p(given label) first")).to_be_visible()
    grid.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "map-selected-grid.png"))
    assert "split=test" in page.url

    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_test_id("stMain").evaluate("m => m.scrollTo(0, 0)")
    page.mouse.dblclick(*_screen(page, -2.0, 0.0))  # on empty ground: clears the selection, as the caption says
    expect(page.get_by_text("Select points on the map")).to_be_visible()
    wait_idle(page)
    page.locator('.modebar-btn[data-title="Lasso Select"]').click()  # the lasso: an octagon round the upper blob
    corners = [_screen(page, CLUSTER[0] + 1.5 * np.cos(a), CLUSTER[1] + 3 + 1.5 * np.sin(a))
               for a in np.linspace(0, 2 * np.pi, 9)]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for corner in corners[1:]:
        page.mouse.move(*corner, steps=4)
    page.mouse.up()
    expect(page.get_by_role("heading", name=f"{len(threes[1::2])} images selected")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "map-lasso.png"))
    upper = threes[1::2]
    probs, labels = runs.load_probs(run_dir)
    first = upper[np.argsort(probs[upper, labels[upper]], kind="stable")[0]]  # the grid's first: lowest p(given)
    grid.scroll_into_view_if_needed()

    box = grid.locator(".js-plotly-plot").bounding_box()  # top left: the first image
    page.mouse.click(box["x"] + box["width"] / 10, box["y"] + box["height"] / 10)
    expect(page).to_have_url(re.compile(r"/review\?.*image=\d+"))
    assert int(re.search(r"image=(\d+)", page.url).group(1)) == first
    expect(page.get_by_role("heading", name="Review labels")).to_be_visible()
