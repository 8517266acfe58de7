"""Conversions between SparseTensor and dense [B, C, *shape] tensors."""

from __future__ import annotations

import torch

from kernels.coordinate_set import grid_shape_at
from kernels.tensor import SparseTensor


def to_dense(x: SparseTensor) -> torch.Tensor:
    """Dense [B, C, *grid] with zeros at inactive sites; grid = ceil(spatial_shape / stride)."""
    grid_shape = grid_shape_at(x.spatial_shape, x.stride)
    channels = x.feats.shape[1]
    dense = x.feats.new_zeros((x.batch_size, *grid_shape, channels))
    step = torch.tensor(x.stride, dtype=torch.int64, device=x.coords.device)
    grid = torch.div(x.coords[:, 1:], step, rounding_mode="floor")
    index = (x.coords[:, 0], *grid.unbind(1))
    dense = dense.index_put(index, x.feats)
    return dense.movedim(-1, 1).contiguous()


def from_dense(dense: torch.Tensor, threshold: float = 0.0) -> SparseTensor:
    """Sites of ``dense`` [B, C, *shape] where some channel has ``|value| > threshold``.

    Rows come out in (batch, axis 0, ...) order; gradients flow back to ``dense``.
    """
    if not isinstance(dense, torch.Tensor) or not dense.dtype.is_floating_point:
        raise TypeError("from_dense() needs a floating-point tensor [B, C, *shape]")
    if dense.dim() not in (4, 5):
        raise ValueError(f"from_dense() needs a [B, C, H, W] or [B, C, D, H, W] tensor, got "
                         f"{list(dense.shape)}")
    channels_last = dense.movedim(1, -1)
    mask = (channels_last.abs() > threshold).any(-1)
    coords = mask.nonzero()
    feats = channels_last[mask]
    return SparseTensor(coords, feats, tuple(dense.shape[2:]), batch_size=dense.shape[0])
