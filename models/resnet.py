"""Sparse ResNet classifier of single-particle images (e, gamma, mu, pi, p).

Residual stages at decreasing resolution, global average pooling per image, a linear head.
A 2D event is seen through several wire planes (views) that arrive as consecutive batch
entries; their pooled features are concatenated so the head classifies the event, not a
single plane.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kernels import SparseConv, SparseTensor, SubMConv, global_pool

from .blocks import NormAct, stage


class ResNet(nn.Module):
    def __init__(self, dim: int, in_channels: int = 1, num_classes: int = 5, views: int = 1,
                 depth: int = 5, filters: int = 16, reps: int = 2, kernel_size: int = 3,
                 norm: str = "batch", activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        widths = [filters * (level + 1) for level in range(depth)]
        block: dict[str, Any] = {"kernel_size": kernel_size, "norm": norm, "activation": activation,
                 "dropout": dropout}
        self.views = views
        self.stem = SubMConv(dim, in_channels, widths[0], kernel_size=kernel_size)
        self.stages = nn.ModuleList(stage(dim, width, width, reps, **block) for width in widths)
        self.downs = nn.ModuleList(
            nn.Sequential(NormAct(widths[level], norm, activation),
                          SparseConv(dim, widths[level], widths[level + 1], kernel_size=2,
                                     stride=2))
            for level in range(depth - 1))
        self.final = NormAct(widths[-1], norm, activation)
        self.head = nn.Sequential(nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
                                  nn.Linear(views * widths[-1], num_classes))

    def forward(self, x: SparseTensor) -> torch.Tensor:
        """Class scores [events, num_classes]; entries e*views .. e*views+views-1 are event e."""
        x = self.stem(x)
        for level, block in enumerate(self.stages):
            x = block(x)
            if level < len(self.downs):
                x = self.downs[level](x)
        pooled = global_pool(self.final(x), mode="mean")  # [entries, C]
        return self.head(pooled.reshape(-1, self.views * pooled.shape[1]))
