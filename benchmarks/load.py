"""Load: N visitors at once on one `streamlit run app.py` while a training job runs (issue 14, "Measured load").

    python benchmarks/load.py [--quick] [--client ws|chromium] [--sessions 10,20,40] [--rounds 5]
    (also part of benchmarks/run.py, with the websocket client)

Visitors: `--client ws` (the default) are clients of Streamlit's websocket protocol (benchmarks/st_client.py),
all in this one process: they cost the machine almost nothing, so the figure is the server's. `--client
chromium` are real pages in one headless Chromium (benchmarks/load_chromium.py), which on a small machine
compete with the server for the cores. A round of a session: on Predictions, the grid's page number one up;
on Probabilities, the threshold slider one step down; on Review, as its own reviewer (`?reviewer=load-<n>`),
the verdict "Fine" on the image shown. Rerun latency: from the action to the end of the script's run (ws:
the BackMsg sent to script_finished; chromium: the click to an idle page), checked against what the page
then shows (the query string's page / threshold / next image, the toast "Saved ..."). Meanwhile one `fast`
training job on MNIST runs, started as the dashboard starts one (mnist_core.launch.start_worker: a detached
worker into the same run store) and cancelled at the end (mnist_core.jobs.cancel).

Reported for each N: p50 and p95 rerun latency, errors (an exception drawn, a state not shown, a timeout),
the server's peak RSS and the machine's peak 1-minute load average (sampled every 0.2 s), and verdicts
recorded against verdicts found in the review store afterwards. Target: 10 sessions, p95 under 1 s, no
error, no verdict lost; larger N show where it breaks. --quick: 2 sessions, 1 round, on the offline
mnist-sample (a smoke test, no targets).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

from common import REPO_ROOT as ROOT
from common import Row, data_dir, load_average, print_rows

P95_TARGET_S, TARGET_SESSIONS = 1.0, 10
ACTION_TIMEOUT_S = 60.0
JOB_START_TIMEOUT_S, JOB_END_TIMEOUT_S = 300.0, 120.0


def rss_mb(pid: int) -> float:
    """Resident memory of a process now, from /proc/<pid>/status; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used, from /proc/<pid>/stat; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


class PeakSampler(threading.Thread):
    """The largest RSS a process reaches, and the machine's largest 1-minute load average, while this runs."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.rss, self.load, self.done = pid, 0.0, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.rss, self.load = max(self.rss, rss_mb(self.pid)), max(self.load, os.getloadavg()[0])


def shown(query_string: str, name: str) -> str | None:
    """The value of ?name= in a query string, None when absent."""
    return parse_qs(query_string).get(name, [None])[0]


async def ws_session(url: str, n: int, rounds: int, latencies: dict[str, list[float]], errors: list[str]) -> int:
    """One websocket visitor's rounds; the number of verdicts the page said it saved."""
    from st_client import Session

    recorded = 0
    try:
        async with Session(url, ACTION_TIMEOUT_S) as s:
            for r in range(rounds):
                await s.visit("predictions", f"page={r + 1}")  # the view's first load is not timed
                latencies["paging"].append(await s.step("pred_page", +1))
                if shown(s.query_string, "page") != str(r + 2):
                    errors.append(f"session {n}: the grid shows ?{s.query_string}, not page {r + 2}")

                await s.visit("probabilities", f"threshold=0.{90 - r:02d}")
                latencies["slider"].append(await s.step("prob_threshold", -1))
                if shown(s.query_string, "threshold") != f"0.{89 - r:02d}":
                    errors.append(f"session {n}: the histogram shows ?{s.query_string}, not 0.{89 - r:02d}")

                await s.visit("review", f"reviewer=load-{n}")
                image = shown(s.query_string, "image")
                latencies["verdict"].append(await s.click("review_fine"))
                if any(t.startswith("Saved") and f" {image}" in t for t in s.texts("toast")):
                    recorded += 1
                else:
                    errors.append(f"session {n}: no 'Saved' toast for image {image}: {s.texts('toast')}")
    except Exception as exc:  # AppError, TimeoutError, a closed socket: counted, the other sessions go on
        errors.append(f"session {n}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return recorded


async def drive_ws(url: str, sessions: int, rounds: int) -> tuple[dict[str, list[float]], list[str], int]:
    """All websocket sessions at once: (latencies by action, errors, verdicts recorded)."""
    latencies, errors = {"paging": [], "slider": [], "verdict": []}, []
    counts = await asyncio.gather(*(ws_session(url, n, rounds, latencies, errors) for n in range(sessions)))
    return latencies, errors, sum(counts)


def p95_of(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


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


def start_job(runs_dir: Path, data: str) -> Path:
    """A `fast` run on `data` for 100 epochs (longer than any load level), started as the Train page does."""
    from mnist_core.config import TrainConfig, apply_recipe
    from mnist_core.launch import start_worker

    config = dataclasses.replace(apply_recipe(TrainConfig(data=data), "fast"), epochs=100)
    return start_worker(config, runs_dir, data_dir())


def wait_training(run_dir: Path) -> float:
    """Seconds until the job's worker has trained its first batches (a batch event in metrics.jsonl): the
    sessions start against a server sharing the machine with training, not with a worker importing torch."""
    from mnist_core.files import read_json

    start = time.monotonic()
    while time.monotonic() - start < JOB_START_TIMEOUT_S:
        metrics = run_dir / "metrics.jsonl"
        if metrics.exists() and '"type": "batch"' in metrics.read_text():
            return time.monotonic() - start
        time.sleep(0.2)
    status = read_json(run_dir / "status.json", default={})
    raise TimeoutError(f"the training job {run_dir.name} trained no batch within {JOB_START_TIMEOUT_S:.0f} s "
                       f"(status {status.get('status')!r}: {status.get('error', '')})")


def end_job(run_dir: Path) -> str:
    """Cancel the job (mnist_core.jobs.cancel) and wait until its run has ended; its final status."""
    from mnist_core import jobs, procs
    from mnist_core.files import read_json

    jobs.cancel(run_dir)
    deadline = time.monotonic() + JOB_END_TIMEOUT_S
    while time.monotonic() < deadline:
        status = read_json(run_dir / "status.json", default={})
        if status.get("status") not in ("queued", "running") and not procs.worker_alive(status):
            return status.get("status", "no status")  # ended, and its worker process is gone
        time.sleep(0.5)
    return "still running"  # AppServer.stop kills what is left (tests.browser.harness.stop_workers)


def measure(client: str, sessions: int, rounds: int, data: str, root: Path) -> list[Row]:
    """One load level: a fresh server, a run to look at, a training job, `sessions` visitors."""
    from load_chromium import drive as drive_chromium

    from tests.browser.harness import AppServer

    runs_dir, db_url = root / "runs", f"sqlite:///{root / 'reviews.db'}"
    before = stored_verdicts(db_url, runs_dir)
    log = root / f"streamlit-{sessions}.log"
    drive = drive_ws if client == "ws" else drive_chromium
    with AppServer(data_dir(), runs_dir, log_path=log, env={"MNIST_REVIEW_DB": db_url}) as server:
        job = start_job(runs_dir, data)
        peak = PeakSampler(server.proc.pid)
        try:
            print(f"  the training job trains after {wait_training(job):.1f} s", flush=True)
            peak.start()
            load_before = load_average()
            wall, cpu = time.monotonic(), cpu_seconds(server.proc.pid)
            by_action, errors, recorded = asyncio.run(drive(server.url, sessions, rounds))
            wall, cpu = time.monotonic() - wall, cpu_seconds(server.proc.pid) - cpu
        finally:
            peak.done.set()
            job_status = end_job(job)
    found = stored_verdicts(db_url, runs_dir) - before
    latencies = [x for values in by_action.values() for x in values]
    for action, values in by_action.items():
        if len(values) >= 2:
            print(f"  {action}: p50 {statistics.median(values):.2f} s, p95 {p95_of(values):.2f} s, "
                  f"max {max(values):.2f} s ({len(values)})", flush=True)
    # ws: each timed action follows one untimed visit of its page, a rerun too; a Chromium page load does more
    # (a new session, static files), so no figure per rerun there
    per_rerun = f"{1000 * cpu / max(2 * len(latencies), 1):.0f} ms per rerun" if client == "ws" else ""
    print(f"  server CPU {cpu:.1f} s in {wall:.1f} s ({cpu / wall:.2f} cores) {per_rerun}", flush=True)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = p95_of(latencies) if len(latencies) >= 2 else float("nan")
    target = sessions == TARGET_SESSIONS
    for e in errors[:5]:
        print(f"  error: {e}", flush=True)
    print(f"  {sessions} {client} sessions: {len(latencies)} actions in {wall:.0f} s, p50 {p50:.2f} s, p95 "
          f"{p95:.2f} s, {len(errors)} errors, server peak RSS {peak.rss:.0f} MB, verdicts {recorded} recorded / "
          f"{found} stored; load average before {load_before}, peak {peak.load:.1f}; training job {job_status}",
          flush=True)
    name = f"{sessions} {client} sessions"
    return [
        Row("load", f"{name}: p95 rerun latency", p95, "s", f"p50 {p50:.2f} s", p50,
            f"< {P95_TARGET_S:.0f} s" if target else "", (p95 < P95_TARGET_S) if target else None),
        Row("load", f"{name}: errors", len(errors), "", f"{len(latencies)} actions", len(latencies),
            "0" if target else "", (not errors) if target else None),
        Row("load", f"{name}: verdicts stored", found, "", f"{recorded} recorded", recorded,
            "all" if target else "", (found == recorded) if target else None),
        Row("load", f"{name}: server peak RSS", peak.rss, "MB"),
        Row("load", f"{name}: peak 1-min load average", peak.load, "", f"before: {load_before}"),
        Row("load", f"{name}: server CPU, cores", cpu / wall, "", per_rerun),
    ]


def run(quick: bool = False, levels: list[int] | None = None, rounds: int | None = None,
        client: str = "ws") -> list[Row]:
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
            rows += measure(client, sessions, rounds, data, root)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2 sessions, 1 round, mnist-sample: a smoke test")
    p.add_argument("--client", choices=["ws", "chromium"], default="ws",
                   help="websocket protocol clients (default) or real pages in one Chromium")
    p.add_argument("--sessions", default="", help="comma list of concurrent sessions, default 10,20,40")
    p.add_argument("--rounds", type=int, default=0, help="rounds per session (3 timed actions each), default 5")
    args = p.parse_args()
    levels = [int(x) for x in args.sessions.split(",") if x] or None
    os.environ.setdefault("MNIST_DATA_DIR", str(data_dir()))
    print_rows(run(args.quick, levels, args.rounds or None, args.client))


if __name__ == "__main__":
    main()
