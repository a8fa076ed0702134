"""Where a rerun's time goes: cProfile of the script thread for the load benchmark's three actions (AppTest).

    python benchmarks/rerun_profile.py [--quick] [--reruns 5] [--top 25]

Trains a 1-epoch run (real MNIST; --quick: the offline sample), then, through streamlit's AppTest, pages the
Predictions grid, moves the Probabilities slider and gives "Fine" verdicts on Review, `--reruns` times each,
with cProfile on the thread that runs the script (AppTest runs it in a thread of its own, so profiling the
main thread would only show the wait). Prints ms per rerun, the part AppTest spends compiling the page (a
fresh ScriptCache per run: the server compiles each page once, so subtract it), and the top functions by
cumulative time. Figures under cProfile are inflated by its overhead; use them as proportions. Findings:
benchmarks/README.md, "Load: where the time goes".
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

from app_latency import make_run
from common import REPO_ROOT as ROOT
from common import data_dir

ACTIONS = [  # (name, page, how to act on the AppTest, given the rerun's number)
    ("paging", "app_pages/predictions.py", lambda at, i: at.number_input(key="pred_page").set_value(2 + i)),
    ("slider", "app_pages/probabilities.py", lambda at, i: at.slider(key="prob_threshold").set_value(0.8 - i / 100)),
    ("verdict", "app_pages/review.py", lambda at, i: at.button(key="review_fine").click()),
]


def profile_script_thread() -> list[cProfile.Profile | None]:
    """Wrap ScriptRunner._run_script so that the profile in the returned one-item list (when set) records it."""
    from streamlit.runtime.scriptrunner import script_runner

    current: list[cProfile.Profile | None] = [None]
    run_script = script_runner.ScriptRunner._run_script

    def profiled(self, *args, **kwargs):
        if current[0] is None:
            return run_script(self, *args, **kwargs)
        current[0].enable()
        try:
            return run_script(self, *args, **kwargs)
        finally:
            current[0].disable()

    script_runner.ScriptRunner._run_script = profiled
    return current


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="the offline mnist-sample (1,000 test images)")
    p.add_argument("--reruns", type=int, default=5, help="profiled reruns per action (after one warm-up)")
    p.add_argument("--top", type=int, default=25, help="functions shown per action")
    args = p.parse_args()
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(MNIST_DATA_DIR=str(data_dir()), MNIST_RUNS_DIR=str(Path(tmp) / "runs"),
                          MNIST_REVIEW_DB=f"sqlite:///{Path(tmp) / 'reviews.db'}")
        make_run(Path(tmp) / "runs", data_dir(), "mnist-sample" if args.quick else "mnist")
        current = profile_script_thread()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["reviewer"] = "profile"  # the Review page's verdict buttons need a reviewer
        at.run()
        for name, page, act in ACTIONS:
            at.switch_page(page).run()
            act(at, 0).run()  # warm the caches once, as a visitor's first action does
            current[0], start = cProfile.Profile(), time.perf_counter()
            for i in range(1, args.reruns + 1):
                act(at, i).run()
            ms = (time.perf_counter() - start) * 1000 / args.reruns
            stats = pstats.Stats(current[0])
            current[0] = None
            if at.exception:
                raise SystemExit(f"{page} raised: {at.exception[0].value}")
            compile_s = sum(v[3] for k, v in stats.stats.items() if k[2] == "get_bytecode")
            print(f"\n== {name} ({page}): {ms:.0f} ms per rerun under cProfile, of which compiling the page "
                  f"(AppTest only) {compile_s * 1000 / args.reruns:.0f} ms")
            stats.strip_dirs().sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
