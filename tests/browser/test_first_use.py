"""Browser: a fresh server without the MNIST files (Streamlit Community Cloud's first start) preselects the
offline sample, says so while it downloads MNIST, and falls back with a clear warning when the download fails.

The download is held up by a local proxy that accepts connections and answers nothing until released, so
the spinner is on screen for as long as the test needs; then the proxy drops every connection.

    python -m pytest tests/browser/test_first_use.py -q
"""
from __future__ import annotations

import socket
import threading

import pytest
from playwright.sync_api import expect

from tests.browser.harness import SCREENSHOTS, AppServer, choose, open_page

pytestmark = pytest.mark.browser


class StallingProxy:
    """An HTTP(S) proxy on 127.0.0.1 that holds every connection silently until release(), then drops them."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.released, self.closed = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            if self.released.is_set():
                conn.close()
            else:
                self.held.append(conn)

    def release(self) -> None:
        self.released.set()
        for conn in self.held:
            conn.close()

    def close(self) -> None:
        self.release()
        self.closed.set()
        self.thread.join()
        self.server.close()


@pytest.fixture(scope="module")
def proxy():
    stalling = StallingProxy()
    yield stalling
    stalling.close()


@pytest.fixture(scope="module")
def fresh_app(proxy, tmp_path_factory):
    """An app with an empty data folder whose downloads go through the stalling proxy."""
    root = tmp_path_factory.mktemp("fresh")
    env = {"https_proxy": proxy.url, "http_proxy": proxy.url, "HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url,
           "no_proxy": "", "NO_PROXY": ""}
    with AppServer(root / "data", root / "runs", log_path=root / "streamlit.log", env=env) as server:
        yield server


def test_without_mnist_files_the_sample_is_preselected_and_a_failed_download_says_so(page, fresh_app, proxy):
    open_page(page, fresh_app.url)
    expect(page.get_by_role("combobox", name="Data source")).to_have_value("mnist-sample")
    expect(page.get_by_test_id("stExpander")).to_contain_text("mnist-sample · 4,000 training and 1,000 test images")

    choose(page, "Data source", "mnist")
    spinner = page.get_by_test_id("stSpinner")
    expect(spinner).to_contain_text(f"Downloading mnist into {fresh_app.data_dir / 'MNIST' / 'raw'}")
    expect(spinner).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "test_first_use-downloading.png"))

    proxy.release()
    warning = page.get_by_test_id("stAlertContentWarning")
    expect(warning).to_contain_text("Could not load 'mnist'")
    expect(warning).to_contain_text("downloading them failed")
    expect(warning).to_contain_text("mnist-sample data source (5,000 real MNIST digits) works offline")
    expect(spinner).to_have_count(0)
