"""App latency and memory: server-side rerun time of the Probabilities page after a slider move and of the
Predictions page when paging, with 10,000 test images (AppTest timing), and the peak RSS of an app process
that has a run loaded and every page rendered.

    python benchmarks/bench_app.py [--data-dir ../shared/data] [--quick]

Targets (issue 6): each rerun under 150 ms; app peak RSS under 1 GB. --quick uses the offline sample
(1,000 test images) so it runs without the MNIST files.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def peak_rss_mb() -> float:
    """Peak RSS of a fresh process that loads the run and renders every page (run in a subprocess)."""
    code = (  # noqa: UP031 (a script template; braces would clash with the code)
        "import resource, sys; sys.path.insert(0, %r)\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file(%r, default_timeout=120).run()\n"
        "for p in ('app_pages/predictions.py', 'app_pages/probabilities.py', 'app_pages/train.py'):\n"
        "    at.switch_page(p).run()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    ) % (str(ROOT), str(ROOT / "app.py"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    return float(out.stdout.strip().splitlines()[-1])


def run(data_dir: Path, quick: bool) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MNIST_DATA_DIR"], os.environ["MNIST_RUNS_DIR"] = str(data_dir), str(Path(tmp) / "runs")
        make_run(Path(tmp) / "runs", data_dir, "mnist-sample" if quick else "mnist")
        thresholds = [0.5, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.95, 0.99, 0.2, 0.1]
        slider = time_reruns("app_pages/probabilities.py", thresholds,
                             lambda at, v: at.slider(key="prob_threshold").set_value(v))
        paging = time_reruns("app_pages/predictions.py", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
                             lambda at, v: at.number_input(key="pred_page").set_value(v))
        rss = peak_rss_mb()
    rows = []
    for name, times in [("Probabilities rerun after a slider move", slider), ("Predictions rerun when paging", paging)]:
        median = statistics.median(times)
        rows.append({"benchmark": name, "figure": f"{median:.0f} ms median, {max(times):.0f} ms max",
                     "reference": f"target {LATENCY_TARGET_MS:.0f} ms",
                     "ratio": f"{LATENCY_TARGET_MS / median:.1f}x under target"})
    rows.append({"benchmark": "App peak RSS, run loaded, every page rendered", "figure": f"{rss:.0f} MB",
                 "reference": f"target {RSS_TARGET_MB:.0f} MB", "ratio": f"{RSS_TARGET_MB / rss:.1f}x under target"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("MNIST_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--data-dir", default=default)
    parser.add_argument("--quick", action="store_true", help="offline sample (1,000 test images)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(Path(args.data_dir).resolve(), args.quick)
    if args.json:
        print(json.dumps(rows))
        return
    for row in rows:
        print(f"{row['benchmark']:<48} {row['figure']:<26} {row['reference']:<16} {row['ratio']}")


if __name__ == "__main__":
    main()
