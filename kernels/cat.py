"""Concatenation of features on one coordinate set (U-Net skip connections)."""

from __future__ import annotations

import torch

from kernels.tensor import SparseTensor


def cat(*tensors: SparseTensor) -> SparseTensor:
    """Features of ``tensors`` side by side [N, C1 + C2 + ...] on their shared coordinates."""
    if not tensors:
        raise ValueError("cat() needs at least one SparseTensor")
    first = tensors[0]
    for other in tensors[1:]:
        if not isinstance(other, SparseTensor):
            raise TypeError(f"cat() takes SparseTensors, got {type(other).__name__}")
        if not first.same_coordinates(other):
            raise ValueError("cat() needs tensors on the same coordinates (same sites in the "
                             "same order, same stride)")
    return first.replace(torch.cat([t.feats for t in tensors], dim=1))
