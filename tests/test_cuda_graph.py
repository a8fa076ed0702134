"""mnist_core.cuda_graph: when graphs are used, the eager step against its oracle, and (on a CUDA machine) a run
trained through graphs against the same run trained eagerly.

    python -m pytest -q tests/test_cuda_graph.py
"""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from mnist_core.config import TrainConfig
from mnist_core.cuda_graph import LossStep, use_graphs
from mnist_core.data import Dataset
from mnist_core.device import autocast
from mnist_core.nets import make_net
from mnist_core.trainer import train

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_graphs_only_for_a_single_cuda_process_that_asks(monkeypatch):
    monkeypatch.delenv("MNIST_CUDA_GRAPHS", raising=False)
    assert not use_graphs(torch.device("cuda"), 1)  # opt-in until its CUDA test has run on a GPU
    monkeypatch.setenv("MNIST_CUDA_GRAPHS", "1")
    assert use_graphs(torch.device("cuda"), 1)
    assert not use_graphs(torch.device("cuda"), 2)  # DistributedDataParallel's hooks stay eager
    assert not use_graphs(torch.device("cpu"), 1)
    monkeypatch.setenv("MNIST_CUDA_GRAPHS", "0")
    assert not use_graphs(torch.device("cuda"), 1)


@pytest.mark.parametrize("arch", ["notebook", "best"])
def test_the_eager_step_is_forward_loss_backward(arch):
    torch.manual_seed(0)
    ours, oracle = make_net(arch), make_net(arch)
    oracle.load_state_dict(ours.state_dict())
    step = LossStep(ours, autocast(torch.device("cpu"), "float32"), 0.1, batch=8, graphs=False)
    for _ in range(2):  # twice: the gradients are overwritten, not accumulated
        x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
        loss = step(x, y)
        for p in oracle.parameters():
            p.grad = None
        expected = F.cross_entropy(oracle(x), y, label_smoothing=0.1)
        expected.backward()
        assert torch.equal(loss, expected)
        for a, b in zip(ours.parameters(), oracle.parameters(), strict=True):
            assert torch.equal(a.grad, b.grad)


def _dataset(n: int = 1000) -> Dataset:
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (n,), generator=gen)
    images = (torch.rand(n, 28, 28, generator=gen) * 60).to(torch.uint8)
    for digit in range(10):  # a learnable pattern: a bright row per class
        images[labels == digit, 2 + 2 * digit] = 255
    return Dataset("synthetic", images, labels, images[:200].clone(), labels[:200].clone(), [str(d) for d in range(10)])


def _losses(config: TrainConfig, data: Dataset) -> tuple[list[float], float]:
    events = list(train(config, data))
    assert events[-1]["type"] == "finished", events[-1]
    return [e["train_loss"] for e in events if e["type"] == "epoch"], events[-1]["test_accuracy"]


@cuda
@pytest.mark.parametrize("recipe", [dict(architecture="notebook", precision="float32", schedule="constant"),
                                    dict(architecture="best", precision="auto", schedule="onecycle", ema=0.9)])
def test_a_graphed_run_trains_as_the_eager_run_does(recipe, monkeypatch):
    """1000 images at batch 96: 10 graphed batches and an eager one of 40 per epoch, BatchNorm included."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    config = dataclasses.replace(TrainConfig(data="synthetic", epochs=3, batch_size=96, lr=3e-3, device="cuda"),
                                 **recipe)
    monkeypatch.setenv("MNIST_CUDA_GRAPHS", "0")
    eager, eager_accuracy = _losses(config, _dataset())
    monkeypatch.setenv("MNIST_CUDA_GRAPHS", "1")
    graphed, graphed_accuracy = _losses(config, _dataset())
    assert eager[-1] < eager[0]  # it learns
    torch.testing.assert_close(graphed, eager, rtol=2e-3, atol=1e-4)
    assert abs(graphed_accuracy - eager_accuracy) <= 0.01
