"""Gather-GEMM-scatter over a kernel map, with its own backward.

For each offset ``k``: gather the input rows of its pairs, multiply by ``W[k]`` [Cin, Cout],
add into the output rows. Rows are unique within one offset, and offsets are summed in a fixed
order, so the result does not depend on the thread count or on the device's scheduling.

Backward: the input gradient is the same operation with ``W[k]^T`` over the transposed map;
the weight gradient of offset ``k`` is ``gathered_k^T @ grad_out[out rows of k]``.
"""

from __future__ import annotations

from typing import Any

import torch

from kernels.kmap import KernelMap


def apply_map(feats: torch.Tensor, weight: torch.Tensor, kmap: KernelMap) -> torch.Tensor:
    """``out[j] = sum_k sum_{(i, j) in pairs_k} feats[i] @ weight[k]`` (no autograd)."""
    if kmap.identity is not None:
        out = feats @ weight[kmap.identity]
    else:
        out = feats.new_zeros((kmap.n_out, weight.shape[2]))
    for k in range(kmap.volume):
        a, b = kmap.bounds[k], kmap.bounds[k + 1]
        if a == b:
            continue
        gathered = feats.index_select(0, kmap.in_idx[a:b])
        out.index_add_(0, kmap.out_idx[a:b], gathered @ weight[k])
    return out


def weight_grad(feats: torch.Tensor, grad_out: torch.Tensor, kmap: KernelMap) -> torch.Tensor:
    grad = feats.new_zeros((kmap.volume, feats.shape[1], grad_out.shape[1]))
    for k in range(kmap.volume):
        if k == kmap.identity:
            torch.mm(feats.t(), grad_out, out=grad[k])
            continue
        a, b = kmap.bounds[k], kmap.bounds[k + 1]
        if a == b:
            continue
        gathered = feats.index_select(0, kmap.in_idx[a:b])
        torch.mm(gathered.t(), grad_out.index_select(0, kmap.out_idx[a:b]), out=grad[k])
    return grad


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
        grad_in = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_in = apply_map(grad_out, weight.transpose(1, 2), kmap.transposed())
        if ctx.needs_input_grad[1]:
            grad_w = weight_grad(feats, grad_out, kmap)
        return grad_in, grad_w, None


def sparse_conv(feats: torch.Tensor, weight: torch.Tensor, kmap: KernelMap) -> torch.Tensor:
    """Differentiable convolution of ``feats`` [n_in, Cin] with ``weight`` [K, Cin, Cout]."""
    return SparseConvFunction.apply(feats, weight, kmap)
