"""App tests of the Network page on two real short runs (the notebook and the fast net, one epoch of the sample).

    OMP_NUM_THREADS=1 python -m pytest -q tests/test_page_network.py
"""
from __future__ import annotations

import numpy as np
import pytest
from apptest_helpers import all_text, open_app, table_with
from page_fixtures import make_finished_run

from mnist_core import runs
from mnist_core.network import layer_table
from ui.network_view import DRAWING_KEY

PAGE = "app_pages/network.py"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("network")
    data_dir, runs_dir = root / "data", root / "runs"
    notebook = make_finished_run(runs_dir, data_dir, epochs=1, seed=1)
    fast = make_finished_run(runs_dir, data_dir, epochs=1, seed=2, architecture="fast")
    return data_dir, runs_dir, notebook, fast


def open_page(lab, monkeypatch, session: dict | None = None, **params):
    return open_app(lab[0], lab[1], monkeypatch, PAGE, session, **params)


@pytest.mark.parametrize("which", [2, 3])
def test_layer_table_of_each_run(lab, monkeypatch, which):
    run_dir = lab[which]
    at = open_page(lab, monkeypatch, run=run_dir.name)
    model, _ = runs.load_checkpoint(run_dir / "model.pt")
    params = sum(p.numel() for p in model.parameters())
    mult_adds = sum(r["mult-adds"] for r in layer_table(model))
    assert f"{params:,} parameters · {mult_adds:,} multiply-adds per image" in all_text(at)
    table = table_with(at, "mult-adds")
    assert table["parameters"].sum() == params


def test_image_from_the_url_with_predicted_and_given_class(lab, monkeypatch):
    run_dir = lab[2]
    probs, labels = runs.load_probs(run_dir)
    wrong = int(np.flatnonzero(probs.argmax(1) != labels)[0])
    at = open_page(lab, monkeypatch, run=run_dir.name, index=str(wrong))
    assert at.number_input(key="net_index").value == wrong
    given, predicted = int(labels[wrong]), int(probs[wrong].argmax())
    text = all_text(at)
    assert f"test image #{wrong}, given {given}: predicted {predicted} (p = {probs[wrong].max():.1%})" in text
    assert f"Class {predicted}** (predicted)" in text and f"Class {given}** (given label)" in text
    assert "conv1** · 6 channels of 24 x 24" in text and "conv2** · 12 channels of 8 x 8" in text
    at.number_input(key="net_index").set_value(5).run()
    assert at.query_params["index"] == "5"


@pytest.mark.parametrize("raw", ["1000", "-3", "abc"])
def test_index_out_of_range_in_the_url_says_so(lab, monkeypatch, raw):
    at = open_page(lab, monkeypatch, run=lab[2].name, index=raw)
    assert at.warning and f"Image index '{raw}' from the link is not a test image" in at.warning[0].value
    assert "1,000 test images, 0 to 999" in at.warning[0].value
    assert at.number_input(key="net_index").value == 0


def test_the_drawing_from_the_draw_page(lab, monkeypatch):
    drawing = np.zeros((28, 28), dtype=np.uint8)
    drawing[4:24, 13:16] = 255  # a one
    at = open_page(lab, monkeypatch, session={DRAWING_KEY: drawing}, run=lab[3].name, source="drawing")
    assert at.toggle(key="net_use_drawing").value
    assert "your drawing: predicted" in all_text(at)
    assert "index" not in at.query_params


def test_no_drawing_yet(lab, monkeypatch):
    at = open_page(lab, monkeypatch, run=lab[3].name, source="drawing")
    assert "No drawing in this session yet" in all_text(at)
