"""Memory of a deployed MNIST Lab against Streamlit Community Cloud's limit (about 2.7 GB): the whole
process tree of `streamlit run app.py` (the server and the training worker it starts), sampled 4 times a
second while a real browser trains one epoch of real MNIST from the Train page, then opens every page
(Predictions, Probabilities with the slider moved, Review, Draw with a drawn digit, Data).

    python benchmarks/deploy_memory.py [--quick]        # or: python benchmarks/run.py --only deploy_memory

Reports the peaks (RSS summed over the processes, and PSS, which splits shared pages fairly) beside the
limit. --quick trains on the offline sample instead (a smoke run: figures, no targets). Data from
MNIST_DATA_DIR or ../shared/data. Needs Debian's chromium (see tests/browser).
"""
from __future__ import annotations

import argparse
import re
import tempfile
import threading
import time
from pathlib import Path

from common import Row, data_dir, print_rows
from playwright.sync_api import expect, sync_playwright

from tests.browser.harness import AppServer, choose, draw, launch_chromium, nav_links, open_page

LIMIT_MB = 2.7 * 1024  # Community Cloud's memory per app, about 2.7 GB (Streamlit's docs have the current figure)


def process_tree(root: int) -> list[int]:
    """root and all its descendants, from /proc/<pid>/stat's parent ids."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
            parents[int(pid)] = int(rest.rsplit(") ", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MB, from /proc/<pid>/smaps_rollup; zeros once it has exited."""
    try:
        fields = dict(re.findall(r"^(\w+):\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M))
    except OSError:
        return 0.0, 0.0
    return int(fields.get("Rss", 0)) / 1024, int(fields.get("Pss", 0)) / 1024


class Sampler(threading.Thread):
    """Samples the server's process tree until stopped; keeps the peaks of the sums and of each part."""

    def __init__(self, server_pid: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.server_pid, self.interval, self.stopped = server_pid, interval, threading.Event()
        self.peak = {"rss": 0.0, "pss": 0.0, "server_rss": 0.0, "worker_rss": 0.0, "processes": 0}

    def run(self) -> None:
        while not self.stopped.is_set():
            pids = process_tree(self.server_pid)
            sizes = [memory_mb(pid) for pid in pids]
            server_rss = sizes[0][0]
            sample = {"rss": sum(s[0] for s in sizes), "pss": sum(s[1] for s in sizes), "server_rss": server_rss,
                      "worker_rss": sum(s[0] for s in sizes[1:]), "processes": len(pids)}
            self.peak = {k: max(v, sample[k]) for k, v in self.peak.items()}
            time.sleep(self.interval)


def drive(page, url: str, data: str) -> float:
    """Train one epoch from the Train page, then open every page; returns the training wall time in seconds."""
    open_page(page, url)
    choose(page, "Data source", data)
    page.get_by_label("Epochs").fill("1")
    page.get_by_label("Epochs").press("Enter")
    expect(page.get_by_label("Epochs")).to_have_value("1")
    started = time.monotonic()
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text(re.compile(r"^Finished: test accuracy"))).to_be_visible(timeout=1_800_000)
    trained = time.monotonic() - started
    for title, href in nav_links(page).items():
        open_page(page, href)
        if title == "Probabilities":
            page.get_by_role("slider", name="Threshold on p(k | image)").press("End")
        elif title == "Draw":
            draw(page, [(0.5, 0.15), (0.5, 0.85)])
            page.get_by_text("What the model sees").wait_for()
    return trained


def run(quick: bool = False) -> list[Row]:
    data = "mnist-sample" if quick else "mnist"
    with tempfile.TemporaryDirectory(prefix="mnist-mem-") as tmp:
        with AppServer(data_dir(), Path(tmp) / "runs", log_path=Path(tmp) / "log") as server, \
                sync_playwright() as pw:
            sampler = Sampler(server.proc.pid)
            sampler.start()
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(120_000)
            trained = drive(page, server.url, data)
            time.sleep(2)
            sampler.stopped.set()
            sampler.join()
            browser.close()
    peak = sampler.peak
    print(f"up to {peak['processes']} processes; one epoch of {data} trained in {trained:.0f} s, then every page "
          "opened", flush=True)
    limit = "Community Cloud limit"
    return [Row("deployed app memory", label, peak[key], "MB", limit, LIMIT_MB, f"< {LIMIT_MB:,.0f} MB",
                None if quick or key != "rss" else peak[key] < LIMIT_MB)
            for label, key in (("server + training worker, RSS summed", "rss"),
                               ("server + training worker, PSS (shared pages split)", "pss"),
                               ("server alone, RSS", "server_rss"), ("training worker, RSS", "worker_rss"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="train on the offline sample (a smoke run)")
    print_rows(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
