"""Browser: a run launched from the Train page shows its progress bar moving and its final test accuracy;
reloading the page mid-run shows the same run still progressing (the worker outlives the page).

    python -m pytest tests/browser/test_train.py -q
"""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from mnist_core import runs
from tests.browser.harness import AppServer, choose, open_page, run_progress

pytestmark = pytest.mark.browser
RUN_TIMEOUT_S = 600  # 2 epochs of mnist-sample take ~20 s on idle cores; a shared machine is slower


@pytest.fixture(scope="module")
def train_app(mnist_dir, tmp_path_factory):
    """An app with real MNIST present (so `mnist` is preselected) and an empty runs folder of its own."""
    root = tmp_path_factory.mktemp("train-app")
    with AppServer(mnist_dir, root / "runs", log_path=root / "streamlit.log") as server:
        yield server


def start_run(page, url: str, epochs: int) -> None:
    open_page(page, url)
    expect(page.get_by_role("combobox", name="Data source")).to_have_value("mnist")
    choose(page, "Data source", "mnist-sample")
    epochs_box = page.get_by_label("Epochs")
    epochs_box.fill(str(epochs))
    epochs_box.press("Enter")
    expect(epochs_box).to_have_value(str(epochs))
    page.get_by_role("button", name="Start training").click()


def watch_until(page, done, timeout_s: float) -> list[int]:
    """Sample the whole-run progress once a second until done(page) is true; return the samples."""
    seen, deadline = [], time.monotonic() + timeout_s
    while not done(page):
        assert time.monotonic() < deadline, f"timed out; progress seen: {seen}"
        seen.append(run_progress(page))
        time.sleep(1)
    return seen


def the_run(train_app, run_id: str) -> runs.RunInfo:
    return runs.read_run(train_app.runs_dir / run_id)


def shown_run_id(page) -> str:
    heading = page.get_by_role("heading", name=re.compile(r"^Run \S+ · "))
    expect(heading).to_be_visible()
    return heading.inner_text().split()[1]


def test_a_short_run_shows_progress_and_its_accuracy(page, train_app):
    start_run(page, train_app.url, epochs=2)
    run_id = shown_run_id(page)
    finished = page.get_by_text(re.compile(r"^Finished: test accuracy"))
    seen = watch_until(page, lambda p: finished.is_visible(), RUN_TIMEOUT_S)
    moving = [v for v in seen if 0 < v < 100]
    assert moving and moving == sorted(moving), f"the bar did not move forward between 0 and 100%: {seen}"
    info = the_run(train_app, run_id)
    assert info.status == "finished" and info.config["data"] == "mnist-sample" and info.config["epochs"] == 2
    expect(finished).to_contain_text(f"Finished: test accuracy {info.test_accuracy:.2%}")
    assert run_progress(page) == 100
    expect(page.get_by_role("combobox", name="Model (run)")).to_have_value(re.compile(f"^{run_id} · mnist-sample"))


def test_reloading_mid_run_shows_the_run_progressing(page, train_app):
    start_run(page, train_app.url, epochs=30)  # long enough to reload mid-run; cancelled at the end
    run_id = shown_run_id(page)
    watch_until(page, lambda p: run_progress(p) > 0, RUN_TIMEOUT_S)
    before = run_progress(page)

    page.reload()
    assert shown_run_id(page) == run_id  # a fresh session finds the running run by itself
    expect(page.get_by_role("heading", name=f"Run {run_id} · running")).to_be_visible()
    after = watch_until(page, lambda p: run_progress(p) > before, RUN_TIMEOUT_S)
    assert all(v >= before for v in after), f"progress went back after the reload: {before} -> {after}"
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()

    page.get_by_role("button", name="Cancel training").click()
    expect(page.get_by_role("heading", name=f"Run {run_id} · cancelled")).to_be_visible()
    assert the_run(train_app, run_id).status == "cancelled"
