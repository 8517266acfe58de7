"""Max and average pooling over strided windows, and global pooling per event."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from kernels.kmap import KernelMap
from kernels.tensor import SparseTensor, _as_tuple


class _SparsePool(nn.Module):
    def __init__(self, dim: int, kernel_size: int | Sequence[int] = 2,
                 stride: int | Sequence[int] = 2) -> None:
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        self.dim = dim
        self.kernel_size = _as_tuple(kernel_size, dim, "kernel_size")
        self.stride = _as_tuple(stride, dim, "stride")
        if any(k <= 0 for k in self.kernel_size) or any(s <= 0 for s in self.stride):
            raise ValueError("kernel_size and stride must be positive")

    def _map(self, x: SparseTensor) -> tuple[int, KernelMap]:
        if not isinstance(x, SparseTensor) or x.dim != self.dim:
            raise TypeError(f"{type(self).__name__} expects a {self.dim}D SparseTensor")
        return x.manager.downsample(x.coord_id, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, kernel_size={self.kernel_size}, stride={self.stride}"


class SparseMaxPool(_SparsePool):
    """Maximum over the active sites of each window (windows as in ``SparseConv``)."""

    def forward(self, x: SparseTensor) -> SparseTensor:
        out_id, kmap = self._map(x)
        channels = x.feats.shape[1]
        gathered = x.feats.index_select(0, kmap.in_idx)
        index = kmap.out_idx.unsqueeze(1).expand(-1, channels)
        # Every output window holds at least one input, so include_self=False is exact; max
        # does not depend on the order of the reduction, so this is deterministic.
        feats = x.feats.new_zeros((kmap.n_out, channels)).scatter_reduce(
            0, index, gathered, "amax", include_self=False)
        return SparseTensor._from_set(feats, x.manager, out_id)


class SparseAvgPool(_SparsePool):
    """Mean over the active sites of each window (inactive sites are not counted)."""

    def forward(self, x: SparseTensor) -> SparseTensor:
        out_id, kmap = self._map(x)
        feats = x.feats.new_zeros((kmap.n_out, x.feats.shape[1]))
        # One offset at a time: rows are unique within an offset, so the sum order is fixed.
        for k in range(kmap.volume):
            rows, cols = kmap.pairs(k)
            if rows.numel():
                feats = feats.index_add(0, cols, x.feats.index_select(0, rows))
        counts = torch.bincount(kmap.out_idx, minlength=kmap.n_out).to(feats.dtype)
        return SparseTensor._from_set(feats / counts.unsqueeze(1), x.manager, out_id)


def global_pool(x: SparseTensor, mode: str = "mean") -> torch.Tensor:
    """Per-event pooling of the features: [batch_size, C]; an event with no sites gives 0."""
    if mode not in ("mean", "max", "sum"):
        raise ValueError(f"global_pool mode must be 'mean', 'max' or 'sum', got {mode!r}")
    order, counts = x.manager.batch_rows(x.coord_id)
    feats = x.feats.index_select(0, order)
    lengths = torch.tensor(counts, dtype=torch.int64, device=feats.device)
    if mode == "max":
        pooled = torch.segment_reduce(feats, "max", lengths=lengths)
        return torch.where((lengths > 0).unsqueeze(1), pooled, torch.zeros_like(pooled))
    pooled = torch.segment_reduce(feats, "sum", lengths=lengths, initial=0.0)
    if mode == "sum":
        return pooled
    return pooled / lengths.clamp(min=1).to(pooled.dtype).unsqueeze(1)
