"""Elementwise modules (activations, dropout) applied to the features of a SparseTensor."""

from __future__ import annotations

from torch import nn

from kernels.tensor import SparseTensor


class FeatureWise(nn.Module):
    """Apply ``module`` to ``feats`` [N, C] (it must keep the row count); coords unchanged."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: SparseTensor) -> SparseTensor:
        return x.replace(self.module(x.feats))


class SparseReLU(FeatureWise):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__(nn.ReLU(inplace=inplace))
