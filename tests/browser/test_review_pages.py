"""Browser: the Predictions page pages through its grids and filters to the wrong predictions; on the
Probabilities page, moving the threshold slider changes the number of surfaced images.

    python -m pytest tests/browser/test_review_pages.py -q
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mnist_core.review.browse import below_threshold, filter_images, page_of
from tests.browser.harness import open_page

pytestmark = pytest.mark.browser


def test_predictions_pages_and_filters_to_wrong(page, review_app, outcomes):
    probs, labels = outcomes
    predicted = probs.argmax(1)
    n, wrong = len(labels), filter_images(probs, labels, outcome="wrong")
    open_page(page, f"{review_app.url}/predictions")
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="test images match")
    inspect = page.get_by_role("combobox", name="Inspect image")
    expect(caption).to_have_text(f"{n:,} of {n:,} test images match; showing 25.")
    expect(inspect).to_have_value(re.compile(r"^#0: "))

    page.get_by_test_id("stNumberInput").filter(has_text="Page").get_by_test_id("stNumberInputStepUp").click()
    second = page_of(filter_images(probs, labels), 1)[0]
    expect(inspect).to_have_value(re.compile(rf"^#{second}: true {labels[second]}, "))

    page.get_by_test_id("stRadioOption").filter(has_text="wrong").click()
    expect(caption).to_contain_text(f"{len(wrong):,} of {n:,} test images match")
    first = wrong[0]  # a new filter starts at its first page
    expect(inspect).to_have_value(re.compile(rf"^#{first}: true {labels[first]}, pred. {predicted[first]} "))
    expect(page.get_by_test_id("stNumberInput").filter(has_text="Page").locator("input")).to_have_value("1")
    assert "outcome=wrong" in page.url and "page=1" in page.url


def test_probabilities_threshold_slider_changes_the_count(page, review_app, outcomes):
    probs, labels = outcomes
    open_page(page, f"{review_app.url}/probabilities")
    metric = page.get_by_test_id("stMetricValue")
    expect(metric).to_have_text(str(len(below_threshold(probs, labels, 0, 0.5))))
    slider = page.get_by_role("slider", name="Threshold on p(k | image)")
    counts = {}
    for key, threshold in (("End", 1.0), ("ArrowLeft", 0.99), ("Home", 0.0)):
        slider.press(key)
        expect(page.get_by_test_id("stSliderThumbValue")).to_have_text(f"{threshold:.2f}")
        counts[threshold] = len(below_threshold(probs, labels, 0, threshold))
        expect(metric).to_have_text(str(counts[threshold]))
    assert counts[0.0] == 0 < counts[0.99] <= counts[1.0]
    expect(page.get_by_text("No true 0 has p(0 | image) below 0.00.")).to_be_visible()
    assert "threshold=0.00" in page.url
