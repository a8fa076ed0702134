"""Browser: a run launched from the Train page shows its progress bar moving and its final test accuracy;
reloading the page mid-run shows the same run still progressing (the worker outlives the page).

A small run can finish between two of the page's once-a-second refreshes on a fast machine, so the tests
hold the worker still (SIGSTOP, then SIGCONT) at a point read from its metrics.jsonl: the page must then
show exactly that point, and move on from it once the worker continues.

    python -m pytest tests/browser/test_train.py -q
"""
from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mnist_core import runs
from mnist_core.progress import summarize
from tests.browser.harness import AppServer, choose, open_page, run_progress

pytestmark = pytest.mark.browser
RUN_TIMEOUT_S = 600  # 2 epochs of mnist-sample take a few seconds on idle cores; a shared machine is slower


@pytest.fixture(scope="module")
def train_app(mnist_dir, tmp_path_factory):
    """An app with real MNIST present (so `mnist` is preselected) and an empty runs folder of its own."""
    root = tmp_path_factory.mktemp("train-app")
    with AppServer(mnist_dir, root / "runs", log_path=root / "streamlit.log") as server:
        yield server


def start_run(page, url: str, epochs: int) -> str:
    """Launch a mnist-sample run from the Train page; returns the run id the page shows."""
    open_page(page, url)
    expect(page.get_by_role("combobox", name="Data source")).to_have_value("mnist")
    choose(page, "Data source", "mnist-sample")
    epochs_box = page.get_by_label("Epochs")
    epochs_box.fill(str(epochs))
    epochs_box.press("Enter")
    expect(epochs_box).to_have_value(str(epochs))
    page.get_by_role("button", name="Start training").click()
    heading = page.get_by_role("heading", name=re.compile(r"^Run \S+ · "))
    expect(heading).to_be_visible()
    return heading.inner_text().split()[1]


def overall(run_dir: Path) -> float:
    """The run's progress (0..1) from its event stream, as the page computes it."""
    return summarize(runs.read_events(run_dir), runs.read_run(run_dir).config["epochs"]).overall


@contextmanager
def worker_paused_between(run_dir: Path, low: float, high: float) -> Iterator[float]:
    """Stop the run's worker once its progress is in (low, high); yields that progress; continues it after."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not low < overall(run_dir) < high:
        assert time.monotonic() < deadline and overall(run_dir) < high, f"progress {overall(run_dir):.0%}"
        time.sleep(0.02)
    pid = runs.read_json(run_dir / "status.json")["pid"]  # the worker's own, written before its first event
    os.kill(pid, signal.SIGSTOP)
    try:
        yield overall(run_dir)
    finally:
        os.kill(pid, signal.SIGCONT)


def whole_run_text(fraction: float) -> str:
    return f"Whole run: {fraction:.0%} in"


def test_a_short_run_shows_progress_and_its_accuracy(page, train_app):
    run_id = start_run(page, train_app.url, epochs=2)
    run_dir = train_app.runs_dir / run_id
    with worker_paused_between(run_dir, 0.05, 0.95) as held:
        expect(page.get_by_text(whole_run_text(held))).to_be_visible()  # the bar stands where the worker is
        middle = run_progress(page)
    finished = page.get_by_text(re.compile(r"^Finished: test accuracy"))
    expect(finished).to_be_visible(timeout=RUN_TIMEOUT_S * 1000)
    assert 0 < middle < run_progress(page) == 100
    info = runs.read_run(run_dir)
    assert info.status == "finished" and info.config["data"] == "mnist-sample" and info.config["epochs"] == 2
    expect(finished).to_contain_text(f"Finished: test accuracy {info.test_accuracy:.2%}")
    expect(page.get_by_role("combobox", name="Model (run)")).to_have_value(re.compile(f"^{run_id} · mnist-sample"))


def test_reloading_mid_run_shows_the_run_progressing(page, train_app):
    run_id = start_run(page, train_app.url, epochs=30)  # cancelled at the end
    run_dir = train_app.runs_dir / run_id
    with worker_paused_between(run_dir, 0.02, 0.5) as held:
        expect(page.get_by_text(whole_run_text(held))).to_be_visible()
        page.reload()  # a new session: it must find the running run by itself
        expect(page.get_by_role("heading", name=f"Run {run_id} · running")).to_be_visible()
        expect(page.get_by_text(whole_run_text(held))).to_be_visible()
        before = run_progress(page)
    bar = page.get_by_test_id("stProgress").filter(has_text="Whole run").get_by_role("progressbar")
    expect(bar).not_to_have_attribute("aria-valuenow", str(before), timeout=RUN_TIMEOUT_S * 1000)
    assert run_progress(page) > before  # moving on from where it stood
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()

    page.get_by_role("button", name="Cancel training").click()
    expect(page.get_by_role("heading", name=f"Run {run_id} · cancelled")).to_be_visible()
    assert runs.read_run(run_dir).status == "cancelled"
