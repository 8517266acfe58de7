"""Sparse U-ResNet for semantic segmentation of LArTPC images (2D planes or 3D volumes).

An encoder of residual stages halves the resolution between levels while widening the
features linearly (filters, 2*filters, ...); a decoder upsamples back onto the exact
coordinates of each encoder level and joins them through skip connections, so the output
has one row of class scores per input pixel, in the input's order.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kernels import FeatureWise, SparseConv, SparseInverseConv, SparseTensor, SubMConv, cat

from .blocks import NormAct, stage


class UResNet(nn.Module):
    def __init__(self, dim: int, in_channels: int = 1, num_classes: int = 5, depth: int = 5,
                 filters: int = 16, reps: int = 2, kernel_size: int = 3, norm: str = "batch",
                 activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        widths = [filters * (level + 1) for level in range(depth)]
        block: dict[str, Any] = {"kernel_size": kernel_size, "norm": norm, "activation": activation,
                 "dropout": dropout}
        self.stem = SubMConv(dim, in_channels, widths[0], kernel_size=kernel_size)
        self.encoders = nn.ModuleList(
            stage(dim, width, width, reps, **block) for width in widths)
        self.downs = nn.ModuleList(
            nn.Sequential(NormAct(widths[level], norm, activation),
                          SparseConv(dim, widths[level], widths[level + 1], kernel_size=2,
                                     stride=2))
            for level in range(depth - 1))
        self.up_pre = nn.ModuleList(
            NormAct(widths[level + 1], norm, activation) for level in range(depth - 1))
        self.ups = nn.ModuleList(
            SparseInverseConv(dim, widths[level + 1], widths[level], kernel_size=2, stride=2)
            for level in range(depth - 1))
        self.decoders = nn.ModuleList(
            stage(dim, 2 * widths[level], widths[level], reps, **block)
            for level in range(depth - 1))
        self.head = nn.Sequential(NormAct(widths[0], norm, activation),
                                  FeatureWise(nn.Linear(widths[0], num_classes)))

    def forward(self, x: SparseTensor) -> torch.Tensor:
        """Class scores [N, num_classes], one row per input pixel."""
        x = self.stem(x)
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(x)
            if level < len(self.downs):
                skips.append(x)
                x = self.downs[level](x)
        for level in reversed(range(len(self.ups))):
            skip = skips[level]
            up = self.ups[level](self.up_pre[level](x), skip)
            x = self.decoders[level](cat(skip, up))
        return self.head(x).feats
