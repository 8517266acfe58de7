"""The optimiser and learning-rate schedule of a trial, from its hyperparameters.

Data-parallel training with R ranks takes R times the batch per step, so the learning rate
is scaled by R (the linear scaling rule) and reached by a linear warm-up from near zero,
which keeps the first large-batch steps from diverging. The warm-up is expressed in the
target rate, not in the single-rank one, so one rank with the whole batch and R ranks with
a share each follow exactly the same schedule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch


def make_optimizer(parameters: Iterable[torch.nn.Parameter],
                   hparams: Mapping[str, Any]) -> torch.optim.Optimizer:
    name = hparams["optimizer"]
    lr, decay = hparams["lr"], hparams["weight_decay"]
    betas = (hparams["beta1"], hparams["beta2"])
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, betas=betas, weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, betas=betas, weight_decay=decay)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=hparams["momentum"],
                               weight_decay=decay, nesterov=hparams["momentum"] > 0)
    raise ValueError(f"unknown optimizer {name!r}")


class LearningRate:
    """Linear warm-up to ``lr * world_size``, then constant or cosine decay to zero."""

    def __init__(self, lr: float, world_size: int, warmup_steps: int, total_steps: int,
                 schedule: str = "constant"):
        self.target = lr * world_size
        self.warmup_steps = warmup_steps
        self.total_steps = max(total_steps, 1)
        self.schedule = schedule

    def at(self, step: int) -> float:
        """The rate of optimiser step ``step`` (0-based)."""
        if step < self.warmup_steps:
            return self.target * (step + 1) / (self.warmup_steps + 1)
        if self.schedule == "cosine":
            span = max(self.total_steps - self.warmup_steps, 1)
            progress = min((step - self.warmup_steps) / span, 1.0)
            return self.target * 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.target

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        rate = self.at(step)
        for group in optimizer.param_groups:
            group["lr"] = rate
        return rate
