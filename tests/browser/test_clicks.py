"""Browser: clicks a person makes on the review pages, in Chromium against `streamlit run`: a confusion-matrix
cell filters the grid to exactly that cell's images; an image of a 5x5 grid opens large with its
probabilities; a review note holding a Markdown image (a tracking beacon on a local HTTP server) is shown to
two reviewers as text, and the beacon server receives no request.

    python -m pytest tests/browser/test_clicks.py -q
"""
from __future__ import annotations

import http.server
import re
import threading
from urllib.parse import quote

import numpy as np
import pytest
from playwright.sync_api import expect

from mnist_core.predict import evaluate
from mnist_core.review.browse import below_threshold, filter_images
from tests.browser.harness import AppServer, open_page, wait_idle
from ui.grid import grid_size, image_centres

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app(shared_data_dir, trained_runs_dir, tmp_path_factory):
    """The session's trained run, with a review database of this module's own."""
    root = tmp_path_factory.mktemp("clicks")
    with AppServer(shared_data_dir, trained_runs_dir, log_path=root / "streamlit.log",
                   env={"MNIST_REVIEW_DB": f"sqlite:///{root / 'reviews.db'}"}) as server:
        yield server


@pytest.fixture
def beacon():
    """A local HTTP server that records every request it gets (and answers with a 1x1 GIF)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/gif")
            self.end_headers()
            self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


def click_grid_image(page, key: str, position: int, n: int) -> None:
    """Click the centre of image `position` of the clickable grid `key` showing n images."""
    chart = page.locator(f".st-key-{key} .js-plotly-plot")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    width, height = grid_size(n)
    xs, ys = image_centres(n)
    page.mouse.click(box["x"] + xs[position] * box["width"] / width, box["y"] + ys[position] * box["height"] / height)


def test_a_confusion_cell_click_filters_the_grid_to_that_cell(page, app, outcomes):
    probs, labels = outcomes
    confusion = evaluate(probs, labels)["confusion"]
    off = confusion * (1 - np.eye(len(confusion), dtype=confusion.dtype))
    true, pred = np.unravel_index(int(off.argmax()), off.shape)  # the commonest mistake
    count = int(confusion[true, pred])
    assert count == len(filter_images(probs, labels, int(true), int(pred))) > 1
    open_page(page, f"{app.url}/predictions")
    cell = page.locator("[class*='st-key-pred_confusion'] path.point").nth(int(true) * 10 + int(pred))
    cell.scroll_into_view_if_needed()
    cell.click(force=True)  # force: the cell's number lies on top of its marker
    wait_idle(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="test images match")
    expect(caption).to_have_text(f"{count:,} of {len(labels):,} test images match; showing {min(count, 25)}.")
    expect(page.get_by_role("combobox", name="True class")).to_have_value(str(true))
    expect(page.get_by_role("combobox", name="Predicted class")).to_have_value(str(pred))
    expect(page.locator(".st-key-pred_grid path.point")).to_have_count(min(count, 25))  # one per image shown
    assert f"true={true}" in page.url and f"pred={pred}" in page.url and "page=1" in page.url

    cell = page.locator("[class*='st-key-pred_confusion'] path.point").nth(int(pred) * 10 + int(true))
    cell.scroll_into_view_if_needed()
    cell.click(force=True)  # a second click, on another cell, works too
    wait_idle(page)
    other = int(confusion[pred, true])
    expect(caption).to_have_text(f"{other:,} of {len(labels):,} test images match; showing {min(other, 25)}.")


def test_a_grid_image_click_opens_it_large_with_its_probabilities(page, app, outcomes):
    probs, labels = outcomes
    predicted = probs.argmax(1)
    wrong = filter_images(probs, labels, outcome="wrong")
    open_page(page, f"{app.url}/predictions?outcome=wrong")
    click_grid_image(page, "pred_grid", 7, 25)
    image = int(wrong[7])
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("stText")).to_have_text(
        f"Test image #{image}: true {labels[image]}, predicted {predicted[image]} ({probs[image].max():.1%})")
    big = dialog.get_by_test_id("stImage").locator("img")
    expect(big).to_be_visible()
    assert big.bounding_box()["width"] >= 250  # large: the grid shows it at about 90 px
    expect(dialog.locator(".js-plotly-plot .bars path")).to_have_count(10)  # one bar per class
    expect(page.get_by_role("combobox", name="Inspect image")).to_have_value(re.compile(rf"^#{image}: "))
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    open_page(page, f"{app.url}/probabilities?class=4&threshold=0.99")
    under = below_threshold(probs, labels, 4, 0.99)
    click_grid_image(page, "prob_grid", 0, min(25, len(under)))
    first = int(under[0])
    expect(dialog.get_by_test_id("stText")).to_contain_text(
        f"Test image #{first}: true 4, predicted {predicted[first]}, p(4) = {probs[first, 4]:.3f}")


def test_a_note_with_a_markdown_image_fetches_nothing_for_any_reviewer(chromium, app, beacon):
    url, hits = beacon
    note = f"![x]({url}/note.png) <img src='{url}/html.png'> see {url}/plain"
    pages = []
    for reviewer in ("alice", f"bob ![y]({url}/name.png)"):
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        pages.append(context.new_page())
        open_page(pages[-1], f"{app.url}/review?reviewer={quote(reviewer)}")
    alice, bob = pages
    alice.locator(".st-key-review_note input").fill(note)
    alice.locator(".st-key-review_note input").press("Enter")
    wait_idle(alice)
    image = int(alice.url.split("image=")[1].split("&")[0])
    alice.locator(".st-key-review_fine button").click()
    wait_idle(alice)
    alice.locator(".st-key-review_prev button").click()  # back to the judged image: her verdict and note show
    wait_idle(alice)
    mine = alice.get_by_test_id("stAlertContentSuccess")
    expect(mine).to_have_text(f"Your latest verdict: fine ({note})".replace("http", "http\u2060"))
    expect(mine.locator("a, img")).to_have_count(0)  # text, not a link or an image

    bob.locator(".st-key-review_fine button").click()  # bob judges the same image, with his odd name
    wait_idle(bob)
    open_page(alice, f"{app.url}/review?reviewer=alice&image={image}")
    open_page(bob, f"{app.url}/review?reviewer={quote('carol')}&image={image}")
    theirs = bob.get_by_test_id("stAlertContentInfo")
    expect(theirs).to_contain_text(f"bob ![y](http\u2060{url[4:]}/name.png)'s latest verdict: fine")
    expect(theirs.locator("a, img")).to_have_count(0)
    for p in (alice, bob):
        p.get_by_test_id("stExpander").filter(has_text="History of image").click()
        expect(p.get_by_test_id("stText").filter(has_text=note)).to_have_count(1)
        p.wait_for_timeout(1000)  # give any image a browser would load the time to ask for it
        p.screenshot(path=str(app.log_path.parent / f"review-{p is bob}.png"), full_page=True)
    assert hits == []
    for p in pages:
        p.context.close()
