"""The U-ResNet of ``models.uresnet`` built from spconv layers, for the training-step benchmark.

Same layers in the same order and widths: a submanifold stem, pre-activation residual blocks
(batch norm, ReLU, submanifold convolution, twice, plus a linear shortcut when the width
changes), k2s2 downsampling, inverse convolutions back onto each level's sites, skip
concatenation and a linear head. Every level's submanifold layers share one indice key and
each inverse convolution reuses its downsampling's pairs, as our layers share kernel maps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _feature_op(module: nn.Module, x: Any) -> Any:
    return x.replace_feature(module(x.features))


class _Block(nn.Module):
    def __init__(self, spconv: Any, dim: int, cin: int, cout: int, kernel: int, key: str):
        super().__init__()
        subm = spconv.SubMConv3d if dim == 3 else spconv.SubMConv2d
        self.pre1 = nn.Sequential(nn.BatchNorm1d(cin), nn.ReLU())
        self.conv1 = subm(cin, cout, kernel, indice_key=key)
        self.pre2 = nn.Sequential(nn.BatchNorm1d(cout), nn.ReLU())
        self.conv2 = subm(cout, cout, kernel, indice_key=key)
        self.shortcut = nn.Identity() if cin == cout else nn.Linear(cin, cout, bias=False)

    def forward(self, x: Any) -> Any:
        y = self.conv1(_feature_op(self.pre1, x))
        y = self.conv2(_feature_op(self.pre2, y))
        return y.replace_feature(y.features + self.shortcut(x.features))


class SpconvUResNet(nn.Module):
    def __init__(self, spconv: Any, dim: int, in_channels: int = 1, num_classes: int = 5,
                 depth: int = 5, filters: int = 16, reps: int = 1, kernel_size: int = 3):
        super().__init__()
        subm = spconv.SubMConv3d if dim == 3 else spconv.SubMConv2d
        down = spconv.SparseConv3d if dim == 3 else spconv.SparseConv2d
        inverse = spconv.SparseInverseConv3d if dim == 3 else spconv.SparseInverseConv2d
        widths = [filters * (level + 1) for level in range(depth)]
        self.stem = subm(in_channels, widths[0], kernel_size, indice_key="subm0")

        def stage(cin: int, cout: int, level: int) -> nn.Sequential:
            return nn.Sequential(*(_Block(spconv, dim, cin if r == 0 else cout, cout,
                                          kernel_size, f"subm{level}") for r in range(reps)))

        self.encoders = nn.ModuleList(stage(w, w, level) for level, w in enumerate(widths))
        self.down_pre = nn.ModuleList(
            nn.Sequential(nn.BatchNorm1d(widths[level]), nn.ReLU()) for level in range(depth - 1))
        self.downs = nn.ModuleList(
            down(widths[level], widths[level + 1], 2, stride=2, indice_key=f"down{level}")
            for level in range(depth - 1))
        self.up_pre = nn.ModuleList(
            nn.Sequential(nn.BatchNorm1d(widths[level + 1]), nn.ReLU())
            for level in range(depth - 1))
        self.ups = nn.ModuleList(
            inverse(widths[level + 1], widths[level], 2, indice_key=f"down{level}")
            for level in range(depth - 1))
        self.decoders = nn.ModuleList(
            stage(2 * widths[level], widths[level], level) for level in range(depth - 1))
        self.head = nn.Sequential(nn.BatchNorm1d(widths[0]), nn.ReLU(),
                                  nn.Linear(widths[0], num_classes))

    def forward(self, x: Any) -> torch.Tensor:
        x = self.stem(x)
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(x)
            if level < len(self.downs):
                skips.append(x)
                x = self.downs[level](_feature_op(self.down_pre[level], x))
        for level in reversed(range(len(self.ups))):
            skip = skips[level]
            up = self.ups[level](_feature_op(self.up_pre[level], x))
            # The inverse convolution's rows are the skip's sites in the skip's order.
            x = self.decoders[level](skip.replace_feature(
                torch.cat([skip.features, up.features], 1)))
        return self.head(x.features)
