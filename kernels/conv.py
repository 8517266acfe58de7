"""Sparse convolution layers: submanifold, strided, and transposed (inverse)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from kernels.kmap import KernelMap
from kernels.sparse_conv_function import sparse_conv
from kernels.tensor import SparseTensor, _as_tuple


def _check_dim(dim: int) -> int:
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim}")
    return dim


class _SparseConvBase(nn.Module):
    """Weight [K, Cin, Cout] (K = window volume, C order) and optional bias [Cout]."""

    def __init__(self, dim: int, in_channels: int, out_channels: int,
                 kernel_size: int | Sequence[int], bias: bool) -> None:
        super().__init__()
        self.dim = _check_dim(dim)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _as_tuple(kernel_size, dim, "kernel_size")
        if any(k <= 0 for k in self.kernel_size):
            raise ValueError(f"kernel_size must be positive, got {self.kernel_size}")
        volume = math.prod(self.kernel_size)
        self.weight = nn.Parameter(torch.empty(volume, self.in_channels, self.out_channels))
        self.bias = nn.Parameter(torch.empty(self.out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # The default of dense nn.ConvNd: uniform in +-1/sqrt(fan_in) (kaiming, a=sqrt(5)).
        bound = 1.0 / math.sqrt(self.weight.shape[0] * self.in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: SparseTensor) -> None:
        if not isinstance(x, SparseTensor):
            raise TypeError(f"{type(self).__name__} expects a SparseTensor, got "
                            f"{type(x).__name__}")
        if x.dim != self.dim:
            raise ValueError(f"{type(self).__name__} is {self.dim}D but the input is {x.dim}D")
        if x.feats.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects {self.in_channels} input channels, "
                             f"got {x.feats.shape[1]}")

    def _convolve(self, x: SparseTensor, kmap: KernelMap) -> torch.Tensor:
        out = sparse_conv(x.feats, self.weight, kmap, x.manager.workspace(x.device))
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, {self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, bias={self.bias is not None}")


class SubMConv(_SparseConvBase):
    """Submanifold convolution: outputs on exactly the input sites (odd kernel, centred)."""

    def __init__(self, dim: int, in_channels: int, out_channels: int,
                 kernel_size: int | Sequence[int] = 3, dilation: int | Sequence[int] = 1,
                 bias: bool = True) -> None:
        super().__init__(dim, in_channels, out_channels, kernel_size, bias)
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"SubMConv needs an odd kernel_size, got {self.kernel_size}")
        self.dilation = _as_tuple(dilation, dim, "dilation")
        if any(d <= 0 for d in self.dilation):
            raise ValueError(f"dilation must be positive, got {self.dilation}")

    def forward(self, x: SparseTensor) -> SparseTensor:
        self._check_input(x)
        kmap = x.manager.submanifold_map(x.coord_id, self.kernel_size, self.dilation)
        return x.replace(self._convolve(x, kmap))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", dilation={self.dilation}"


def _positive_stride(stride: int | Sequence[int], dim: int) -> tuple[int, ...]:
    strides = _as_tuple(stride, dim, "stride")
    if any(s <= 0 for s in strides):
        raise ValueError(f"stride must be positive, got {strides}")
    return strides


class SparseConv(_SparseConvBase):
    """Strided convolution. Output sites: every window that holds an input site.

    Window ``v`` covers inputs ``stride*v - (k-1)//2 + [0, k)`` (grid units), as a dense
    strided convolution with padding ``(k-1)//2``. The output tensor stride is the input's
    times ``stride``.
    """

    def __init__(self, dim: int, in_channels: int, out_channels: int,
                 kernel_size: int | Sequence[int] = 2, stride: int | Sequence[int] = 2,
                 bias: bool = True) -> None:
        super().__init__(dim, in_channels, out_channels, kernel_size, bias)
        self.stride = _positive_stride(stride, dim)

    def forward(self, x: SparseTensor) -> SparseTensor:
        self._check_input(x)
        out_id, kmap = x.manager.downsample(x.coord_id, self.kernel_size, self.stride)
        feats = self._convolve(x, kmap)
        return SparseTensor._from_set(feats, x.manager, out_id)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", stride={self.stride}"


class SparseInverseConv(_SparseConvBase):
    """Transposed convolution back onto the finer sites of ``target``.

    ``forward(x, target)``: ``x`` is at ``target``'s tensor stride times ``stride``. The map is
    the transposed map of the matching ``SparseConv``/pooling, reused from the cache when
    ``x`` came from ``target`` through one. Weight ``[K, Cin, Cout]`` is applied as in a dense
    transposed convolution with padding ``(k-1)//2``.
    """

    def __init__(self, dim: int, in_channels: int, out_channels: int,
                 kernel_size: int | Sequence[int] = 2, stride: int | Sequence[int] = 2,
                 bias: bool = True) -> None:
        super().__init__(dim, in_channels, out_channels, kernel_size, bias)
        self.stride = _positive_stride(stride, dim)

    def forward(self, x: SparseTensor, target: SparseTensor) -> SparseTensor:
        self._check_input(x)
        if not isinstance(target, SparseTensor) or target.dim != self.dim:
            raise TypeError(f"SparseInverseConv target must be a {self.dim}D SparseTensor")
        expected = tuple(a * b for a, b in zip(target.stride, self.stride, strict=True))
        if x.stride != expected:
            raise ValueError(f"SparseInverseConv input has tensor stride {x.stride}; with "
                             f"stride {self.stride} onto a target at {target.stride} it must "
                             f"be {expected}")
        if x.manager is target.manager:
            kmap = target.manager.upsample_map(x.coord_id, target.coord_id, self.kernel_size,
                                               self.stride)
        else:
            # Different managers: register x's sites with the target's manager first.
            coarse_id = target.manager.add(x.manager.get(x.coord_id))
            kmap = target.manager.upsample_map(coarse_id, target.coord_id, self.kernel_size,
                                               self.stride)
        feats = self._convolve(x, kmap)
        return target.replace(feats)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", stride={self.stride}"
