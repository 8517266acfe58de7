"""Gather-GEMM-scatter over a kernel map, with its own backward.

Forward: gather the input rows of all pairs at once, multiply each offset's block by its
``W[k]`` [Cin, Cout], and sum the products into the output rows. Backward: the input
gradient is the same operation with ``W[k]^T`` over the transposed map; the weight gradient
of offset ``k`` is ``gathered_k^T @ grad_out[out rows of k]``.

The sum into output rows is deterministic on every device and thread count: on the CPU it
is one sparse (CSR) matrix product whose rows list their pairs in a fixed order; elsewhere it
is one ``index_add_`` per offset, whose rows are unique within the offset, in offset order.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F

from kernels.kmap import KernelMap


def _rows(src: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    # The embedding lookup is the fastest plain row gather on the CPU (several times
    # index_select's speed for narrow rows) and is an ordinary gather on other devices.
    return F.embedding(index, src)


def _reduction_matrix(index: torch.Tensor, n_rows: int, dtype: torch.dtype,
                      memo: dict[Any, Any]) -> torch.Tensor:
    """CSR [n_rows, P] with a one at (index[p], p): ``matrix @ Y`` sums Y's rows by index."""
    key = ("csr", id(index), n_rows, dtype)
    if key not in memo:
        small = index.to(torch.int32) if n_rows < 2**31 else index
        order = torch.argsort(small, stable=True)
        crow = torch.zeros(n_rows + 1, dtype=torch.int64, device=index.device)
        crow[1:] = torch.cumsum(torch.bincount(index, minlength=n_rows), 0)
        values = torch.ones(index.numel(), dtype=dtype, device=index.device)
        with warnings.catch_warnings():
            # torch flags its CSR tensors as "beta"; the product used here is long-standing.
            warnings.simplefilter("ignore", UserWarning)
            memo[key] = torch.sparse_csr_tensor(crow, order, values, (n_rows, index.numel()),
                                                check_invariants=False)
    return memo[key]


def _sum_rows(products: torch.Tensor, index: torch.Tensor, n_rows: int,
              kmap: KernelMap) -> torch.Tensor:
    """``out[r] = sum of products[p] with index[p] == r``, in a fixed order."""
    if products.device.type == "cpu":
        if products.shape[0] == 0:
            return products.new_zeros((n_rows, products.shape[1]))
        return _reduction_matrix(index, n_rows, products.dtype, kmap.memo) @ products
    out = products.new_zeros((n_rows, products.shape[1]))
    for k in range(kmap.volume):
        a, b = kmap.bounds[k], kmap.bounds[k + 1]
        if a < b:
            out.index_add_(0, index[a:b], products[a:b])
    return out


def _per_offset_mm(left: torch.Tensor, weight: torch.Tensor, kmap: KernelMap) -> torch.Tensor:
    """Row block ``k`` of ``left`` times ``weight[k]``."""
    out = left.new_empty((left.shape[0], weight.shape[2]))
    for k in range(kmap.volume):
        a, b = kmap.bounds[k], kmap.bounds[k + 1]
        if a < b:
            torch.mm(left[a:b], weight[k], out=out[a:b])
    return out


def apply_map(feats: torch.Tensor, weight: torch.Tensor, kmap: KernelMap) -> torch.Tensor:
    """``out[j] = sum_k sum_{(i, j) in pairs_k} feats[i] @ weight[k]`` (no autograd)."""
    products = _per_offset_mm(_rows(feats, kmap.in_idx), weight, kmap)
    out = _sum_rows(products, kmap.out_idx, kmap.n_out, kmap)
    if kmap.identity is not None:
        out = out.addmm_(feats, weight[kmap.identity])
    return out


class SparseConvFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, feats: torch.Tensor, weight: torch.Tensor,
                kmap: KernelMap) -> torch.Tensor:
        feats = feats.contiguous()
        ctx.save_for_backward(feats, weight)
        ctx.kmap = kmap
        return apply_map(feats, weight, kmap)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        feats, weight = ctx.saved_tensors
        kmap: KernelMap = ctx.kmap
        grad_out = grad_out.contiguous()
        grad_rows = _rows(grad_out, kmap.out_idx)  # [P, Cout], shared by both gradients
        grad_in = grad_w = None
        if ctx.needs_input_grad[0]:
            weight_t = weight.transpose(1, 2)
            products = _per_offset_mm(grad_rows, weight_t, kmap)
            grad_in = _sum_rows(products, kmap.in_idx, kmap.n_in, kmap)
            if kmap.identity is not None:
                grad_in = grad_in.addmm_(grad_out, weight_t[kmap.identity])
        if ctx.needs_input_grad[1]:
            gathered = _rows(feats, kmap.in_idx)
            grad_w = torch.zeros_like(weight)
            for k in range(kmap.volume):
                a, b = kmap.bounds[k], kmap.bounds[k + 1]
                if a < b:
                    torch.mm(gathered[a:b].t(), grad_rows[a:b], out=grad_w[k])
            if kmap.identity is not None:
                torch.mm(feats.t(), grad_out, out=grad_w[kmap.identity])
        return grad_in, grad_w, None


def sparse_conv(feats: torch.Tensor, weight: torch.Tensor, kmap: KernelMap) -> torch.Tensor:
    """Differentiable convolution of ``feats`` [n_in, Cin] with ``weight`` [K, Cin, Cout]."""
    return SparseConvFunction.apply(feats, weight, kmap)
