"""Benchmark: one canvas drawing to class probabilities (preprocess_drawing + predict_proba), as the Draw page
does on every pen lift. Prints medians over many repeats, each part alone, with torch's own thread count (one
per core) side by side with one thread, and the ratio to the 20 ms target.

    python benchmarks/bench_draw.py                    # untrained notebook net: the cost does not depend on weights
    python benchmarks/bench_draw.py --run runs/<id>    # a trained run's checkpoint

benchmarks/run.py registers it: its row is predict_drawing with one torch thread, as the Streamlit server runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from common import Row, load_average  # first: puts the repository root on sys.path
from PIL import Image, ImageDraw

from mnist_core import runs
from mnist_core.data import normalization
from mnist_core.draw import predict_drawing, preprocess_drawing
from mnist_core.nets import ARCHITECTURES, make_net
from mnist_core.predict import predict_proba

TARGET_MS = 20.0


def drawn_seven(size: int = 280, pen: int = 20) -> np.ndarray:
    """A 7 as the canvas returns it: (size, size, 4) uint8, white anti-aliased ink on opaque black."""
    image = Image.new("RGBA", (size * 4, size * 4), (0, 0, 0, 255))  # drawn 4x, then shrunk: smooth edges
    ImageDraw.Draw(image).line([(70 * 4, 50 * 4), (210 * 4, 50 * 4), (120 * 4, 240 * 4)], fill=(255, 255, 255, 255),
                               width=pen * 4, joint="curve")
    return np.asarray(image.resize((size, size), Image.LANCZOS))


def median_ms(fn, repeats: int) -> tuple[float, float]:
    """(wall, CPU) medians in ms. CPU time (all threads of this process) is the work itself; wall time also
    counts waiting for a core, which is what a user feels on a busy machine."""
    fn()  # warm-up: first call allocates and picks kernels
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def measure(model: torch.nn.Module, canvas: np.ndarray, mean: float, std: float,
            repeats: int) -> list[tuple[float, float]]:
    """(wall, CPU) ms of [preprocess_drawing, predict_proba on its 28x28 output, predict_drawing (both)]."""
    batch = torch.from_numpy(preprocess_drawing(canvas))[None]
    return [median_ms(lambda: preprocess_drawing(canvas), repeats),
            median_ms(lambda: predict_proba(model, batch, mean, std), repeats),
            median_ms(lambda: predict_drawing(model, canvas, mean, std), repeats)]


def run(quick: bool = False) -> list[Row]:
    """One drawing through predict_drawing with one torch thread (the server's setting, see app.py), per net."""
    canvas, (mean, std) = drawn_seven(), normalization(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    for name in ARCHITECTURES:
        model = make_net(name).eval()
        wall, _ = median_ms(lambda m=model: predict_drawing(m, canvas, mean, std), 30 if quick else 300)
        rows.append(Row("draw", f"one drawing, preprocessing + prediction, `{name}` net, 1 thread", wall, "ms",
                        "target", TARGET_MS, f"< {TARGET_MS:g} ms", None if quick else wall < TARGET_MS))
    torch.set_num_threads(threads)
    print(f"load average {load_average()}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run folder whose model.pt to use")
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    if args.run:
        model, meta = runs.load_checkpoint(args.run / "model.pt")
        mean, std = meta["mean"], meta["std"]
    else:
        model, (mean, std) = make_net("notebook").eval(), normalization(True)
    canvas = drawn_seven()
    default_threads = torch.get_num_threads()
    columns = {}
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        columns[f"{threads} thread{'s' if threads > 1 else ''}"] = measure(model, canvas, mean, std, args.repeats)
    torch.set_num_threads(default_threads)

    print(f"one 280x280 drawing -> probabilities, median of {args.repeats}, in ms (wall / CPU); "
          f"model {'run ' + args.run.name if args.run else 'notebook (untrained)'}; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"  {'':30}" + "".join(f"{name:>18}" for name in columns))
    for row, label in enumerate(["preprocess_drawing", "predict_proba (1 image)", "predict_drawing (both)"]):
        print(f"  {label:30}" + "".join(f"{v[row][0]:10.2f} / {v[row][1]:5.2f}" for v in columns.values()))
    print(f"  {'wall ratio to the 20 ms target':30}" + "".join(f"{v[2][0] / TARGET_MS:17.2f}x"
                                                            for v in columns.values()))

if __name__ == "__main__":
    main()
