"""Memory: peak resident set size of a training worker, `python -m mnist_core.train`, per recipe.

    python benchmarks/memory.py [--quick]

Each run is a fresh process on real MNIST for one epoch (`--epochs 1`: the peak is reached in the first
epoch; later epochs allocate nothing new) into a temporary runs folder; its peak RSS is the kernel's VmHWM,
read by the process itself at the end. The reference is the notebook's loop (benchmarks/notebook_reference.py,
one epoch) in a process of its own. Quick: the `notebook` recipe only, and the reference for 100 batches.
Target: < 1.5 GB.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO_ROOT, Row, data_dir, print_rows

TARGET_MB = 1500.0
RECIPES = ("notebook", "fast", "best")


# Runs the target inside a Python that then reports its own peak (common.peak_rss_mb: why not os.wait4's rusage)
WRAPPER = """import runpy, sys
sys.path.insert(0, {bench!r})
from common import peak_rss_mb
target = sys.argv[1]
sys.argv = sys.argv[1:]
try:
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        # not as __main__: mnist_core.train's own entry ends with os._exit, which would skip the report below
        sys.exit(runpy.run_module(target, run_name="benchmarked", alter_sys=True)["main"]())
finally:
    print(f"peak RSS MB {{peak_rss_mb()}}")
"""


def peak_rss(target: str, args: list[str]) -> float:
    """Run a module name or a .py path with args in a fresh Python; return its peak RSS in MB.
    Raises RuntimeError with its output if it fails."""
    code = WRAPPER.format(bench=str(Path(__file__).parent))
    proc = subprocess.run([sys.executable, "-c", code, target, *args], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr)[-2000:]
        raise RuntimeError(f"{target} {' '.join(args)} exited {proc.returncode}:\n{output}")
    return float(proc.stdout.strip().splitlines()[-1].split()[-1])


def run(quick: bool = False) -> list[Row]:
    reference = peak_rss(str(Path(__file__).with_name("notebook_reference.py")),
                         ["--epochs", "1"] + (["--steps", "100"] if quick else []))
    print(f"notebook loop: peak RSS {reference:.0f} MB", flush=True)
    rows = []
    for recipe in RECIPES[:1] if quick else RECIPES:
        with tempfile.TemporaryDirectory() as runs_dir:
            peak = peak_rss("mnist_core.train", ["--recipe", recipe, "--epochs", "1", "--data", "mnist",
                                                 "--data-dir", str(data_dir()), "--runs-dir", runs_dir])
        print(f"`{recipe}` recipe worker: peak RSS {peak:.0f} MB", flush=True)
        rows.append(Row("memory", f"peak RSS, training worker, `{recipe}` recipe, 1 epoch", peak, "MB",
                        "notebook loop process", reference, f"< {TARGET_MB:,.0f} MB", peak < TARGET_MB))
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="the notebook recipe only")
    print_rows(run(p.parse_args().quick))
