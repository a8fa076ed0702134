"""Browser: strokes drawn with the mouse on the Draw page's canvas give a prediction, and one vertical
stroke is read as a 1 (by the session's model, trained for one epoch on real MNIST).

The canvas is not in an iframe but in the page's own DOM (a components-v2 shadow root): see harness.draw.

    python -m pytest tests/browser/test_draw.py -q
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.harness import draw, open_page

pytestmark = pytest.mark.browser


def prediction(page):
    return page.get_by_test_id("stMetric").filter(has_text="Prediction")


def test_strokes_give_a_prediction_and_clear_resets(page, review_app):
    open_page(page, f"{review_app.url}/draw")
    expect(page.get_by_text("Draw a digit in the black square.")).to_be_visible()
    draw(page, [(0.25, 0.2), (0.75, 0.2), (0.4, 0.85)])  # a 7: the top bar, then the diagonal
    expect(prediction(page).get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^\d$"))
    expect(prediction(page).get_by_test_id("stMetricDelta")).to_have_text(re.compile(r"^p = \d+\.\d%$"))
    expect(page.get_by_test_id("stPlotlyChart")).to_be_visible()  # every class's probability
    expect(page.get_by_text("What the model sees")).to_be_visible()

    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_text("Draw a digit in the black square.")).to_be_visible()
    expect(prediction(page)).to_have_count(0)


def test_a_vertical_stroke_is_read_as_a_one(page, review_app):
    open_page(page, f"{review_app.url}/draw")
    draw(page, [(0.5, 0.15), (0.5, 0.85)])
    expect(prediction(page).get_by_test_id("stMetricValue")).to_have_text("1")
