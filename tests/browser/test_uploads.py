"""Browser: hostile uploads through the real file inputs. A server's environment (with a password) uploaded as
label corrections on the Train page is refused and none of it reaches the page; a good corrections file is kept
and picked; a .pt that is not a model says so on the Data page, never suggesting an unsafe load.

    python -m pytest tests/browser/test_uploads.py -q
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.harness import AppServer, nav_links, open_page, wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def empty_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("uploads")
    with AppServer(root / "data", root / "runs", log_path=root / "streamlit.log") as server:
        yield server


def set_file(page, uploader_text: str, path) -> None:
    page.get_by_test_id("stFileUploader").filter(has_text=uploader_text).locator("input[type=file]") \
        .set_input_files(str(path))
    wait_idle(page)


def test_corrections_upload_refuses_a_server_file_and_keeps_a_good_one(page, empty_app, tmp_path):
    environ = tmp_path / "environ.csv"
    environ.write_bytes(b"HOME=/root\0REVIEW_DB_PASSWORD=hunter2-s3cret\0")
    good = tmp_path / "fixes.csv"
    good.write_text("dataset,split,index,label\nmnist-sample,test,3,1\nmnist-sample,train,10,2\n")
    open_page(page, empty_app.url)
    expect(page.get_by_text("Data: mnist-sample · 4,000 training and 1,000 test images")).to_be_visible()
    assert page.get_by_role("textbox", name="Label corrections").count() == 0  # no path field
    set_file(page, "Label corrections", environ)
    expect(page.get_by_test_id("stAlert").filter(has_text="line 1 must be the header")).to_be_visible()
    assert "hunter2" not in page.content() and "HOME=" not in page.content()
    set_file(page, "Label corrections", good)
    expect(page.get_by_role("combobox", name="Corrected labels for mnist-sample")).to_have_value(
        re.compile(r"^2 corrected labels, added "))


def test_a_pt_that_is_not_a_model_says_so(page, empty_app, tmp_path):
    junk = tmp_path / "notes.pt"
    junk.write_bytes(b"\x80\x02}q\x00.")  # a bare pickle: torch's own error would advise weights_only=False
    open_page(page, empty_app.url)
    open_page(page, nav_links(page)["Data"])
    set_file(page, "Add a model file", junk)
    page.get_by_role("button", name="Add as run").click()
    wait_idle(page)
    expect(page.get_by_test_id("stAlert").filter(has_text="Not an MNIST Lab model file")).to_be_visible()
    assert "weights_only" not in page.content()
