"""``SparseTensor``: active sites of a batch of 2D or 3D images and their feature vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kernels import keys as _keys
from kernels.coordinate_manager import CoordinateManager
from kernels.coordinate_set import CoordinateSet


def _as_tuple(value: int | Sequence[int], dim: int, name: str) -> tuple[int, ...]:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer or one per spatial axis, got {value!r}")
    if isinstance(value, int):
        return (value,) * dim
    out = tuple(int(v) for v in value)
    if len(out) != dim:
        raise ValueError(f"{name} has {len(out)} entries, expected {dim} (one per spatial axis)")
    return out


class SparseTensor:
    """Sparse batch of images: ``coords`` [N, 1+D] and ``feats`` [N, C].

    ``coords`` rows are (batch index, axis 0, ..., axis D-1) in units of the finest grid
    ``spatial_shape``; at tensor stride ``s`` they are multiples of ``s``. They are stored as
    int64. Each site may appear once: duplicate rows raise ``ValueError`` (use
    :meth:`SparseTensor.coalesced` to sum the features of duplicates instead). The row order is
    kept as given, so per-site labels stay aligned with ``feats``.
    """

    coords: torch.Tensor
    feats: torch.Tensor
    spatial_shape: tuple[int, ...]
    batch_size: int
    stride: tuple[int, ...]
    manager: CoordinateManager
    coord_id: int

    def __init__(self, coords: torch.Tensor, feats: torch.Tensor,
                 spatial_shape: Sequence[int], batch_size: int | None = None,
                 stride: int | Sequence[int] = 1) -> None:
        coords, shape, batch_size, stride_t = _validate(coords, feats, spatial_shape,
                                                        batch_size, stride)
        cs = CoordinateSet(coords, stride_t, shape, batch_size)
        if coords.shape[0] > 1:
            sorted_keys, _ = cs.sorted_keys()
            dup = int((sorted_keys[1:] == sorted_keys[:-1]).sum())
            if dup:
                raise ValueError(f"coords hold {dup} duplicate site(s); merge them first, e.g. "
                                 "with SparseTensor.coalesced(...), which sums their features")
        manager = CoordinateManager(shape, batch_size)
        self._init(coords, feats, shape, batch_size, stride_t, manager, manager.add(cs))

    def _init(self, coords: torch.Tensor, feats: torch.Tensor, spatial_shape: tuple[int, ...],
              batch_size: int, stride: tuple[int, ...], manager: CoordinateManager,
              coord_id: int) -> None:
        self.coords = coords
        self.feats = feats
        self.spatial_shape = spatial_shape
        self.batch_size = batch_size
        self.stride = stride
        self.manager = manager
        self.coord_id = coord_id

    @classmethod
    def _from_set(cls, feats: torch.Tensor, manager: CoordinateManager,
                  coord_id: int) -> SparseTensor:
        """Tensor on a coordinate set the manager already holds (no validation)."""
        cs = manager.get(coord_id)
        out = cls.__new__(cls)
        out._init(cs.coords, feats, cs.spatial_shape, cs.batch_size, cs.stride, manager,
                  coord_id)
        return out

    @classmethod
    def coalesced(cls, coords: torch.Tensor, feats: torch.Tensor,
                  spatial_shape: Sequence[int], batch_size: int | None = None,
                  stride: int | Sequence[int] = 1) -> SparseTensor:
        """Like the constructor, but rows with the same site are merged by summing features.

        The merged rows come out in (batch, axis 0, ...) order.
        """
        coords, shape, batch_size, stride_t = _validate(coords, feats, spatial_shape,
                                                        batch_size, stride)
        grid_shape = CoordinateSet(coords[:0], stride_t, shape, batch_size).grid_shape
        step = torch.tensor(stride_t, dtype=torch.int64, device=coords.device)
        grid = torch.div(coords[:, 1:], step, rounding_mode="floor")
        keys = _keys.pack(coords[:, 0], grid, grid_shape)
        unique_keys, inverse = torch.unique(keys, sorted=True, return_inverse=True)
        summed = feats.new_zeros((unique_keys.numel(), feats.shape[1]))
        # Sorting the rows by site first makes the sum order fixed (deterministic).
        order = torch.argsort(inverse, stable=True)
        summed = summed.index_add(0, inverse[order], feats[order])
        batch, grid = _keys.unpack(unique_keys, grid_shape)
        merged = torch.cat([batch.unsqueeze(1), grid * step], dim=1)
        return cls(merged, summed, shape, batch_size, stride_t)

    @property
    def dim(self) -> int:
        return len(self.spatial_shape)

    @property
    def device(self) -> torch.device:
        return self.feats.device

    @property
    def num_sites(self) -> int:
        return int(self.coords.shape[0])

    def __len__(self) -> int:
        return self.num_sites

    def replace(self, feats: torch.Tensor) -> SparseTensor:
        """Same coordinates (and kernel-map cache), new features [N, C']."""
        if feats.dim() != 2 or feats.shape[0] != self.coords.shape[0]:
            raise ValueError(f"replace() needs features of shape [{self.coords.shape[0]}, C], "
                             f"got {list(feats.shape)}")
        return SparseTensor._from_set(feats, self.manager, self.coord_id)

    def to(self, *args: Any, **kwargs: Any) -> SparseTensor:
        """Move or cast the features (and move the coordinates); the map cache starts anew."""
        feats = self.feats.to(*args, **kwargs)
        coords = self.coords.to(feats.device)
        return SparseTensor(coords, feats, self.spatial_shape, self.batch_size, self.stride)

    def same_coordinates(self, other: SparseTensor) -> bool:
        if self.manager is other.manager and self.coord_id == other.coord_id:
            return True
        return (self.stride == other.stride and self.coords.shape == other.coords.shape
                and bool(torch.equal(self.coords, other.coords)))

    def __repr__(self) -> str:
        return (f"SparseTensor(sites={self.num_sites}, channels={self.feats.shape[1]}, "
                f"spatial_shape={self.spatial_shape}, batch_size={self.batch_size}, "
                f"stride={self.stride}, device={self.device})")


def _validate(coords: object, feats: object, spatial_shape: Sequence[int],
              batch_size: int | None, stride: int | Sequence[int]
              ) -> tuple[torch.Tensor, tuple[int, ...], int, tuple[int, ...]]:
    if not isinstance(coords, torch.Tensor):
        raise TypeError(f"coords must be a torch.Tensor, got {type(coords).__name__}")
    if not isinstance(feats, torch.Tensor):
        raise TypeError(f"feats must be a torch.Tensor, got {type(feats).__name__}")
    if coords.dtype.is_floating_point or coords.dtype.is_complex or coords.dtype == torch.bool:
        raise TypeError(f"coords must be an integer tensor (int32 or int64), got {coords.dtype}")
    if not feats.dtype.is_floating_point:
        raise TypeError(f"feats must be a floating-point tensor, got {feats.dtype}")
    try:
        shape = tuple(int(n) for n in spatial_shape)
    except TypeError:
        raise TypeError("spatial_shape must be a sequence of ints, e.g. (512, 512)") from None
    dim = len(shape)
    if dim not in (2, 3):
        raise ValueError(f"spatial_shape must have 2 or 3 entries, got {shape}")
    if any(n <= 0 for n in shape):
        raise ValueError(f"spatial_shape entries must be positive, got {shape}")
    if coords.dim() != 2 or coords.shape[1] != 1 + dim:
        raise ValueError(f"coords must have shape [N, {1 + dim}] (batch index, then {dim} "
                         f"coordinates), got {list(coords.shape)}")
    if feats.dim() != 2:
        raise ValueError(f"feats must have shape [N, C], got {list(feats.shape)}")
    if feats.shape[0] != coords.shape[0]:
        raise ValueError(f"coords has {coords.shape[0]} rows but feats has {feats.shape[0]}; "
                         "they must match")
    if coords.device != feats.device:
        raise ValueError(f"coords are on {coords.device} but feats on {feats.device}; "
                         "move both to one device")
    stride_t = _as_tuple(stride, dim, "stride")
    if any(s <= 0 for s in stride_t):
        raise ValueError(f"stride entries must be positive, got {stride_t}")
    coords = coords.to(torch.int64)
    n = coords.shape[0]
    if n:
        lo = coords.amin(0).tolist()
        hi = coords.amax(0).tolist()
        if lo[0] < 0:
            raise ValueError(f"batch indices must be >= 0, got {lo[0]}")
        for axis in range(dim):
            if lo[axis + 1] < 0 or hi[axis + 1] >= shape[axis]:
                raise ValueError(f"coordinates along axis {axis} span [{lo[axis + 1]}, "
                                 f"{hi[axis + 1]}], outside [0, {shape[axis] - 1}] of "
                                 f"spatial_shape {shape}")
        if any(s > 1 for s in stride_t):
            step = torch.tensor(stride_t, dtype=torch.int64, device=coords.device)
            if bool((coords[:, 1:] % step).any()):
                raise ValueError(f"coordinates at tensor stride {stride_t} must be multiples "
                                 "of the stride")
        max_batch = hi[0] + 1
    else:
        max_batch = 0
    if batch_size is None:
        batch_size = max_batch
    elif int(batch_size) < max_batch:
        raise ValueError(f"batch index {max_batch - 1} is out of range for batch_size "
                         f"{batch_size}")
    batch_size = int(batch_size)
    _keys.check_capacity(batch_size, shape)
    return coords, shape, batch_size, stride_t
