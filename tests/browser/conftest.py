"""Fixtures for the browser tests: Chromium, real MNIST, one trained run per session, a screenshot per test.

Each test module starts its own app server (see harness.AppServer) from these fixtures:

    python -m pytest tests/browser -q        # all browser tests (they are also part of `python -m pytest`)
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from mnist_core import runs
from tests.browser.harness import ROOT, SCREENSHOTS, AppServer, chromium_path, launch_chromium

VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 120_000  # generous: the machine is shared, and the first page run imports torch
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def chromium():
    if chromium_path() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def trained_runs_dir(tmp_path_factory, shared_data_dir) -> Path:
    """A runs folder with one finished run: 1 epoch on real MNIST through the CLI (about 15 s on 2 idle cores)."""
    runs_dir = tmp_path_factory.mktemp("trained") / "runs"
    done = subprocess.run([sys.executable, "-m", "mnist_core.train", "--data", "mnist", "--epochs", "1",
                           "--data-dir", str(shared_data_dir), "--runs-dir", str(runs_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    return runs_dir


@pytest.fixture(scope="session")
def trained_run(trained_runs_dir) -> runs.RunInfo:
    [info] = runs.list_runs(trained_runs_dir)
    return info


@pytest.fixture(scope="session")
def outcomes(trained_run):
    """(probs, labels) of the session's trained run, as numpy arrays: what the pages show, computed here."""
    probs, labels = runs.load_probs(trained_run.path)
    return probs, labels


@pytest.fixture(scope="module")
def review_app(shared_data_dir, trained_runs_dir, tmp_path_factory):
    """An app server showing the session's trained run (one per test module)."""
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with AppServer(shared_data_dir, trained_runs_dir, log_path=log) as server:
        yield server


@pytest.fixture
def page(chromium, request):
    """A fresh browser tab (own cookies, own Streamlit session); its final state is saved as a PNG."""
    context = chromium.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    yield tab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", f"{Path(request.node.fspath).stem}-{request.node.name}")
    try:
        tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
