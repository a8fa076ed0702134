"""Tests for the Draw page (app_pages/draw.py) with Streamlit's AppTest, and for what it renders with.

AppTest cannot draw on a custom component, so the page's handling of image data is tested through the
function it calls (mnist_core.draw.predict_drawing) with the run's own checkpoint; a real browser test drives
the mouse on the canvas.

    python -m pytest -q tests/test_page_draw.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fake_run import make_fake_run
from streamlit.testing.v1 import AppTest

from mnist_core import runs
from mnist_core.draw import predict_drawing
from mnist_core.predict import predict_proba
from ui.charts import probability_bars

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "draw.py")


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    """A runs folder holding one finished (fake) run: an untrained notebook net is all the Draw page needs."""
    folder = tmp_path_factory.mktemp("runs")
    make_fake_run(folder, labels=np.arange(100) % 10)  # the Draw page never loads the test set
    return folder


def run_page(monkeypatch, runs_dir: Path) -> AppTest:
    monkeypatch.setenv("MNIST_RUNS_DIR", str(runs_dir))
    return AppTest.from_file(PAGE).run(timeout=60)


def test_without_a_run_the_page_says_so_and_links_to_train(monkeypatch, tmp_path):
    at = run_page(monkeypatch, tmp_path)
    assert not at.exception
    assert "No trained model yet" in at.info[0].value
    assert "Open **Train**" in at.markdown[0].value  # st.page_link only links to pages st.navigation registered
    assert not at.get("bidi_component") and not at.slider  # stopped before the canvas


def test_with_a_run_the_page_shows_the_canvas_and_asks_for_a_digit(monkeypatch, runs_dir):
    at = run_page(monkeypatch, runs_dir)
    assert not at.exception and not at.error
    run_id = runs.list_runs(runs_dir)[0].run_id
    assert run_id in at.caption[0].value
    assert [e.key for e in at.main if getattr(e, "key", None) == "draw_canvas_0"] == ["draw_canvas_0"]
    assert at.slider(key="draw_pen").value == 20
    assert [i.value for i in at.info] == ["Draw a digit in the black square."]


def test_clear_gives_a_fresh_canvas(monkeypatch, runs_dir):
    at = run_page(monkeypatch, runs_dir)
    at.button(key="draw_clear").click().run(timeout=60)
    assert not at.exception
    keys = [e.key for e in at.main if getattr(e, "key", "") and e.key.startswith("draw_canvas_")]
    assert keys == ["draw_canvas_1"]


def test_the_runs_model_reads_what_the_canvas_sends(runs_dir):
    model, meta = runs.load_checkpoint(runs.list_runs(runs_dir)[0].path / "model.pt")
    assert predict_drawing(model, None, meta["mean"], meta["std"]) is None  # before the first stroke
    blank = np.zeros((280, 280, 4), dtype=np.uint8)
    assert predict_drawing(model, blank, meta["mean"], meta["std"]) is None
    stroke = blank.copy()
    stroke[40:240, 130:150] = 255
    result = predict_drawing(model, stroke, meta["mean"], meta["std"])
    assert result.image.shape == (28, 28) and result.probs.shape == (len(meta["class_names"]),)
    # normalised with the run's own mean/std, through the one prediction primitive
    expected = predict_proba(model, torch.from_numpy(result.image)[None], meta["mean"], meta["std"])[0]
    np.testing.assert_allclose(result.probs, expected.numpy(), rtol=1e-5)


def test_the_probability_chart_names_every_class_and_highlights_the_prediction():
    names = ["cat", "dog", "owl"]  # an imported dataset's class names, as the run's metadata has them
    bar = probability_bars(np.array([0.2, 0.7, 0.1], dtype=np.float32), names, highlight=1).data[0]
    assert list(bar.x) == names and np.allclose(bar.y, [0.2, 0.7, 0.1])
    assert bar.marker.color[1] != bar.marker.color[0] == bar.marker.color[2]
