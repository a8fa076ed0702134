"""Training on several processes with PyTorch's own engine: process group, sharding, gathering.

torchrun (or the dashboard's supervisor in mnist_core.launch) starts one process per rank with RANK,
WORLD_SIZE, LOCAL_RANK and MASTER_ADDR/PORT in the environment. `setup` joins the process group (gloo on
CPU, nccl on CUDA with GPU LOCAL_RANK per rank) and returns a `DistContext`, whose small hooks the trainer
calls: wrap the net in DistributedDataParallel, give each rank its share of the epoch's permutation, agree
on stopping, average losses, and gather the test probabilities back into test-set order. A plain single
process uses `LOCAL`, whose hooks change nothing.

`config.batch_size` stays the *global* batch: each of W ranks takes ceil(batch_size / W) images a step, so
a recipe means the same with 1 or W processes (with W dividing batch size and set size, the very same batches).

    torchrun --nproc-per-node 2 -m mnist_core.train --data mnist-sample --epochs 1
"""
from __future__ import annotations

import datetime
import math
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mnist_core.device import cuda_devices, resolve_device

# torch is imported where a hook runs, not here: the dashboard's server imports this module (the training
# queue asks max_workers how many cores there are) and shows its pages without torch.
if TYPE_CHECKING:
    import torch
    import torch.nn as nn

TIMEOUT_ENV = "MNIST_DIST_TIMEOUT_S"  # seconds a collective waits for a silent rank before failing
DEFAULT_TIMEOUT_S = 300.0  # long enough for every rank to load a dataset before the first collective
FAULT_ENV = "MNIST_DIST_EXIT_AT"  # "RANK:STEP": that rank exits at that step; fault drills and tests
FAULT_EXIT_CODE = 3
STOP_CHECK_EVERY = 10  # steps between stop votes: one tiny all_reduce, not one per step


class Terminated(Exception):
    """The launcher stopped this rank (SIGTERM), usually because another rank of the job failed."""


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the job. The default (`LOCAL`) is a plain single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device | None = None  # None: the trainer resolves config.device itself
    exit_at_step: int | None = None  # fault injection for this rank, from MNIST_DIST_EXIT_AT

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes the run store and prints progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def wrap(self, net: nn.Module) -> nn.Module:
        if not self.enabled:
            return net
        from torch.nn.parallel import DistributedDataParallel

        on_gpu = self.device is not None and self.device.type == "cuda"
        return DistributedDataParallel(net, device_ids=[self.device.index] if on_gpu else None)

    def unwrap(self, net: nn.Module) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        return net.module if isinstance(net, DistributedDataParallel) else net

    def shard_size(self, n: int) -> int:
        """Images per rank per epoch: the same on every rank, so every rank takes the same number of steps."""
        return math.ceil(n / self.world_size)

    def local_batch_size(self, batch_size: int) -> int:
        return math.ceil(batch_size / self.world_size)

    def shard(self, order: torch.Tensor) -> torch.Tensor:
        """This rank's share of an epoch's permutation (identical on all ranks: same seed).

        The permutation is padded by wrapping around (at most W-1 repeats), then dealt out rank by rank, so
        local batch s of every rank together make up global batch s of the padded permutation.
        """
        if not self.enabled or len(order) == 0:
            return order
        return order[_wrapped(len(order), self.world_size)][self.rank::self.world_size]

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of `value` over all ranks (same on every rank); `value` itself when single."""
        if not self.enabled:
            return value
        import torch.distributed as tdist

        total = value.detach().clone()
        tdist.all_reduce(total)
        return total / self.world_size

    def stop_together(self, should_stop: Callable[[], bool]) -> Callable[[], bool]:
        """A should_stop that all ranks answer alike: a rank leaving alone would hang the others."""
        if not self.enabled:
            return should_stop
        import torch
        import torch.distributed as tdist

        calls = 0

        def agreed() -> bool:
            nonlocal calls
            calls += 1
            if calls == self.exit_at_step:
                os._exit(FAULT_EXIT_CODE)  # a hard crash, as an OOM kill or a lost node would look
            if calls % STOP_CHECK_EVERY:
                return False
            vote = torch.tensor([float(should_stop())], device=self.device)
            tdist.all_reduce(vote, op=tdist.ReduceOp.MAX)
            return bool(vote.item())

        return agreed

    def predict_proba(self, net: nn.Module, images: torch.Tensor, mean: float, std: float,
                      device: torch.device | str | None = None) -> torch.Tensor:
        """core predict_proba on this rank's slice of `images`, gathered: (N, C) in `images` order, on every rank."""
        import torch
        import torch.distributed as tdist

        from mnist_core.predict import predict_proba as predict_proba_local

        net = self.unwrap(net)
        if not self.enabled:
            return predict_proba_local(net, images, mean, std, device=device)
        for buffer in net.buffers():  # e.g. BatchNorm statistics drift per rank; evaluate rank 0's, as saved
            tdist.broadcast(buffer, src=0)
        n = len(images)
        per_rank = math.ceil(n / self.world_size)
        mine = _wrapped(n, self.world_size)[self.rank * per_rank:(self.rank + 1) * per_rank]
        local = predict_proba_local(net, images[mine], mean, std, device=device)  # (per_rank, C) on the CPU
        on_gpu = self.device is not None and self.device.type == "cuda"
        local = local.to(self.device) if on_gpu else local  # nccl gathers GPU tensors only
        parts = [torch.empty_like(local) for _ in range(self.world_size)]
        tdist.all_gather(parts, local)
        return torch.cat(parts).cpu()[:n]


LOCAL = DistContext()


def _wrapped(n: int, world_size: int) -> torch.Tensor:
    """0..n-1 padded by wrapping around to a multiple of world_size."""
    import torch

    return torch.arange(math.ceil(n / world_size) * world_size) % n


def launched_by_torchrun() -> bool:
    """True inside a torchrun job of more than one process (torchrun sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device_name: str = "auto") -> DistContext:
    """Join the process group torchrun described in the environment; raise ValueError on a bad setup."""
    import torch
    import torch.distributed as tdist

    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name)
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"local rank {local_rank} needs GPU {local_rank}, but this node has "
                             f"{torch.cuda.device_count()}: start at most that many processes per node")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    timeout = datetime.timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
    tdist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout)
    signal.signal(signal.SIGTERM, _raise_terminated)
    return DistContext(rank, world_size, local_rank, device, _fault_step(rank))


def teardown(ctx: DistContext) -> None:
    import torch.distributed as tdist

    if ctx.enabled and tdist.is_initialized():
        tdist.destroy_process_group()
    if ctx.enabled:  # done: a late SIGTERM from torchrun may now simply end the process
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_terminated(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the failure be recorded undisturbed
    raise Terminated("stopped by the launcher (SIGTERM), usually because another training process failed")


def _fault_step(rank: int) -> int | None:
    spec = os.environ.get(FAULT_ENV, "")
    if not spec:
        return None
    fault_rank, _, step = spec.partition(":")
    return int(step) if int(fault_rank) == rank else None


def max_workers(device_name: str = "auto") -> int:
    """How many training processes this machine can usefully run: one per GPU, else one per core."""
    if device_name != "cpu" and cuda_devices():  # asked without torch: the Train page shows this number
        return cuda_devices()
    if device_name == "cuda":
        resolve_device(device_name)  # raises: "cuda" asked for on a machine without a GPU
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
