"""bfloat16 against float32 training steps: the same recipe, seed and data, whole processes, side by side.

    python benchmarks/precision.py [--quick] [--recipes fast,best] [--seeds 0,1,2]

Each recipe runs as a user runs it, `python -m mnist_core.train --recipe R --seed S --precision P`, once with
float32 (the reference) and once with bfloat16, timed from start to exit; the rows give the bfloat16 process's
time and test accuracy beside float32's. On a CPU without native bfloat16 (mnist_core.device.cpu_has_bf16:
AVX512-BF16 or AMX) the bfloat16 rows show what the recipes avoid there. Full: about 25 s per seed of `fast`
on 2 cores, 13 more minutes per seed of `best` (run it in the background); quick: 1 epoch on the offline sample.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import Row, load_average, print_rows
from time_to_accuracy import train_recipe

from mnist_core.device import cpu_has_bf16


def run(quick: bool = False, recipes: tuple[str, ...] = ("fast",), seeds: tuple[int, ...] = (0,)) -> list[Row]:
    print(f"this CPU computes bfloat16 natively: {cpu_has_bf16()}; load average {load_average()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="precision-") as tmp:
        for recipe in recipes:
            for seed in seeds:
                (f32_s, f32_acc, _), (bf16_s, bf16_acc, curve) = (
                    train_recipe(recipe, seed, Path(tmp) / "runs", quick, ("--precision", precision))
                    for precision in ("float32", "bfloat16"))
                print(f"`{recipe}` seed {seed}: float32 {f32_s:.1f} s {f32_acc * 100:.2f} %, bfloat16 {bf16_s:.1f} s "
                      f"{bf16_acc * 100:.2f} % (per epoch: {curve})", flush=True)
                rows.append(Row("precision", f"`{recipe}` recipe, seed {seed}, bfloat16, whole process: "
                                f"{bf16_acc * 100:.2f} % test accuracy", bf16_s, "s",
                                f"float32: {f32_acc * 100:.2f} %", f32_s))
    print(f"load average after {load_average()}")
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: 1 epoch of each recipe on the offline sample")
    p.add_argument("--recipes", default="fast", help="comma list of recipes (fast, best, default, notebook)")
    p.add_argument("--seeds", default="0", help="comma list of seeds")
    args = p.parse_args()
    print_rows(run(args.quick, tuple(args.recipes.split(",")), tuple(int(s) for s in args.seeds.split(","))))
