"""Latency of the "understand the model" views: server-side rerun time (AppTest timing) of the Probabilities page's
calibrated switch and epoch slider, the Compare page when the pair A/B changes, and the Network page when it
goes back to an image it has shown; plus the Network page's first visit to a new image (attributions computed).

    python benchmarks/understand_latency.py [--quick]        (also part of `python benchmarks/run.py`)

Target (issue 13): every page under 300 ms on the server after its first visit for a run. Two runs of 2 epochs
are trained first (real MNIST, 5,000 validation images; --quick: the offline sample, 400).
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from app_latency import time_reruns
from common import REPO_ROOT as ROOT
from common import Row, data_dir, print_rows, quick_requested

TARGET_MS = 300.0


def make_runs(runs_dir: Path, data: str, validation: int) -> list[str]:
    from mnist_core import runs
    from mnist_core.config import TrainConfig
    from mnist_core.launch import run_training

    ids = []
    for seed in (1, 2):
        config = TrainConfig(data=data, epochs=2, device="cpu", seed=seed, validation=validation)
        run_dir = runs.create_run(runs_dir, config)
        if run_training(config, run_dir, data_dir())["status"] != "finished":
            raise SystemExit("could not train a benchmark run")
        ids.append(run_dir.name)
    return ids


def first_visits(indices: list[int]) -> list[float]:
    """Milliseconds of the Network page's rerun for an image it has not shown before (feature maps, 3 methods x
    up to 2 classes of attributions). Their results stay cached for the whole process, as on a server."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/network.py").run()
    times = []
    for i in indices:
        start = time.perf_counter()
        at.number_input(key="net_index").set_value(i).run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def swap_pair(at, a: str, ids: list[str]):
    """Set run A to `a` and run B to the other run, so that every rerun compares two runs."""
    at.selectbox(key="compare_a").set_value(a)
    return at.selectbox(key="compare_b").set_value(ids[1] if a == ids[0] else ids[0])


def run(quick: bool = False) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MNIST_DATA_DIR"], os.environ["MNIST_RUNS_DIR"] = str(data_dir()), str(Path(tmp) / "runs")
        ids = make_runs(Path(tmp) / "runs", "mnist-sample" if quick else "mnist", 400 if quick else 5000)
        toggles = time_reruns("app_pages/probabilities.py", [True, False] * 6,
                              lambda at, v: at.toggle(key="prob_calibrated").set_value(v))
        epochs = time_reruns("app_pages/probabilities.py", [1, 2] * 6,
                             lambda at, v: at.slider(key="prob_epoch").set_value(v))
        pairs = time_reruns("app_pages/compare.py", [ids[0], ids[1]] * 6, lambda at, v: swap_pair(at, v, ids))
        fresh = first_visits([3, 4, 10, 11, 12, 13, 14])[2:]  # 3 and 4 are then revisited below
        revisits = time_reruns("app_pages/network.py", [3, 4] * 6,
                               lambda at, v: at.number_input(key="net_index").set_value(v))
    rows = [Row("understand latency", name, statistics.median(times), "ms", "target", TARGET_MS,
                f"< {TARGET_MS:.0f} ms", None if quick else statistics.median(times) < TARGET_MS)
            for name, times in [("Probabilities rerun, calibrated switch (median)", toggles),
                                ("Probabilities rerun, epoch slider (median)", epochs),
                                ("Compare rerun, run A changed (median)", pairs),
                                ("Network rerun, an image shown before (median)", revisits)]]
    rows.append(Row("understand latency", "Network, first visit to an image (median)", statistics.median(fresh), "ms"))
    return rows


if __name__ == "__main__":
    print_rows(run(quick_requested(__doc__)))
