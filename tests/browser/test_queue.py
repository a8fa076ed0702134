"""Browser: the training queue with MNIST_MAX_JOBS=1. Three runs started from the Train page: one runs, two
wait in order; Cancel takes the second out of the queue; the third runs after the first; its worker killed
with SIGKILL ends it as failed, on the page and in the run store.

    python -m pytest tests/browser/test_queue.py -q
"""
from __future__ import annotations

import os
import re
import signal
import time

import pytest
from playwright.sync_api import expect

from mnist_core import files, runs
from tests.browser.harness import SCREENSHOTS, AppServer, choose, open_page

pytestmark = pytest.mark.browser
RUN_TIMEOUT_S = 180
DISPATCH_SLACK_S = 15  # the server's dispatcher thread looks every 5 s; a busy machine adds to it


@pytest.fixture(scope="module")
def queue_app(shared_data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("queue-app")
    with AppServer(shared_data_dir, root / "runs", log_path=root / "streamlit.log",
                   env={"MNIST_MAX_JOBS": "1"}) as server:
        yield server


def _start(page, status: str, after: str | None = None) -> str:
    """Press Start training; the id of the run the page then watches, once it shows it with `status`."""
    page.get_by_role("button", name="Start training").click()
    other = f"(?!{after} )" if after else ""
    heading = page.get_by_role("heading", name=re.compile(rf"^Run {other}\S+ · {status}$"))
    expect(heading).to_be_visible()
    return heading.inner_text().split()[1]


def _status(runs_dir, run_id: str) -> dict:
    return files.read_json(runs_dir / run_id / "status.json")


def test_three_runs_one_trains_two_wait_the_cancelled_never_starts(page, queue_app):
    runs_dir = queue_app.runs_dir
    began = time.monotonic()
    open_page(page, queue_app.url)
    choose(page, "Data source", "mnist-sample")
    epochs = page.get_by_label("Epochs")
    epochs.fill("3")
    epochs.press("Enter")
    expect(epochs).to_have_value("3")
    first = _start(page, "running")
    second = _start(page, "queued", after=first)
    third = _start(page, "queued", after=second)
    assert runs.read_run(runs_dir / first).status == "running"  # the first trains while they are queued
    assert [runs.read_run(runs_dir / r).position for r in (second, third)] == [1, 2]
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("Waiting: number 2 in the queue.", exact=False)).to_be_visible()
    queue = [page.locator(f".st-key-train_unqueue_{r}") for r in (second, third)]
    expect(main.get_by_text(f"Training now: {first}.", exact=False)).to_be_visible()
    expect(main.get_by_text(re.compile(rf"^1\. {second} · mnist-sample · 3 epochs"))).to_be_visible()
    expect(main.get_by_text(re.compile(rf"^2\. {third} · mnist-sample · 3 epochs"))).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.get_by_role("heading", name="Queue", exact=True).hover()  # no tooltip over the page
    page.wait_for_timeout(500)
    page.set_viewport_size({"width": size["width"], "height": 2000})  # the app scrolls inside: a tall window
    page.screenshot(path=str(SCREENSHOTS / "train-queue.png"))
    page.set_viewport_size(size)

    queue[0].get_by_role("button", name="Cancel").click()
    expect(main.get_by_text("Waiting: number 1 in the queue.", exact=False)).to_be_visible()
    expect(queue[0]).to_have_count(0)
    cancelled = runs.read_run(runs_dir / second)
    assert (cancelled.status, cancelled.error) == ("cancelled", "cancelled while queued: it never started")

    # The third starts when the first ends (its worker dispatches), and the page follows it.
    expect(page.get_by_role("heading", name=f"Run {third} · running")).to_be_visible(timeout=RUN_TIMEOUT_S * 1000)
    assert runs.read_run(runs_dir / first).status == "finished"
    assert _status(runs_dir, third)["started_ns"] > (runs_dir / first / "model.pt").stat().st_mtime_ns
    assert not (runs_dir / second / "worker.log").exists()  # never started
    queued_for = time.monotonic() - began
    print(f"queue: three runs started, one cancelled, the third running after {queued_for:.1f} s")

    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not any(e["type"] == "batch" for e in runs.read_events(runs_dir / third)):
        assert time.monotonic() < deadline, "the third run never trained"
        time.sleep(0.05)
    pid = _status(runs_dir, third)["pid"]
    assert pid != os.getpid() and pid != _status(runs_dir, first)["pid"]
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    expect(page.get_by_role("heading", name=f"Run {third} · failed")).to_be_visible(timeout=DISPATCH_SLACK_S * 1000)
    expect(main.get_by_text("Run failed: the training worker stopped unexpectedly")).to_be_visible()
    while _status(runs_dir, third)["status"] != "failed":  # the server's dispatcher writes it down too
        assert time.monotonic() - killed < DISPATCH_SLACK_S, "the dead run was never written as failed"
        time.sleep(0.1)
    assert _status(runs_dir, third)["error"] == runs.DEAD_WORKER
    print(f"queue: whole test {time.monotonic() - began:.1f} s; the killed run written failed after "
          f"{time.monotonic() - killed:.1f} s")
