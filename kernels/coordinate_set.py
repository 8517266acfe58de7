"""One set of active sites at one tensor stride, with its sorted keys computed once."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from kernels import keys as _keys


def grid_shape_at(spatial_shape: Sequence[int], stride: Sequence[int]) -> tuple[int, ...]:
    """Extent of the grid at tensor stride ``stride`` (ceil of the finest extent / stride)."""
    return tuple(-(-int(n) // int(s)) for n, s in zip(spatial_shape, stride, strict=True))


class CoordinateSet:
    """Coordinates [N, 1+D] (int64, finest-level units, multiples of ``stride``).

    The packed keys, their sorted order and the per-event row segments are built lazily and
    kept, so every kernel map over this set sorts only once.
    """

    def __init__(self, coords: torch.Tensor, stride: tuple[int, ...],
                 spatial_shape: tuple[int, ...], batch_size: int) -> None:
        self.coords = coords
        self.stride = stride
        self.spatial_shape = spatial_shape
        self.batch_size = batch_size
        self.grid_shape = grid_shape_at(spatial_shape, stride)
        self._keys: torch.Tensor | None = None
        self._sorted: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def size(self) -> int:
        return int(self.coords.shape[0])

    def grid(self) -> torch.Tensor:
        """Coordinates in grid units of this stride [N, D]."""
        if all(s == 1 for s in self.stride):
            return self.coords[:, 1:]  # integer division is slow on CPUs; skip it at stride 1
        stride = torch.tensor(self.stride, dtype=torch.int64, device=self.coords.device)
        return torch.div(self.coords[:, 1:], stride, rounding_mode="floor")

    def keys(self) -> torch.Tensor:
        if self._keys is None:
            self._keys = _keys.pack(self.coords[:, 0], self.grid(), self.grid_shape)
        return self._keys

    def sorted_keys(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(keys in ascending order, permutation with keys()[perm] == sorted keys)."""
        if self._sorted is None:
            sorted_keys, perm = torch.sort(self.keys())
            self._sorted = (sorted_keys, perm)
        return self._sorted

    def set_sorted(self, sorted_keys: torch.Tensor, perm: torch.Tensor) -> None:
        self._sorted = (sorted_keys, perm)
