"""The object that the tensors of one forward pass share: coordinate sets and their maps.

A ``SparseTensor`` points at its manager and at the id of its coordinate set. ``replace`` and
every layer keep the manager, so all layers at one resolution share one kernel map, and a
transposed convolution finds the map that its strided convolution built.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import torch

from kernels import kmap as _kmap
from kernels.coordinate_set import CoordinateSet
from kernels.workspace import Workspace, workspace_for


class CoordinateManager:
    def __init__(self, spatial_shape: tuple[int, ...], batch_size: int) -> None:
        self.spatial_shape = spatial_shape
        self.batch_size = batch_size
        self._sets: list[CoordinateSet] = []
        self._cache: dict[Hashable, Any] = {}
        self._workspace: Workspace | None = None

    def add(self, cs: CoordinateSet) -> int:
        self._sets.append(cs)
        return len(self._sets) - 1

    def get(self, cid: int) -> CoordinateSet:
        return self._sets[cid]

    def workspace(self, device: torch.device) -> Workspace:
        """Buffers shared by the convolutions on this manager's sets (one at a time)."""
        if self._workspace is None:
            self._workspace = workspace_for(self, device)
        return self._workspace

    def cached(self, key: Hashable, build: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def submanifold_map(self, cid: int, kernel: tuple[int, ...],
                        dilation: tuple[int, ...]) -> _kmap.KernelMap:
        return self.cached(("subm", cid, kernel, dilation),
                           lambda: _kmap.submanifold_map(self._sets[cid], kernel, dilation))

    def downsample(self, cid: int, kernel: tuple[int, ...],
                   stride: tuple[int, ...]) -> tuple[int, _kmap.KernelMap]:
        """(id of the output coordinate set, map) of a strided window over set ``cid``."""

        def build() -> tuple[int, _kmap.KernelMap]:
            out, kmap = _kmap.downsample_map(self._sets[cid], kernel, stride)
            return self.add(out), kmap

        return self.cached(("down", cid, kernel, stride), build)

    def upsample_map(self, coarse_cid: int, fine_cid: int, kernel: tuple[int, ...],
                     stride: tuple[int, ...]) -> _kmap.KernelMap:
        """Map from ``coarse`` to ``fine`` sites: the transposed map of the strided window."""
        down = self._cache.get(("down", fine_cid, kernel, stride))
        if down is not None and down[0] == coarse_cid:
            return down[1].transposed()
        return self.cached(
            ("up", coarse_cid, fine_cid, kernel, stride),
            lambda: _kmap.lookup_map(self._sets[fine_cid], self._sets[coarse_cid], kernel,
                                     stride).transposed(),
        )

    def batch_rows(self, cid: int) -> tuple[torch.Tensor, list[int]]:
        """Rows ordered by event (stable) and the number of rows of each event."""

        def build() -> tuple[torch.Tensor, list[int]]:
            batch = self._sets[cid].coords[:, 0]
            order = torch.argsort(batch, stable=True)
            counts = torch.bincount(batch, minlength=self.batch_size).tolist()
            return order, counts

        return self.cached(("batch", cid), build)
