"""Browser: the Review page on the training split of a cross-validated run: ?split=train opens the most suspicious
training image, "Label is wrong" records a verdict on it (split train) and moves on, and the split radio goes
back to the test images. Its screenshot (test-artifacts/screenshots/) is the page on the training split.

    python -m pytest tests/browser/test_review_train.py -q
"""
from __future__ import annotations

import numpy as np
import pytest
from fake_run import add_oof_probs, make_fake_run
from playwright.sync_api import expect

from mnist_core.data import load_dataset
from mnist_core.review.store import ReviewStore, default_db_url
from tests.browser.harness import AppServer, open_page

pytestmark = pytest.mark.browser
FLIPPED = [11, 42]  # training images whose out-of-fold probabilities favour another class


@pytest.fixture(scope="module")
def cv_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("review-train")
    dataset = load_dataset("mnist-sample")
    train = dataset.train_labels.numpy()
    run_dir = make_fake_run(root / "runs", labels=dataset.test_labels.numpy(), run_id="20250101-000000-cv")
    logits = np.random.default_rng(0).normal(size=(len(train), 10))
    logits[np.arange(len(train)), train] += 5.0
    for rank, i in enumerate(FLIPPED):
        logits[i] = 0.0
        logits[i, train[i]], logits[i, (train[i] + 1) % 10] = -8.0 + rank, 8.0
    add_oof_probs(run_dir, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), train)
    with AppServer(root / "data", root / "runs", log_path=root / "streamlit.log") as server:
        server.run_dir, server.train = run_dir, train
        yield server


def test_a_verdict_on_a_training_image_in_the_browser(page, cv_app):
    open_page(page, f"{cv_app.url}/review?split=train&reviewer=ada")
    expect(page.get_by_text(f"Training image {FLIPPED[0]} (1 of 4000)")).to_be_visible()
    page.get_by_role("button", name="Label is wrong").click()
    expect(page.get_by_text(f"Training image {FLIPPED[1]} (2 of 4000)")).to_be_visible()
    [v] = ReviewStore(default_db_url(cv_app.runs_dir)).history(cv_app.run_dir.name, split="train")
    assert (v.index, v.corrected_label, v.reviewer) == (FLIPPED[0], (cv_app.train[FLIPPED[0]] + 1) % 10, "ada")
    expect(page.get_by_role("button", name="Retrain with the corrections")).to_be_enabled()
    page.get_by_text("Test images", exact=True).click()
    expect(page.get_by_text("Test image ", exact=False).first).to_be_visible()
    page.get_by_text("Training images", exact=True).click()  # the screenshot: the training split
    expect(page.get_by_text(f"Training image {FLIPPED[1]} (2 of 4000)")).to_be_visible()
    assert "split=train" in page.url
