"""The first convolution's weight gradient: ImageConv2d's batch correlation against oneDNN's own, side by side.

    python benchmarks/first_conv.py [--quick] [--rounds 40] [--repeats 3]      (also part of benchmarks/run.py)

mnist_core.nets.CORRELATE_FIRST_CONV picks it by CPU vendor (the correlation on Intel, where it was measured 3x
faster for that gradient; oneDNN's elsewhere). This measures both on this machine, whichever it is:
1. a float32 training step (forward, backward, Adam) of each net at its recipe's batch size, the two ways in one
   process, `--rounds` alternating chunks of steps, the median chunk of each (chunks, not one long run each,
   because this shared machine's speed drifts by 2x within minutes);
2. `python -m mnist_core.train --recipe notebook --epochs 2` start to exit (issue 15's target 1) with the switch
   on and off, fresh interpreters, alternating `--repeats` times, the median of each; the first-epoch losses must
   agree within 1e-3 (the two gradients differ in float rounding only).
--quick: a few chunks and 1 epoch of the offline sample (a smoke run, no target).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import Row, data_dir, print_rows
from whole_process import alternate

NETS = (("notebook", 64), ("fast", 128), ("best", 128), ("deep", 128))  # (architecture, its recipe's batch)
# The training CLI with the switch set before anything trains: argv[1] is "1" (correlate) or "0" (oneDNN's)
SWITCHED = """import sys
import mnist_core.nets as nets
nets.CORRELATE_FIRST_CONV = sys.argv.pop(1) == "1"
from mnist_core.train import main
sys.exit(main(sys.argv[1:]))
"""


def step_ms(rounds: int, steps: int) -> list[Row]:
    """Per net, the median milliseconds of a training step with oneDNN's weight gradient against the
    correlation's, alternating chunks of `steps` (the first round warms oneDNN's primitives up and is dropped)."""
    import torch
    import torch.nn.functional as F

    import mnist_core.nets as nets
    from mnist_core.optim import FusedOptimizer

    picked, rows = nets.CORRELATE_FIRST_CONV, []
    for arch, batch in NETS:
        x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
        times: dict[bool, list[float]] = {True: [], False: []}
        trainers = {}
        for correlate in times:
            torch.manual_seed(0)
            net = nets.make_net(arch)
            trainers[correlate] = (net, FusedOptimizer("adam", net.parameters(), lr=1e-3))
        for _ in range(rounds + 1):
            for correlate, (net, optimizer) in trainers.items():
                nets.CORRELATE_FIRST_CONV = correlate
                start = time.perf_counter()
                for _ in range(steps):
                    loss = F.cross_entropy(net(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                times[correlate].append((time.perf_counter() - start) / steps * 1e3)
        rows.append(Row("first_conv", f"`{arch}` net, batch {batch}, a float32 training step with oneDNN's weight "
                        "gradient", statistics.median(times[False][1:]), "ms", "the correlation",
                        statistics.median(times[True][1:])))
    nets.CORRELATE_FIRST_CONV = picked
    return rows


def run(quick: bool = False, rounds: int = 40, repeats: int = 3) -> list[Row]:
    from mnist_core.device import cpu_vendor
    from mnist_core.nets import CORRELATE_FIRST_CONV

    print(f"this CPU: {cpu_vendor() or 'vendor unknown'}; the product correlates: {CORRELATE_FIRST_CONV}", flush=True)
    rows = step_ms(2 if quick else rounds, 2 if quick else 10)
    with tempfile.TemporaryDirectory(prefix="first-conv-") as tmp:
        flags = ["--recipe", "notebook", "--data", "mnist-sample" if quick else "mnist", "--data-dir",
                 str(data_dir()), "--runs-dir", str(Path(tmp) / "runs"), "--epochs", "1" if quick else "2"]
        commands = [(name, [sys.executable, "-c", SWITCHED, flag, *flags], None)
                    for name, flag in (("oneDNN's", "0"), ("correlation", "1"))]
        onednn, correlation = alternate(commands, 1 if quick else repeats, loss_digits=5)
    what = "1 epoch of the offline sample (quick)" if quick else "MNIST, 2 epochs"
    loss_gap = abs(onednn[0][1] - correlation[0][1])
    return rows + [
        Row("first_conv", f"`--recipe notebook` on {what}, start to exit, oneDNN's weight gradient",
            statistics.median(w for w, _ in onednn), "s", "the correlation",
            statistics.median(w for w, _ in correlation)),
        Row("first_conv", "first-epoch average loss, oneDNN's weight gradient", onednn[0][1], "", "the correlation",
            correlation[0][1], "" if quick else "same within 1e-3", None if quick else loss_gap < 1e-3)]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a few chunks, 1 epoch of the offline sample: a smoke run")
    p.add_argument("--rounds", type=int, default=40, help="alternating chunks of 10 steps per net (default 40)")
    p.add_argument("--repeats", type=int, default=3, help="alternating pairs of CLI runs (default 3)")
    args = p.parse_args()
    print_rows(run(args.quick, args.rounds, args.repeats))
