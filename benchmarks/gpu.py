"""GPU benchmark: training-step throughput and time to 99 % test accuracy on real MNIST, on one GPU.

    python benchmarks/gpu.py [--data-dir DIR]        # on a CUDA machine: every figure (a few minutes)
    python benchmarks/gpu.py --device cpu --quick    # the same code paths, tiny, on the CPU (a smoke test)

Without a CUDA GPU (and without --device cpu) it says it is skipping and exits 0.

1. Throughput of the notebook net's whole training step (batch gather and normalisation on the device,
   forward, cross-entropy, backward, Adam) per batch size, for eager / torch.compile / CUDA graph (the whole
   step captured; CUDA only) in fp32 and bf16 autocast: images/s and the ratio to eager fp32 alongside.
2. Time to 99 %: the product's trainer (mnist_core.trainer.train, the data kept on the device) at the
   notebook's batch 64 and at large batches with a one-cycle schedule: seconds until the first epoch whose
   test accuracy reaches 99 %, and the training throughput.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere, without installing

from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.data import Dataset, default_data_dir, load_dataset, normalization, to_model_input  # noqa: E402
from mnist_core.nets import make_net  # noqa: E402
from mnist_core.trainer import train  # noqa: E402

MODES = ("eager", "compile", "graph")
PRECISIONS = ("fp32", "bf16")
TARGET = 0.99
# (batch size, peak lr, schedule) for time to 99 %: the notebook's batch, then large batches with one-cycle
RECIPES = [(64, 1e-3, "constant"), (512, 4e-3, "onecycle"), (2048, 8e-3, "onecycle")]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python benchmarks/gpu.py", description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the code paths, not the speed")
    p.add_argument("--data", default="mnist")
    p.add_argument("--data-dir", default=str(default_data_dir()))
    p.add_argument("--modes", default="", help=f"comma list of {', '.join(MODES)} (default: all that apply)")
    p.add_argument("--epochs", type=int, default=30, help="most epochs per time-to-99 %% run")
    return p.parse_args(argv)


def step_fn(mode: str, bf16: bool, model, optimizer, images, labels, batch: int, mean: float, std: float):
    """A function running one training step on batch indices `idx` (B,) on the device; returns the loss."""
    device = images.device
    net = torch.compile(model) if mode == "compile" else model

    def forward_backward(idx: torch.Tensor) -> torch.Tensor:
        x = to_model_input(images[idx], mean, std)  # (B, 1, 28, 28)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16, cache_enabled=mode != "graph"):
            loss = F.cross_entropy(net(x), labels[idx])
        loss.backward()
        optimizer.step()
        return loss

    def step(idx: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        return forward_backward(idx)

    if mode != "graph":
        return step
    # Whole-step capture as in the CUDA graphs docs: warm up on a side stream, then capture with the grads
    # unset, so that backward allocates them in the graph's pool and every replay overwrites them.
    static_idx = torch.zeros(batch, dtype=torch.long, device=device)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step(static_idx)
    torch.cuda.current_stream().wait_stream(side)
    optimizer.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss = forward_backward(static_idx)

    def replay(idx: torch.Tensor) -> torch.Tensor:
        static_idx.copy_(idx)
        graph.replay()
        return static_loss

    return replay


def throughput(mode: str, precision: str, data: Dataset, batch: int, steps: int, device: torch.device) -> tuple:
    """(images/s, seconds of warm-up incl. compilation or capture) of `steps` timed training steps."""
    torch.manual_seed(0)
    model = make_net("notebook").to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=mode == "graph")
    images, labels = data.train_images.to(device), data.train_labels.to(device)
    mean, std = normalization(True)
    order = torch.randint(len(labels), (steps + 3, batch), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    start = time.perf_counter()
    step = step_fn(mode, precision == "bf16", model, optimizer, images, labels, batch, mean, std)
    for i in range(3):
        step(order[i])
    sync()
    warm = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(3, steps + 3):
        loss = step(order[i])
    sync()
    elapsed = time.perf_counter() - start
    if not torch.isfinite(loss):
        raise RuntimeError(f"{mode}/{precision} at batch {batch}: the loss became {loss.item()}")
    return steps * batch / elapsed, warm


def time_to_target(data: Dataset, batch: int, lr: float, schedule: str, epochs: int, device: str) -> dict:
    """Train with the product trainer; the seconds and epochs until test accuracy >= TARGET (None: not reached)."""
    config = TrainConfig(data=data.name, epochs=epochs, batch_size=batch, lr=lr, schedule=schedule, device=device)
    reached, best, last = None, 0.0, {}
    for event in train(config, data):
        if event["type"] == "epoch":
            best, last = max(best, event["test_accuracy"]), event
            if reached is None and event["test_accuracy"] >= TARGET:
                reached = (event["elapsed"], event["epoch"] + 1)
        elif event["type"] == "failed":
            raise RuntimeError(f"batch {batch}: {event['error']}")
    images_per_s = len(data.train_labels) * (last["epoch"] + 1) / last["elapsed"]
    return {"reached": reached, "best": best, "epochs": last["epoch"] + 1, "images_per_s": images_per_s}


def subset(data: Dataset, train: int, test: int) -> Dataset:
    return dataclasses.replace(data, train_images=data.train_images[:train], train_labels=data.train_labels[:train],
                               test_images=data.test_images[:test], test_labels=data.test_labels[:test])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here: skipping the GPU benchmark (python benchmarks/gpu.py --device cpu --quick "
              "runs its code paths on the CPU)")
        return 0
    device = torch.device(args.device)
    modes = [m for m in (args.modes.split(",") if args.modes else MODES) if m]
    if device.type != "cuda":
        skipped = [m for m in modes if m == "graph" or (m == "compile" and not args.modes)]
        modes = [m for m in modes if m not in skipped]
        if skipped:
            print(f"on the CPU: skipping {', '.join(skipped)} (graph is CUDA only; ask for compile with --modes)")
    data = load_dataset(args.data, args.data_dir)
    if args.quick:
        data = subset(data, 2048, 512)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {name}, torch {torch.__version__}, data {data}")

    batches, steps = ([64, 256], 5) if args.quick else ([64, 512, 4096, 16384], 200)
    print(f"\n1. training-step throughput, images/s (x eager fp32 at the same batch), {steps} timed steps")
    print("batch  " + "".join(f"{m + '/' + p:>26}" for m in modes for p in PRECISIONS))
    for batch in batches:
        cells, base = [], None
        for mode in modes:
            for precision in PRECISIONS:
                rate, warm = throughput(mode, precision, data, batch, steps, device)
                base = base or rate
                cells.append(f"{rate:>12,.0f} (x{rate / base:4.2f}) w{warm:4.1f}s")
        print(f"{batch:>5}  " + "".join(f"{c:>26}" for c in cells))
    print("(w: warm-up seconds of the first 3 steps, compilation or capture included)")

    recipes, epochs = ([(64, 1e-3, "constant"), (256, 4e-3, "onecycle")], 1) if args.quick else (RECIPES, args.epochs)
    print(f"\n2. time to {TARGET:.0%} test accuracy with mnist_core.trainer (at most {epochs} epochs)")
    for batch, lr, schedule in recipes:
        r = time_to_target(data, batch, lr, schedule, epochs, args.device)
        reached = (f"{r['reached'][0]:7.1f} s ({r['reached'][1]} epochs)" if r["reached"]
                   else f"not reached (best {r['best']:.4f} in {r['epochs']} epochs)")
        print(f"batch {batch:>5}, lr {lr:g} {schedule:<9}: time to {TARGET:.0%} {reached}; "
              f"{r['images_per_s']:,.0f} images/s overall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
