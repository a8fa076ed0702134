"""mnist_core.optim against its oracle, torch.optim (fused=True) and OneCycleLR: the same parameters bit for bit.

    pytest tests/test_optim.py
"""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from mnist_core.nets import make_net
from mnist_core.optim import FusedOptimizer, OneCycle

TORCH = {"adam": lambda p, lr, wd: torch.optim.Adam(p, lr=lr, weight_decay=wd, fused=True),
         "adamw": lambda p, lr, wd: torch.optim.AdamW(p, lr=lr, weight_decay=wd, fused=True),
         "sgd": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd, fused=True)}


# The CPU everywhere; a CUDA GPU where there is one (torch's fused CUDA kernels take the same arguments)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _train(net, optimizer, scheduler, steps: int) -> list[float]:
    gen = torch.Generator().manual_seed(1)
    device = next(net.parameters()).device
    losses = []
    for _ in range(steps):
        x, y = torch.rand(16, 1, 28, 28, generator=gen), torch.randint(0, 10, (16,), generator=gen)
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("kind", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("schedule", ["constant", "onecycle"])
@pytest.mark.parametrize("arch", ["notebook", "best"])  # best: channels_last weights and BatchNorm buffers
@pytest.mark.parametrize("device", DEVICES)
def test_steps_equal_torch_optim(kind, schedule, arch, device, monkeypatch):
    lr, wd, steps = 3e-3, 1e-2 if kind != "adam" else 0.0, 12
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)  # the same gradients twice on a GPU too
    torch.manual_seed(0)
    ours_net = make_net(arch).to(device)
    theirs_net = make_net(arch).to(device)
    theirs_net.load_state_dict(ours_net.state_dict())
    ours = FusedOptimizer(kind, ours_net.parameters(), lr=lr, weight_decay=wd)
    theirs = TORCH[kind](theirs_net.parameters(), lr, wd)
    ours_sched = OneCycle(ours, lr, steps) if schedule == "onecycle" else None
    theirs_sched = torch.optim.lr_scheduler.OneCycleLR(theirs, max_lr=lr, total_steps=steps) \
        if schedule == "onecycle" else None
    assert _train(ours_net, ours, ours_sched, steps) == _train(theirs_net, theirs, theirs_sched, steps)
    for (name, a), b in zip(ours_net.state_dict().items(), theirs_net.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert ours.lr == theirs.param_groups[0]["lr"]  # the schedule's last value too
    if kind == "sgd":
        assert ours.momentum == theirs.param_groups[0]["momentum"]
    else:
        assert ours.beta1 == theirs.param_groups[0]["betas"][0]


@pytest.mark.parametrize("total", [1, 2, 3, 4, 10, 469, 7504])
def test_one_cycle_equals_one_cycle_lr(total):
    ours = FusedOptimizer("adam", [torch.zeros(1, requires_grad=True)], lr=1.0)
    theirs = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    ours_sched, theirs_sched = OneCycle(ours, 5e-3, total), torch.optim.lr_scheduler.OneCycleLR(theirs, 5e-3,
                                                                                               total_steps=total)
    for t in range(total + 1):
        group = theirs.param_groups[0]
        assert (ours.lr, ours.beta1) == (group["lr"], group["betas"][0]), t
        if t < total:
            ours_sched.step()
            theirs.step()  # OneCycleLR warns when stepped before its optimizer
            theirs_sched.step()
    with pytest.raises(ValueError, match=f"the schedule has {total} steps"):
        ours_sched.step()


def test_parameter_without_gradient_is_left_alone():
    used, unused = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)
    frozen = torch.ones(2, requires_grad=False)
    optimizer = FusedOptimizer("adam", [used, unused, frozen], lr=0.1)
    assert optimizer.params == [used, unused]
    (used * 2).sum().backward()
    optimizer.step()
    assert torch.all(used < 1) and torch.equal(unused, torch.ones(2)) and unused not in optimizer.state
    assert optimizer.state[used]["step"].item() == 1
    optimizer.zero_grad()
    assert used.grad is None


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; allowed: adam, adamw, sgd"):
        FusedOptimizer("rmsprop", [], lr=1.0)
    with pytest.raises(ValueError, match="total_steps must be at least 1"):
        OneCycle(FusedOptimizer("sgd", [], lr=1.0), 1.0, 0)


def test_a_training_run_never_imports_dynamo(tmp_path):
    """The point of this module: a whole training run (here 2 epochs of a small data source, one-cycle, with the
    weight average and the run written) without torch._dynamo, whose import costs 1.4-1.5 s."""
    code = ("import sys; from mnist_core.train import main; "
            f"main(['--data', 'mnist-sample', '--recipe', 'fast', '--epochs', '2', '--ema', '0.99', "
            f"'--runs-dir', {str(tmp_path)!r}]); print('dynamo' if 'torch._dynamo' in sys.modules else 'none')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "none"
