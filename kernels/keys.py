"""Packing of (batch, grid coordinate) rows into sortable int64 keys.

Each spatial axis gets a margin on both sides, so adding a kernel offset to a key can never
wrap into a neighbouring row or event: a neighbour outside the grid simply has a key that no
site owns. Keys sort in (batch, axis 0, axis 1, ...) order, like the rows of a C array.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

MARGIN = 64
_MAX_KEY = 2**62


def radices(grid_shape: Sequence[int]) -> list[int]:
    """Size of each packed spatial axis (grid extent plus the margin on both sides)."""
    return [int(g) + 2 * MARGIN for g in grid_shape]


def check_capacity(batch_size: int, grid_shape: Sequence[int]) -> None:
    total = max(batch_size, 1)
    for r in radices(grid_shape):
        total *= r
    if total >= _MAX_KEY:
        raise ValueError(
            f"batch of {batch_size} events of shape {tuple(grid_shape)} does not fit 62-bit "
            "coordinate keys; split the batch"
        )


def pack(batch: torch.Tensor, grid: torch.Tensor, grid_shape: Sequence[int]) -> torch.Tensor:
    """Keys of rows given batch indices [N] and grid coordinates [N, D] (int64)."""
    key = batch.to(torch.int64)
    for axis, r in enumerate(radices(grid_shape)):
        key = key * r + (grid[:, axis] + MARGIN)
    return key


def unpack(keys: torch.Tensor, grid_shape: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`pack`: (batch [N], grid [N, D])."""
    rest = keys
    axes = []
    for r in reversed(radices(grid_shape)):
        axes.append(torch.remainder(rest, r) - MARGIN)
        rest = torch.div(rest, r, rounding_mode="floor")
    axes.reverse()
    return rest, torch.stack(axes, dim=1) if axes else keys.new_zeros((keys.numel(), 0))


def offset_delta(offset: Sequence[int], grid_shape: Sequence[int]) -> int:
    """Key difference between a site and its neighbour at ``offset`` (grid units)."""
    if any(abs(int(o)) > MARGIN for o in offset):
        raise ValueError(f"kernel reach {tuple(offset)} exceeds {MARGIN} grid cells; use a "
                         "smaller kernel or dilation")
    delta = 0
    for o, r in zip(offset, radices(grid_shape), strict=True):
        delta = delta * r + int(o)
    return delta
