"""Browser: one click on "Open in Network page" under an image on Predictions opens that image in the Network page;
on Draw, a drawing's attributions show on the page, and the same link opens the drawing in the Network page.

    python -m pytest tests/browser/test_network.py -q
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mnist_core import runs
from tests.browser.harness import draw, open_page, wait_idle

pytestmark = pytest.mark.browser


def test_an_image_from_predictions_opens_in_the_network_page(page, review_app, trained_run):
    probs, labels = runs.load_probs(trained_run.path)
    index = 7
    open_page(page, f"{review_app.url}/predictions?image={index}")
    expect(page.get_by_role("combobox", name="Inspect image")).to_have_value(f"#{index}: true {labels[index]}, "
                                                                             f"pred. {probs[index].argmax()} "
                                                                             f"({probs[index].max():.1%})")
    page.get_by_role("link", name="Open in Network page").click()
    expect(page.get_by_role("heading", name="Network", exact=True)).to_be_visible()
    wait_idle(page)
    predicted = f"predicted {probs[index].argmax()} (p = {probs[index].max():.1%})"
    caption = f"test image #{index}, given {labels[index]}: {predicted}"
    expect(page.get_by_text(caption)).to_be_visible()
    expect(page.get_by_role("spinbutton", name="Test image index")).to_have_value(str(index))
    assert f"index={index}" in page.url and f"run={trained_run.run_id}" in page.url
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_a_drawing_shows_its_attributions_and_opens_in_the_network_page(page, review_app):
    open_page(page, f"{review_app.url}/draw")
    draw(page, [(0.5, 0.15), (0.5, 0.85)])  # a 1
    expect(page.get_by_test_id("stMetric").filter(has_text="Prediction").get_by_test_id("stMetricValue")
           ).to_have_text("1")
    page.get_by_text("Why? Attributions of the prediction").click()
    expect(page.get_by_text("Class 1 (predicted)")).to_be_visible()
    page.get_by_role("link", name="Open in Network page").click()
    expect(page.get_by_role("heading", name="Network", exact=True)).to_be_visible()
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^your drawing: predicted 1 \(p = "))).to_be_visible()
    assert "source=drawing" in page.url
    expect(page.get_by_test_id("stException")).to_have_count(0)
