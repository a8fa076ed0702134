"""A training step's forward, loss and backward, replayed as one CUDA graph where that is possible.

At the recipes' batch sizes (64-128) a GPU step is bound by kernel launches, not arithmetic: on an H200 a CUDA
graph of the notebook net's whole step ran 4.5-7.9x faster than eager at batch 512-64 (benchmarks/gpu.py,
benchmarks/README.md "On a GPU"). The graph here holds the forward, the loss and the backward; the optimizer step,
the one-cycle schedule (it changes Adam's beta1, a float argument of the fused kernel, every step) and the weight
average stay eager. A run's last, smaller batch runs eagerly too, into the same gradient tensors.

Opt-in for now: MNIST_CUDA_GRAPHS=1 turns it on for a single-process CUDA run. It was written after the
session's GPU time was spent, so tests/test_cuda_graph.py's CUDA test (a graphed run against the same run
trained eagerly) has not run on a GPU yet; once it has, and the whole-process figures beside it say it is
faster, the default becomes on. Everything else (the CPU, DistributedDataParallel, the default) takes the
eager path, which is the trainer's loop as it was.

    python -m pytest -q tests/test_cuda_graph.py      (on a machine with a CUDA GPU; skipped elsewhere)
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

WARMUP = 3  # eager passes on a side stream before the capture (cuDNN's algorithm search, lazy allocations)


def use_graphs(device: torch.device, processes: int) -> bool:
    """CUDA graphs for a single-process CUDA run where MNIST_CUDA_GRAPHS=1 (opt-in until checked on a GPU)."""
    return device.type == "cuda" and processes == 1 and os.environ.get("MNIST_CUDA_GRAPHS", "0") == "1"


class LossStep:
    """`step(x, y) -> loss`: the forward, the cross-entropy and the backward of `net` on one batch, leaving the
    gradients in the parameters' .grad (overwritten, not accumulated) for the optimizer. With `graphs`, a batch of
    `batch` rows replays a graph captured on the first such batch; any other batch runs eagerly."""

    def __init__(self, net: torch.nn.Module, precision: torch.autocast, label_smoothing: float, batch: int,
                 graphs: bool):
        self.net, self.label_smoothing, self.batch = net, label_smoothing, batch
        # autocast's weight-cast cache cannot live across graph replays; outside graphs it is autocast as given
        self.precision = (torch.autocast(precision.device, dtype=precision.fast_dtype, enabled=precision._enabled,
                                         cache_enabled=False) if graphs else precision)
        self.graphs, self.graph = graphs, None
        self.params = [p for p in net.parameters() if p.requires_grad]

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with self.precision:
            return F.cross_entropy(self.net(x), y, label_smoothing=self.label_smoothing)

    def _eager(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.graph is None:
            for p in self.params:
                p.grad = None
        else:  # keep the graph's gradient tensors: zero them and let backward add into them
            for p in self.params:
                if p.grad is not None:
                    p.grad.zero_()
        loss = self._loss(x, y)
        loss.backward()
        return loss

    def _capture(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Warm up on a side stream, put back what the warm-up changed (BatchNorm's statistics, the gradients),
        then capture one forward + backward on static input buffers."""
        buffers = [b.clone() for b in self.net.buffers()]
        self.x, self.y = x.clone(), y.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP):
                for p in self.params:
                    p.grad = None
                self._loss(self.x, self.y).backward()
        torch.cuda.current_stream().wait_stream(side)
        for b, saved in zip(self.net.buffers(), buffers, strict=True):
            b.copy_(saved)
        for p in self.params:
            p.grad = None  # so that the captured backward allocates them in the graph's pool
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss = self._loss(self.x, self.y)
            self.loss.backward()

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not self.graphs or len(y) != self.batch:
            return self._eager(x, y)
        if self.graph is None:
            self._capture(x, y)
        self.x.copy_(x)
        self.y.copy_(y)
        self.graph.replay()
        return self.loss
