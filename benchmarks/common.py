"""Shared pieces of the benchmark scripts: where the data is, the result row, the table, the machine line.

Not run on its own; see benchmarks/run.py. Importing it puts the repository root on sys.path, so
`python benchmarks/<name>.py` works from anywhere without installing anything, and imports mnist_core before
torch, so the benchmarks run under the product's thread settings.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
import mnist_core  # noqa: E402, F401  (before torch: the product's OpenMP wait policy, see mnist_core/__init__.py)


def data_dir() -> Path:
    """MNIST_DATA_DIR, else ../shared/data next to the repository (where the real MNIST IDX files are)."""
    return Path(os.environ.get("MNIST_DATA_DIR") or REPO_ROOT.parent / "shared" / "data").resolve()


@dataclass
class Row:
    """One measured figure beside its reference, both measured in the same run."""

    benchmark: str
    measure: str
    value: float
    unit: str
    reference: str = ""
    reference_value: float | None = None
    target: str = ""  # e.g. ">= 2.5x", "< 1 s"
    met: bool | None = None  # None when the target does not apply (a --quick smoke run, say)

    @property
    def ratio(self) -> float | None:
        if self.reference_value is None or self.value == 0:
            return None
        return self.reference_value / self.value


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM) in MB, as Linux counts it for the program now running.

    Not getrusage's ru_maxrss: Linux carries the high-water mark of the address space a process had before
    exec into it, so a child started from a benchmark that holds torch and MNIST reports the parent's size.
    """
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return kb / 1024


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def machine() -> str:
    """`nproc`, the CPU model and the 1/5/15-minute load average: what a figure was measured on."""
    model = platform.processor() or "unknown CPU"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    import torch

    return (f"{os.cpu_count()} CPUs ({model}), torch {torch.__version__} with {torch.get_num_threads()} threads, "
            f"load average {load_average()}")


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def format_table(rows: list[Row]) -> str:
    """A Markdown table: benchmark, measure, value, reference, reference value, ratio, target, met."""
    header = ["benchmark", "measure", "value", "reference", "ref. value", "ratio (ref/value)", "target", "met"]
    lines = [header, ["---"] * len(header)]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        met = {True: "yes", False: "NO", None: ""}[r.met]
        lines.append([r.benchmark, r.measure, _fmt(r.value, r.unit), r.reference, _fmt(r.reference_value, r.unit),
                      ratio, r.target, met])
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def print_rows(rows: list[Row]) -> None:
    print(format_table(rows))
    print(f"\nmachine: {machine()}")


def quick_requested(doc: str) -> bool:
    """A benchmark script's one flag, --quick, parsed with its docstring's first line as the --help text."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="offline sample (1,000 test images)")
    return parser.parse_args().quick
