"""App latency and memory: server-side rerun time of the Probabilities page after a slider move and of the
Predictions page when paging, with 10,000 test images (AppTest timing), and the peak RSS of an app process
that has a run loaded and every page rendered.

    python benchmarks/app_latency.py [--quick]        (also part of `python benchmarks/run.py`)

Targets (issue 6): each rerun under 150 ms; app peak RSS under 1 GB. --quick uses the offline sample
(1,000 test images) so it runs without the MNIST files.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO_ROOT as ROOT
from common import Row, data_dir, print_rows

LATENCY_TARGET_MS, RSS_TARGET_MB = 150.0, 1024.0


def make_run(runs_dir: Path, data_dir: Path, data: str) -> Path:
    from mnist_core import runs
    from mnist_core.config import TrainConfig
    from mnist_core.launch import run_training

    config = TrainConfig(data=data, epochs=1, device="cpu")
    run_dir = runs.create_run(runs_dir, config)
    status = run_training(config, run_dir, data_dir)
    if status["status"] != "finished":
        raise SystemExit(f"could not train the benchmark run: {status.get('error')}")
    return run_dir


def time_reruns(page: str, moves: list, apply) -> list[float]:
    """Milliseconds per rerun after each widget change; the first (cold) render is not counted."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page(page).run()
    apply(at, moves[0]).run()  # warm the caches once, as a user's first interaction does
    times = []
    for move in moves[1:]:
        start = time.perf_counter()
        apply(at, move).run()
        times.append((time.perf_counter() - start) * 1000)
        if at.exception:
            raise SystemExit(f"{page} raised: {at.exception[0].value}")
    return times


def app_peak_rss_mb() -> float:
    """Peak RSS of a fresh process that loads the run and renders every page (run in a subprocess)."""
    code = (  # noqa: UP031 (a script template; braces would clash with the code)
        "import sys; sys.path.insert(0, %r); sys.path.insert(0, %r)\n"
        "from common import peak_rss_mb\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file(%r, default_timeout=120).run()\n"
        "for p in ('app_pages/predictions.py', 'app_pages/probabilities.py', 'app_pages/train.py'):\n"
        "    at.switch_page(p).run()\n"
        "print(peak_rss_mb())\n"
    ) % (str(ROOT), str(Path(__file__).parent), str(ROOT / "app.py"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    return float(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Row]:
    """Reruns with 10,000 test images (real MNIST; --quick: the offline sample's 1,000), and the app's peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MNIST_DATA_DIR"], os.environ["MNIST_RUNS_DIR"] = str(data_dir()), str(Path(tmp) / "runs")
        make_run(Path(tmp) / "runs", data_dir(), "mnist-sample" if quick else "mnist")
        thresholds = [0.5, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.95, 0.99, 0.2, 0.1]
        slider = time_reruns("app_pages/probabilities.py", thresholds,
                             lambda at, v: at.slider(key="prob_threshold").set_value(v))
        paging = time_reruns("app_pages/predictions.py", list(range(1, 12)),
                             lambda at, v: at.number_input(key="pred_page").set_value(v))
        rss = app_peak_rss_mb()
    rows = [Row("app latency", name, statistics.median(times), "ms", "target", LATENCY_TARGET_MS,
                f"< {LATENCY_TARGET_MS:.0f} ms", None if quick else statistics.median(times) < LATENCY_TARGET_MS)
            for name, times in [("Probabilities rerun after a slider move (median)", slider),
                                ("Predictions rerun when paging (median)", paging)]]
    rows.append(Row("app memory", "peak RSS, run loaded, every page rendered", rss, "MB", "target", RSS_TARGET_MB,
                    f"< {RSS_TARGET_MB:.0f} MB", None if quick else rss < RSS_TARGET_MB))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="offline sample (1,000 test images)")
    print_rows(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
