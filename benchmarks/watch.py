"""Watching training: does a browser keeping the Train page open slow the run down, and does the server rest
once the run has finished? One script, one machine, both sides measured in the same run:

    python benchmarks/watch.py [--quick] [--idle-s 20]     (also part of `python benchmarks/run.py`)

1. unwatched: `python -m mnist_core.train --recipe fast --data mnist` from the command line (no page open);
2. watched: the same run started from the Train page of a real `streamlit run app.py` in headless Chromium
   (Debian's `chromium`, through Playwright), the page kept open until it shows "Finished";
3. idle: with that finished run on screen, the server's CPU over --idle-s seconds, from /proc/<pid>/stat.

The figures are the runs' own training times (status.json `duration`: from the first batch to the end, so the
worker's start-up is not counted on either side). Targets (issue 18): watched at most 1.1x unwatched; the idle
server under 2% of a core. --quick trains one epoch of `fast` on the offline `mnist-sample` (no MNIST files,
a few seconds: a smoke test, no targets) and idles 5 s.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO_ROOT as ROOT
from common import Row, data_dir, print_rows

RATIO_TARGET, IDLE_CPU_TARGET = 1.1, 2.0  # watched / unwatched; % of one core


def cli_run(data: str, epochs: int, runs_dir: Path) -> float:
    """The `fast` recipe from the command line; its training time in seconds."""
    from mnist_core import runs

    subprocess.run([sys.executable, "-m", "mnist_core.train", "--recipe", "fast", "--data", data,
                    "--epochs", str(epochs), "--data-dir", str(data_dir()), "--runs-dir", str(runs_dir)],
                   cwd=ROOT, check=True, capture_output=True, timeout=3600)
    [info] = runs.list_runs(runs_dir)
    return info.duration


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def watched_run(server, page, data: str, epochs: int) -> tuple[float, float, float]:
    """The same run started from the Train page; (training time, server CPU s while it trained, wall s)."""
    from playwright.sync_api import expect

    from mnist_core import runs
    from tests.browser.harness import choose, open_page

    open_page(page, server.url)
    choose(page, "Preset", "fast")
    if page.get_by_role("combobox", name="Data source").input_value() != data:
        choose(page, "Data source", data)
    box = page.get_by_label("Epochs")
    box.fill(str(epochs))
    box.press("Enter")
    expect(box).to_have_value(str(epochs))
    page.wait_for_timeout(1000)  # the form's rerun after Enter
    cpu0, wall0 = cpu_seconds(server.proc.pid), time.monotonic()
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text(re.compile(r"^Finished: test accuracy"))).to_be_visible(timeout=3600_000)
    cpu, wall = cpu_seconds(server.proc.pid) - cpu0, time.monotonic() - wall0
    [info] = runs.list_runs(server.runs_dir)
    return info.duration, cpu, wall


def run(quick: bool = False, idle_s: float | None = None) -> list[Row]:
    from playwright.sync_api import sync_playwright

    from tests.browser.harness import AppServer, launch_chromium

    data, epochs = ("mnist-sample", 1) if quick else ("mnist", 4)
    idle_s = idle_s or (5.0 if quick else 20.0)
    with tempfile.TemporaryDirectory() as tmp:
        unwatched = cli_run(data, epochs, Path(tmp) / "cli-runs")
        print(f"unwatched (CLI): {unwatched:.1f} s of training", flush=True)
        with AppServer(data_dir(), Path(tmp) / "app-runs", log_path=Path(tmp) / "streamlit.log") as server, \
                sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            watched, busy_cpu, wall = watched_run(server, page, data, epochs)
            print(f"watched (Train page): {watched:.1f} s of training; the server used {busy_cpu:.1f} s of CPU "
                  f"in the {wall:.0f} s from the click to 'Finished'", flush=True)
            page.wait_for_timeout(3000)  # the page's last rerun after the end
            cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
            time.sleep(idle_s)
            idle = 100 * (cpu_seconds(server.proc.pid) - cpu0) / (time.monotonic() - t0)
            print(f"idle, finished run on screen: {idle:.2f}% of a core over {idle_s:.0f} s", flush=True)
            browser.close()
    what = f"`fast`, {epochs} epoch{'s' if epochs > 1 else ''} on {data}"
    return [
        Row("watch", f"{what}, Train page open (training time)", watched, "s", "same run from the CLI", unwatched,
            f"<= {RATIO_TARGET}x the CLI", None if quick else watched <= RATIO_TARGET * unwatched),
        Row("watch", "server CPU while that run trained (per s of wall time)", 100 * busy_cpu / wall, "% of a core"),
        Row("watch", f"server CPU, finished run on screen, over {idle_s:.0f} s", idle, "% of a core", "target",
            IDLE_CPU_TARGET, f"< {IDLE_CPU_TARGET:.0f}% of a core", None if quick else idle < IDLE_CPU_TARGET),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one epoch on the offline sample, 5 s idle")
    parser.add_argument("--idle-s", type=float, help="seconds to measure the idle server (default 20, quick 5)")
    args = parser.parse_args()
    print_rows(run(args.quick, args.idle_s))


if __name__ == "__main__":
    main()
