"""The optimizers (Adam, AdamW, SGD with Nesterov momentum) and the one-cycle schedule, on torch's fused kernels.

torch.optim's Optimizer imports torch._dynamo on its first call (add_param_group, zero_grad, step), only to mark
its methods as not to be compiled: 1.4-1.5 s on 2 CPU cores, as long as importing torch itself, paid by every
training process before its first batch (benchmarks/optim_import.py). Nothing here compiles, so these call the
kernels torch.optim's `fused=True` steps call (torch._fused_adam_, _fused_adamw_, _fused_sgd_) with the same
arguments, and OneCycle computes OneCycleLR's default schedule: tests/test_optim.py checks every optimizer, with
and without the schedule, against torch.optim bit for bit.

    python -m pytest -q tests/test_optim.py          (the oracle tests)
    python benchmarks/optim_import.py                 (a whole training process, this against torch.optim)
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch

KINDS = ("adam", "adamw", "sgd")


class FusedOptimizer:
    """One group of parameters stepped by one fused kernel per device and dtype; Adam's betas (0.9, 0.999) and
    eps 1e-8, SGD's momentum 0.9 (Nesterov, no dampening), as torch.optim's defaults. `lr`, `beta1` (Adam) and
    `momentum` (SGD) are plain attributes a schedule sets between steps. A parameter without a gradient is
    skipped and its state not advanced, as in torch.optim."""

    def __init__(self, kind: str, params: Iterable[torch.Tensor], lr: float, weight_decay: float = 0.0):
        if kind not in KINDS:
            raise ValueError(f"unknown optimizer {kind!r}; allowed: {', '.join(KINDS)}")
        self.kind, self.params = kind, [p for p in params if p.requires_grad]
        self.lr, self.weight_decay = lr, weight_decay
        self.beta1, self.beta2, self.eps, self.momentum = 0.9, 0.999, 1e-8, 0.9
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}  # per parameter, made on its first step

    def __repr__(self) -> str:
        return f"FusedOptimizer({self.kind!r}, {len(self.params)} tensors, lr={self.lr:g})"

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        groups: dict[tuple, list[torch.Tensor]] = {}  # the kernels take one device and dtype at a time
        for p in self.params:
            if p.grad is not None:
                groups.setdefault((p.device, p.dtype), []).append(p)
        for params in groups.values():
            (self._sgd if self.kind == "sgd" else self._adam)(params)

    def _adam(self, params: list[torch.Tensor]) -> None:
        for p in params:
            if p not in self.state:  # what torch.optim.Adam(fused=True) starts from
                self.state[p] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                 "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                 "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        states = [self.state[p] for p in params]
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1)
        kernel = torch._fused_adamw_ if self.kind == "adamw" else torch._fused_adam_
        kernel(params, [p.grad for p in params], [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
               [], steps, amsgrad=False, lr=self.lr, beta1=self.beta1, beta2=self.beta2,
               weight_decay=self.weight_decay, eps=self.eps, maximize=False, grad_scale=None, found_inf=None)

    def _sgd(self, params: list[torch.Tensor]) -> None:
        first = not any(p in self.state for p in params)
        for p in params:  # the kernel fills a new buffer with the gradient on the first step
            self.state.setdefault(p, {"momentum_buffer": torch.empty_like(p.grad)})
        torch._fused_sgd_(params, [p.grad for p in params], [self.state[p]["momentum_buffer"] for p in params],
                          weight_decay=self.weight_decay, momentum=self.momentum, lr=self.lr, dampening=0.0,
                          nesterov=True, maximize=False, is_first_step=first, grad_scale=None, found_inf=None)


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)  # OneCycleLR._annealing_cos


class OneCycle:
    """torch.optim.lr_scheduler.OneCycleLR with its defaults, over `total_steps` optimizer steps: the learning
    rate rises from max_lr / 25 to max_lr over the first 30 % (cosine), then falls to max_lr / 250,000; the
    momentum (Adam's beta1) falls from 0.95 to 0.85 and rises back. Made before the first step, stepped after
    each, as OneCycleLR."""

    PCT_START, DIV, FINAL_DIV, BASE_MOMENTUM, MAX_MOMENTUM = 0.3, 25.0, 1e4, 0.85, 0.95

    def __init__(self, optimizer: FusedOptimizer, max_lr: float, total_steps: int):
        if total_steps < 1:
            raise ValueError(f"total_steps must be at least 1, got {total_steps}")
        self.optimizer, self.total_steps, self.max_lr = optimizer, total_steps, max_lr
        self.initial_lr = max_lr / self.DIV
        self.min_lr = self.initial_lr / self.FINAL_DIV
        self.warm_end = float(self.PCT_START * total_steps) - 1  # the step at which the learning rate peaks
        self.t = 0
        self._apply()

    def step(self) -> None:
        self.t += 1
        self._apply()

    def _apply(self) -> None:
        if self.t > self.total_steps:
            raise ValueError(f"stepped {self.t} times; the schedule has {self.total_steps} steps")
        if self.t <= self.warm_end:
            pct = self.t / self.warm_end
            lr, momentum = _cos(self.initial_lr, self.max_lr, pct), _cos(self.MAX_MOMENTUM, self.BASE_MOMENTUM, pct)
        else:
            pct = (self.t - self.warm_end) / (self.total_steps - 1 - self.warm_end)
            lr, momentum = _cos(self.max_lr, self.min_lr, pct), _cos(self.BASE_MOMENTUM, self.MAX_MOMENTUM, pct)
        self.optimizer.lr = lr
        if self.optimizer.kind == "sgd":
            self.optimizer.momentum = momentum
        else:
            self.optimizer.beta1 = momentum
