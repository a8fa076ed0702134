"""mnist_core.optim against torch.optim: the same training command in fresh interpreters, side by side.

    python benchmarks/optim_import.py [--quick] [--repeats 3] [--recipe fast]   (also part of benchmarks/run.py)

`python -m mnist_core.train --recipe R --data mnist` from start to exit as it is (mnist_core.optim's fused steps
and one-cycle schedule) against the same command with the trainer's optimizer and schedule swapped back to
torch.optim's Adam(fused=True) and OneCycleLR, whose first call imports torch._dynamo. Alternating `--repeats`
times so that a busy machine slows both alike; the median of each. Same kernels, same seed: the first-epoch loss
must agree to the last digit printed. Also the bare import of torch._dynamo after torch, in fresh interpreters.
--quick: 1 epoch of the offline sample (a smoke run, no target).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import Row, data_dir, print_rows
from whole_process import alternate, faster_rows

# The trainer with torch.optim's optimizer and schedule, as it was until 2026-12-03 (make_optimizer's arguments).
TORCH_OPTIM = """import sys, torch
import mnist_core.trainer as trainer
from mnist_core.train import main
KINDS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
def make_optimizer(config, net):
    if config.optimizer == "sgd":
        return torch.optim.SGD(net.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                               weight_decay=config.weight_decay, fused=True)
    return KINDS[config.optimizer](net.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
trainer.make_optimizer = make_optimizer
trainer.OneCycle = lambda opt, lr, total: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
sys.exit(main(sys.argv[1:]))
"""
DYNAMO_IMPORT = ("import time, torch; t = time.perf_counter(); import torch._dynamo; "
                 "print(time.perf_counter() - t)")


def dynamo_import_s(repeats: int) -> float:
    """Median seconds of `import torch._dynamo` after `import torch`, each in a fresh interpreter."""
    times = [float(subprocess.run([sys.executable, "-c", DYNAMO_IMPORT], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(repeats)]
    return statistics.median(times)


def run(quick: bool = False, repeats: int = 3, recipe: str = "fast") -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="optim-") as tmp:
        flags = ["--recipe", recipe, "--data", "mnist-sample" if quick else "mnist", "--data-dir", str(data_dir()),
                 "--runs-dir", str(Path(tmp) / "runs")] + (["--epochs", "1"] if quick else [])
        commands = (("mnist_core.optim", [sys.executable, "-m", "mnist_core.train", *flags]),
                    ("torch.optim", [sys.executable, "-c", TORCH_OPTIM, *flags]))
        ours, theirs = alternate([(name, cmd, None) for name, cmd in commands], 1 if quick else repeats,
                                 loss_digits=5)
    what = "1 epoch of the offline sample (quick)" if quick else "MNIST"
    return faster_rows("optim_import", f"`--recipe {recipe}` on {what}, start to exit, mnist_core.optim", ours,
                       "torch.optim (Adam fused, OneCycleLR)", theirs, quick) + [
        Row("optim_import", "import torch._dynamo after torch (what torch.optim's first call costs)",
            dynamo_import_s(1 if quick else repeats), "s", "", None, "", None)]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1 epoch of the offline sample: a smoke run")
    p.add_argument("--repeats", type=int, default=3, help="alternating pairs of runs (default 3)")
    p.add_argument("--recipe", default="fast", help="the recipe both commands train (default fast)")
    args = p.parse_args()
    print_rows(run(args.quick, args.repeats, args.recipe))
