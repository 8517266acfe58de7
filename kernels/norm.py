"""Batch normalisation over the active sites (each site is one sample)."""

from __future__ import annotations

from torch import nn

from kernels.tensor import SparseTensor


class SparseBatchNorm(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` over ``feats`` [N, C]; same arguments, same running statistics."""

    def forward(self, x: SparseTensor) -> SparseTensor:  # type: ignore[override]
        if not isinstance(x, SparseTensor):
            raise TypeError(f"SparseBatchNorm expects a SparseTensor, got {type(x).__name__}")
        return x.replace(super().forward(x.feats))
