"""Click to first progress: from pressing Start training on the Train page to the first batch event in the run's
metrics.jsonl, with a fresh worker (cold) and with the server's standby worker (mnist_core/standby.py).

    python benchmarks/first_progress.py [--quick] [--repeats 5]      (also part of `python benchmarks/run.py`)

The Train page of app.py runs in AppTest, in this process, as in a server: the click is
`at.button(key="train_start").click().run()` (the page's rerun, start_worker, the dispatch) and the clock stops
when the run's first batch event is in metrics.jsonl (polled every 10 ms). Cold and standby alternate, `--repeats`
times each; before a standby click the standby is ready and the machine has rested 2 s, so that each side gets
an idle machine; each run is cancelled after its first batch. Also measured: how long the replacement standby
takes to be ready after one took a run (the next click is fast again from then). `fast` recipe on MNIST; --quick:
one repeat each on the offline `mnist-sample` (no targets).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import REPO_ROOT, Row, data_dir, load_average, print_rows

TARGET_S = 3.0


def first_batch_s(runs_dir: Path, t0: float) -> tuple[float, Path]:
    """Seconds from t0 to the new run's first batch event, and the run's folder."""
    from mnist_core import runs

    deadline = t0 + 300
    while time.perf_counter() < deadline:
        found = [r for r in runs.list_runs(runs_dir) if r.status in ("running", "queued")]
        if found and any(e["type"] == "batch" for e in runs.read_events(found[0].path)):
            return time.perf_counter() - t0, found[0].path
        time.sleep(0.01)
    raise RuntimeError("no batch event within 300 s of the click")


def stop_run(run_dir: Path) -> None:
    """Cancel the run and wait for its worker to exit (no run left training beside the next measurement)."""
    from mnist_core import jobs, procs, runs
    from mnist_core.files import read_json

    jobs.cancel(run_dir)
    while runs.read_run(run_dir).status in ("running", "queued") or \
            procs.worker_alive(read_json(run_dir / "status.json")):
        time.sleep(0.05)


def wait_ready(keeper) -> float:
    t0 = time.perf_counter()
    while keeper.pid() is None:
        time.sleep(0.02)
    return time.perf_counter() - t0


def click(at, runs_dir: Path) -> tuple[float, Path]:
    t0 = time.perf_counter()
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    return first_batch_s(runs_dir, t0)


def run(quick: bool = False, repeats: int = 5) -> list[Row]:
    from streamlit.testing.v1 import AppTest

    from mnist_core import standby

    data, repeats = ("mnist-sample", 1) if quick else ("mnist", repeats)
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(tmp) / "runs"
        os.environ.update(MNIST_DATA_DIR=str(data_dir()), MNIST_RUNS_DIR=str(runs_dir),
                          MNIST_STANDBY="0")  # app.py starts none: this script starts and stops its own
        at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
        at.run()
        at.switch_page("app_pages/train.py").run()
        at.selectbox(key="train_data").set_value(data)
        at.selectbox(key="train_recipe").set_value("fast").run()
        assert not at.exception, at.exception
        cold, warm, replaced = [], [], []
        for i in range(repeats):
            time.sleep(2)
            seconds, run_dir = click(at, runs_dir)
            cold.append(seconds)
            stop_run(run_dir)
            os.environ[standby.STANDBY_ENV] = "1"
            keeper = standby.start_standby(runs_dir, data_dir())
            os.environ[standby.STANDBY_ENV] = "0"
            wait_ready(keeper)
            time.sleep(2)
            seconds, run_dir = click(at, runs_dir)
            warm.append(seconds)
            replaced.append(wait_ready(keeper))  # while the run trains: the replacement warms up at nice 10
            stop_run(run_dir)
            keeper.stop()
            print(f"repeat {i + 1}: cold {cold[-1]:.2f} s, standby {warm[-1]:.2f} s (next standby ready "
                  f"{replaced[-1]:.1f} s later), load average {load_average()}", flush=True)
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    what = f"Start to first batch, `fast` on {data}, median of {repeats}"
    return [
        Row("first_progress", f"{what}, standby worker (range {min(warm):.2f}-{max(warm):.2f} s)", warm_s, "s",
            f"fresh worker (range {min(cold):.2f}-{max(cold):.2f} s)", cold_s, f"<= {TARGET_S:.0f} s",
            None if quick else warm_s <= TARGET_S),
        Row("first_progress", "the next standby ready after one took a run (it warms up while the run trains)",
            statistics.median(replaced), "s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat each on the offline sample")
    parser.add_argument("--repeats", type=int, default=5, help="clicks of each kind (default 5)")
    args = parser.parse_args()
    print_rows(run(args.quick, args.repeats))


if __name__ == "__main__":
    main()
