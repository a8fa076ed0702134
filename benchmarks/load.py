"""Load: N visitors at once on one `streamlit run app.py` while a training job runs (issue 14, "Measured load").

    python benchmarks/load.py [--quick] [--sessions 10,20,40] [--rounds 5]     (also part of benchmarks/run.py)

Each session is a real page in one headless Chromium (Debian's `chromium`, its own browser context), driven
through Playwright's async API so that all of them act at once. A round of a session: on Predictions, the next
page of the grid; on Probabilities, the threshold slider one step down (keyboard); on Review, as its own
reviewer (`?reviewer=load-<n>`), the verdict "Fine" on the image shown. Rerun latency is the time from the
action to the page being idle again with the URL showing the new state (what a visitor waits for). Meanwhile one
`fast` training job runs on MNIST from the CLI into the same run store, as a team's server would have.

Reported for each N: p50 and p95 rerun latency, errors (an exception drawn on a page, an action that timed out),
the server's peak RSS (sampled from /proc every 0.2 s), and verdicts recorded against verdicts found in the
review store afterwards. Target: 10 sessions, p95 under 1 s, no error, no verdict lost; larger N show where it
breaks. --quick: 2 sessions, 1 round, on the offline mnist-sample (a smoke test, no targets).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import REPO_ROOT as ROOT
from common import Row, data_dir, print_rows

P95_TARGET_S, TARGET_SESSIONS = 1.0, 10
ACTION_TIMEOUT_S = 60.0
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]


def rss_mb(pid: int) -> float:
    """Resident memory of a process now, from /proc/<pid>/status; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PeakRss(threading.Thread):
    """The largest RSS a process reaches while this thread runs."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.peak = max(self.peak, rss_mb(self.pid))


async def idle_at(page, url_part: str | None, start: float, away_from: str | None = None) -> float:
    """Seconds from `start` until the page has run its script to the end, its URL holding `url_part` and no
    longer `away_from` (the new state is drawn, not the old one still idle)."""
    from tests.browser.harness import IDLE_JS

    deadline = start + ACTION_TIMEOUT_S
    await asyncio.sleep(0.05)  # the click's rerun starts a moment later: do not take the page before it as done
    while time.monotonic() < deadline:
        moved = (url_part is None or url_part in page.url) and (away_from is None or page.url != away_from)
        if moved and await page.evaluate(IDLE_JS):
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no answer within {ACTION_TIMEOUT_S:.0f} s")


async def session(browser, url: str, n: int, rounds: int, latencies: list[float], errors: list[str]) -> int:
    """One visitor's rounds; the number of verdicts it recorded."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page, recorded = await context.new_page(), 0
    try:
        await page.goto(f"{url}/predictions")
        await idle_at(page, None, time.monotonic())
        for r in range(rounds):
            await page.goto(f"{url}/predictions?page={r + 1}")  # a fresh view each round; its load is not timed
            await idle_at(page, None, time.monotonic())
            start = time.monotonic()
            await page.locator(".st-key-pred_page [data-testid='stNumberInputStepUp']").click()
            latencies.append(await idle_at(page, f"page={r + 2}", start))

            await page.goto(f"{url}/probabilities?threshold=0.{90 - r:02d}")
            await idle_at(page, None, time.monotonic())
            start = time.monotonic()
            await page.get_by_role("slider", name="Threshold on p(k | image)").press("ArrowLeft")
            latencies.append(await idle_at(page, f"threshold=0.{89 - r:02d}", start))

            await page.goto(f"{url}/review?reviewer=load-{n}")
            await idle_at(page, None, time.monotonic())
            before = page.url
            start = time.monotonic()
            await page.locator(".st-key-review_fine button").click()
            latencies.append(await idle_at(page, None, start, away_from=before))  # on to the next image
            recorded += 1
            if await page.get_by_test_id("stException").count():
                errors.append(f"session {n}: an exception on the page")
    except Exception as exc:  # a timeout or a page that broke: counted, the other sessions go on
        errors.append(f"session {n}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await context.close()
    return recorded


async def drive(url: str, sessions: int, rounds: int) -> tuple[list[float], list[str], int]:
    from playwright.async_api import async_playwright

    latencies, errors = [], []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        counts = await asyncio.gather(*(session(browser, url, n, rounds, latencies, errors)
                                        for n in range(sessions)))
        await browser.close()
    return latencies, errors, sum(counts)


def stored_verdicts(db_url: str, runs_dir: Path) -> int:
    """Verdicts in the review store on any run of the run store (the training job's run may become the default
    one when it finishes, and later visitors review that)."""
    from mnist_core import runs
    from mnist_core.review.store import ReviewStore

    store = ReviewStore(db_url)
    try:
        return sum(len(store.history(r.run_id)) for r in runs.list_runs(runs_dir))
    finally:
        store.close()


def measure(sessions: int, rounds: int, data: str, root: Path) -> list[Row]:
    """One load level: a fresh server, a run to look at, a training job, `sessions` visitors."""
    from tests.browser.harness import AppServer

    runs_dir, db_url = root / "runs", f"sqlite:///{root / 'reviews.db'}"
    before = stored_verdicts(db_url, runs_dir)
    log = root / f"streamlit-{sessions}.log"
    with AppServer(data_dir(), runs_dir, log_path=log, env={"MNIST_REVIEW_DB": db_url}) as server:
        trainer = subprocess.Popen([sys.executable, "-m", "mnist_core.train", "--recipe", "fast", "--data", data,
                                    "--epochs", "20", "--data-dir", str(data_dir()), "--runs-dir", str(runs_dir)],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = PeakRss(server.proc.pid)
        peak.start()
        try:
            wall = time.monotonic()
            latencies, errors, recorded = asyncio.run(drive(server.url, sessions, rounds))
            wall = time.monotonic() - wall
        finally:
            peak.done.set()
            trainer.send_signal(signal.SIGINT)  # the CLI's Ctrl-C: the run ends as cancelled
            trainer.wait(timeout=60)
    found = stored_verdicts(db_url, runs_dir) - before
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = statistics.quantiles(latencies, n=20, method="inclusive")[-1] if len(latencies) >= 2 else float("nan")
    target = sessions == TARGET_SESSIONS
    for e in errors[:5]:
        print(f"  error: {e}", flush=True)
    print(f"  {sessions} sessions: {len(latencies)} actions in {wall:.0f} s, p50 {p50:.2f} s, p95 {p95:.2f} s, "
          f"{len(errors)} errors, server peak RSS {peak.peak:.0f} MB, verdicts {recorded} recorded / {found} "
          "stored", flush=True)
    name = f"{sessions} sessions"
    return [
        Row("load", f"{name}: p95 rerun latency", p95, "s", f"p50 {p50:.2f} s", p50,
            f"< {P95_TARGET_S:.0f} s" if target else "", (p95 < P95_TARGET_S) if target else None),
        Row("load", f"{name}: errors", len(errors), "", f"{len(latencies)} actions", len(latencies),
            "0" if target else "", (not errors) if target else None),
        Row("load", f"{name}: verdicts stored", found, "", f"{recorded} recorded", recorded,
            "all" if target else "", (found == recorded) if target else None),
        Row("load", f"{name}: server peak RSS", peak.peak, "MB"),
    ]


def run(quick: bool = False, levels: list[int] | None = None, rounds: int | None = None) -> list[Row]:
    data = "mnist-sample" if quick else "mnist"
    levels = levels or ([2] if quick else [TARGET_SESSIONS, 20, 40])
    rounds = rounds or (1 if quick else 5)
    rows = []
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        root = Path(tmp)
        print(f"a run to look at: {data}, 1 epoch of fast", flush=True)
        subprocess.run([sys.executable, "-m", "mnist_core.train", "--recipe", "fast", "--data", data, "--epochs",
                        "1", "--data-dir", str(data_dir()), "--runs-dir", str(root / "runs")],
                       cwd=ROOT, check=True, capture_output=True, timeout=3600)
        for sessions in levels:
            rows += measure(sessions, rounds, data, root)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2 sessions, 1 round, mnist-sample: a smoke test")
    p.add_argument("--sessions", default="", help="comma list of concurrent sessions, default 10,20,40")
    p.add_argument("--rounds", type=int, default=0, help="rounds per session (3 timed actions each), default 5")
    args = p.parse_args()
    levels = [int(x) for x in args.sessions.split(",") if x] or None
    os.environ.setdefault("MNIST_DATA_DIR", str(data_dir()))
    print_rows(run(args.quick, levels, args.rounds or None))


if __name__ == "__main__":
    main()
