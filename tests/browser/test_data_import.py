"""Browser: the Data page's import runs in a limited child process that Cancel stops at once, and that a closed
tab does not leave running (issue 17 item 5). The analysis is a server folder of 20,000 distinct PNGs inside
the allowed root (MNIST_IMPORT_ROOTS); the test finds the child under the server's multiprocessing fork server.

    python -m pytest tests/browser/test_data_import.py -q
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.harness import SCREENSHOTS, AppServer, open_page

pytestmark = pytest.mark.browser
FILES = 20_000
CPU_S = 8


@pytest.fixture(scope="module")
def import_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("import")
    rng = np.random.default_rng(0)
    for i in range(FILES):  # 40 ms of decoding each on a busy machine: long enough to cancel
        folder = root / "imports" / "many" / "ab"[i % 2]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"{i}.png", compress_level=0)
    env = {"MNIST_IMPORT_ROOTS": str(root / "imports"), "MNIST_IMPORT_CPU_SECONDS": str(CPU_S)}
    with AppServer(root / "data", root / "runs", log_path=root / "streamlit.log", env=env) as server:
        yield server


def analysis_children(server: AppServer) -> list[int]:
    """Pids of the live processes the server's multiprocessing fork server has forked (the analyses)."""
    procs = {}  # pid -> (ppid, session, state, is a fork-server process)
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            forked = b"forkserver" in (entry / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        procs[int(entry.name)] = (int(stat[1]), int(stat[3]), stat[0], forked)
    fork_servers = {pid for pid, (ppid, sid, _, forked) in procs.items()
                    if sid == server.proc.pid and forked and not procs.get(ppid, (0, 0, "", False))[3]}
    return [pid for pid, (ppid, _, state, _) in procs.items() if ppid in fork_servers and state != "Z"]


def wait_for(condition, timeout_s: float) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"still not so after {timeout_s} s")
        time.sleep(0.1)
    return time.monotonic() - start


def start_analysis(page, server: AppServer) -> None:
    open_page(page, server.url)
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Data").click()
    page.get_by_label("Folder (or .zip/.npz) inside it").fill("many")
    page.keyboard.press("Enter")
    expect(page.get_by_text("s so far (stopped after")).to_be_visible()
    wait_for(lambda: len(analysis_children(server)) == 1, 30)


def test_cancel_stops_the_analysis_within_two_seconds(page, import_app):
    start_analysis(page, import_app)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "test_data_import-running.png"))
    page.get_by_role("button", name="Cancel").click()
    took = wait_for(lambda: not analysis_children(import_app), 10)
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("Cancelled: nothing was imported")
    assert took < 2
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "test_data_import-cancelled.png"))
    assert os.path.isdir(import_app.data_dir) is False  # nothing was written


def test_a_closed_tab_leaves_no_analysis_running(chromium, import_app):
    context = chromium.new_context()
    tab = context.new_page()
    tab.set_default_timeout(120_000)
    start_analysis(tab, import_app)
    context.close()
    wait_for(lambda: not analysis_children(import_app), 2 * CPU_S + 30)
