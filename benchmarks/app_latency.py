"""App latency and memory: server-side rerun time of the Probabilities page after a slider move and of the
Predictions page when paging, with 10,000 test images (AppTest timing), the peak RSS of an app process
that has a run loaded and every page rendered, and the app process's RSS after the pages that only show a
run's stored arrays: Train (where a visitor lands), Predictions, Probabilities (slider moved) and Review.

    python benchmarks/app_latency.py [--quick] [--before /path/to/an/older/checkout]

Targets: each rerun under 150 ms; app peak RSS under 1 GB (issue 6); RSS after those four pages at most
500 MB (issue 15: torch, about 500 MB of it, is loaded only where a net runs). --before measures the same four
pages in another checkout (e.g. main before that change), with a run trained by that checkout's own code,
printed beside. --quick uses the offline sample (1,000 test images) so it runs without the MNIST files.
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

from common import REPO_ROOT as ROOT
from common import Row, data_dir, print_rows

LATENCY_TARGET_MS, RSS_TARGET_MB, PAGES_RSS_TARGET_MB = 150.0, 1024.0, 500.0
# In a fresh interpreter with `root` (a checkout) first on sys.path: train a run as the dashboard's worker does,
# label issues included, so the Review page reads them rather than computing them.
TRAIN = """
import sys; sys.path.insert(0, sys.argv[1])
from pathlib import Path
from mnist_core import launch, runs
from mnist_core.config import TrainConfig
config = TrainConfig(data=sys.argv[4], epochs=1, device="cpu")
run_dir = runs.create_run(Path(sys.argv[2]), config)
status = launch.run_training(config, run_dir, Path(sys.argv[3]))
assert status["status"] == "finished", status.get("error")
launch.write_issues_quietly(run_dir)
"""
# The same, then the pages in AppTest (the app's scripts run in this process, as in the server's).
VISIT = """
import json, sys; sys.path.insert(0, sys.argv[1])
from streamlit.testing.v1 import AppTest
def kb(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field + ":"))
at = AppTest.from_file(sys.argv[1] + "/app.py", default_timeout=300).run()
for page in ("app_pages/predictions.py", "app_pages/probabilities.py", "app_pages/review.py"):
    at.switch_page(page).run()
    if page.endswith("probabilities.py"):
        at.slider(key="prob_threshold").set_value(0.9).run()
    assert not at.exception, (page, at.exception[0].value)
print(json.dumps({"peak": kb("VmHWM") / 1024, "rss": kb("VmRSS") / 1024, "torch": "torch" in sys.modules}))
"""


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


def pages_rss_mb(root: Path, runs_dir: Path, data: str) -> dict:
    """{"peak", "rss" (MB), "torch"} of a fresh app process of checkout `root` after Train, Predictions,
    Probabilities and Review, with one run trained there by that checkout's own code."""
    env = {**os.environ, "MNIST_RUNS_DIR": str(runs_dir), "MNIST_DATA_DIR": str(data_dir())}
    for script, args in ((TRAIN, [str(runs_dir), str(data_dir()), data]), (VISIT, [])):
        out = subprocess.run([sys.executable, "-c", script, str(root), *args], capture_output=True, text=True,
                             env=env, cwd=root)
        if out.returncode:
            raise SystemExit(f"{root}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def pages_rows(quick: bool, before: Path | None) -> list[Row]:
    """The RSS after the four pages that show stored arrays, beside the 500 MB target (and `before`'s)."""
    data = "mnist-sample" if quick else "mnist"
    with tempfile.TemporaryDirectory() as tmp:
        now = pages_rss_mb(ROOT, Path(tmp) / "runs", data)
        old = pages_rss_mb(before.resolve(), Path(tmp) / "before", data) if before else None
    rows = []
    for key, what in (("peak", "peak"), ("rss", "now")):
        measure = f"RSS ({what}) after Train, Predictions, Probabilities, Review; torch loaded: {now['torch']}"
        rows.append(Row("app memory", measure, now[key], "MB", f"before ({before})" if old else "target",
                        old[key] if old else PAGES_RSS_TARGET_MB, f"<= {PAGES_RSS_TARGET_MB:.0f} MB",
                        None if quick else now[key] <= PAGES_RSS_TARGET_MB))
    if old:
        print(f"before ({before}): torch loaded after those pages: {old['torch']}", flush=True)
    return rows


def run(quick: bool = False, before: Path | None = None) -> list[Row]:
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
    return rows + pages_rows(quick, before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="offline sample (1,000 test images)")
    parser.add_argument("--before", type=Path, help="another checkout whose pages' RSS is printed beside")
    args = parser.parse_args()
    print_rows(run(args.quick, args.before))


if __name__ == "__main__":
    main()
