"""Browser: a run launched from the Train page says what its worker is doing before the first batch, shows its
progress bar moving, the live grid of predictions after each epoch and its final test accuracy, then stops
polling the server; reloading the page mid-run shows the same run still progressing (the worker outlives the
page), its bars at once.

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

from mnist_core import files, runs
from mnist_core.data import load_dataset
from mnist_core.progress import summarize
from tests.browser.harness import AppServer, choose, open_page, run_progress

pytestmark = pytest.mark.browser
RUN_TIMEOUT_S = 600  # 2 epochs of mnist-sample take a few seconds on idle cores; a shared machine is slower


@pytest.fixture(scope="module")
def train_app(shared_data_dir, tmp_path_factory):
    """An app with real MNIST present (so `mnist` is preselected) and an empty runs folder of its own."""
    root = tmp_path_factory.mktemp("train-app")
    with AppServer(shared_data_dir, root / "runs", log_path=root / "streamlit.log") as server:
        yield server


def start_run(page, url: str, epochs: int, train_app=None) -> str:
    """Launch a mnist-sample run from the Train page; returns the run id the page shows.

    With train_app, the worker is held as soon as it exists, before it has trained: the page must then say
    what it is doing (starting, or loading data when it got that far), not sit at "0% in 0 s"."""
    open_page(page, url)
    expect(page.get_by_role("combobox", name="Data source")).to_have_value("mnist")
    choose(page, "Data source", "mnist-sample")
    epochs_box = page.get_by_label("Epochs")
    epochs_box.fill(str(epochs))
    epochs_box.press("Enter")
    expect(epochs_box).to_have_value(str(epochs))
    page.get_by_role("button", name="Start training").click()
    if train_app is not None:
        [run_dir] = wait_for_runs(train_app.runs_dir, 1)
        def worker_started() -> bool:  # the run folder first holds the server's own pid, then the worker's
            pid = files.read_json(run_dir / "status.json", default={}).get("pid")
            return pid not in (None, train_app.proc.pid)

        with worker_paused_when(run_dir, worker_started):
            stages = [e["stage"] for e in runs.read_events(run_dir) if e["type"] == "stage"]
            assert not any(e["type"] == "batch" for e in runs.read_events(run_dir))
            doing = {(): "starting the worker", ("loading data",): "loading data"}.get(tuple(stages), "training")
            expect(page.get_by_text(f"Whole run: 0% · {doing}")).to_be_visible()
    heading = page.get_by_role("heading", name=re.compile(r"^Run \S+ · "))
    expect(heading).to_be_visible()
    return heading.inner_text().split()[1]


def wait_for_runs(runs_dir: Path, n: int) -> list[Path]:
    deadline = time.monotonic() + 60
    while len(found := [r.path for r in runs.list_runs(runs_dir)]) < n:
        assert time.monotonic() < deadline, f"{len(found)} runs in {runs_dir}"
        time.sleep(0.02)
    return found


def overall(run_dir: Path) -> float:
    """The run's progress (0..1) from its event stream, as the page computes it."""
    return summarize(runs.read_events(run_dir), runs.read_run(run_dir).config["epochs"]).overall


@contextmanager
def worker_paused_when(run_dir: Path, ready, too_late=lambda: False) -> Iterator[None]:
    """Stop the run's worker once ready() holds (and too_late() does not yet); continue it on leaving."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not ready():
        assert time.monotonic() < deadline and not too_late(), f"progress {overall(run_dir):.0%}"
        time.sleep(0.02)
    pid = files.read_json(run_dir / "status.json")["pid"]  # the worker's own (see worker_started)
    assert os.getpgid(pid) == pid  # the worker leads a session of its own: never stop the server instead
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@contextmanager
def worker_paused_between(run_dir: Path, low: float, high: float) -> Iterator[float]:
    """Stop the run's worker once its progress is in (low, high); yields that progress; continues it after."""
    with worker_paused_when(run_dir, lambda: low < overall(run_dir) < high, lambda: overall(run_dir) >= high):
        yield overall(run_dir)


def rerun_requests(page) -> list[float]:
    """Times of the messages the page sends its server over the websocket (a fragment's poll is one)."""
    sent: list[float] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda _: sent.append(time.monotonic())))
    return sent


def whole_run_text(fraction: float) -> str:
    return f"Whole run: {fraction:.0%} in"


def epoch_events(run_dir: Path) -> list[dict]:
    return [e for e in runs.read_events(run_dir) if e["type"] == "epoch"]


def test_a_short_run_shows_progress_the_live_grid_and_its_accuracy_then_stops_polling(page, train_app):
    sent = rerun_requests(page)
    run_id = start_run(page, train_app.url, epochs=3, train_app=train_app)
    run_dir = train_app.runs_dir / run_id
    expect(page.get_by_text("After the first epoch: 25 test images")).to_be_visible()
    with worker_paused_when(run_dir, lambda: len(epoch_events(run_dir)) == 1, lambda: len(epoch_events(run_dir)) > 1):
        expect(page.get_by_text(whole_run_text(overall(run_dir)))).to_be_visible()  # where the worker stands
        middle = run_progress(page)
        grid = epoch_events(run_dir)[0]["grid"]
        labels = load_dataset("mnist-sample").test_labels[grid["index"]].tolist()
        right = sum(p == y for p, y in zip(grid["pred"], labels, strict=True))
        caption = page.get_by_text(f"After epoch 1: {right} of 25 fixed test images right")
        expect(caption).to_be_visible()  # the epoch's own predictions, drawn as the grid beside it
        expect(page.get_by_test_id("stImage").filter(has=caption).get_by_role("img")).to_be_visible()
    finished = page.get_by_text(re.compile(r"^Finished: test accuracy"))
    expect(finished).to_be_visible(timeout=RUN_TIMEOUT_S * 1000)
    assert 0 < middle < run_progress(page) == 100
    expect(page.get_by_text(re.compile(r"^After epoch 3: \d+ of 25"))).to_be_visible()
    page.wait_for_timeout(2000)  # the page's one full rerun after the end
    quiet_from = time.monotonic()
    page.wait_for_timeout(5000)
    assert [t for t in sent if t > quiet_from] == []  # a finished run on screen: no more polls
    info = runs.read_run(run_dir)
    assert info.status == "finished" and info.config["data"] == "mnist-sample" and info.config["epochs"] == 3
    expect(finished).to_contain_text(f"Finished: test accuracy {info.test_accuracy:.2%}")
    expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value(re.compile(f"^{run_id} · mnist-sample"))


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
    expect(page.get_by_role("button", name="Start training")).to_be_enabled()  # another run would queue

    page.get_by_role("button", name="Cancel training").click()
    expect(page.get_by_role("heading", name=f"Run {run_id} · cancelled")).to_be_visible()
    assert runs.read_run(run_dir).status == "cancelled"
