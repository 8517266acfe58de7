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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from kernels.kmap import KernelMap
from kernels.workspace import Workspace


def _reduction_matrix(index: torch.Tensor, dtype: torch.dtype,
                      kmap: KernelMap) -> torch.Tensor:
    """CSR [n_rows, P] with a one at (index[p], p): ``matrix @ Y`` sums Y's rows by index."""
    key = ("csr matrix", id(index), dtype)
    if key not in kmap.memo:
        crow, col = kmap.grouped_by(index)
        values = torch.ones(index.numel(), dtype=dtype, device=index.device)
        with warnings.catch_warnings():
            # torch flags its CSR tensors as "beta"; the product used here is long-standing.
            warnings.simplefilter("ignore", UserWarning)
            kmap.memo[key] = torch.sparse_csr_tensor(
                crow, col, values, (crow.numel() - 1, index.numel()), check_invariants=False)
    return kmap.memo[key]


def _add_rows(out: torch.Tensor, products: torch.Tensor, index: torch.Tensor,
              kmap: KernelMap) -> torch.Tensor:
    """``out[r] += sum of products[p] with index[p] == r``, in a fixed order, in place."""
    if products.shape[0] == 0:
        return out
    if products.device.type == "cpu":
        # In place into ``out``: no zero fill and no copy of the product's result.
        return out.addmm_(_reduction_matrix(index, products.dtype, kmap), products)
    for k in range(kmap.volume):
        a, b = kmap.bounds[k], kmap.bounds[k + 1]
        if a < b:
            out.index_add_(0, index[a:b], products[a:b])
    return out


def _start(dense: torch.Tensor, weight: torch.Tensor, n_rows: int,
           kmap: KernelMap) -> torch.Tensor:
    """The identity offset's term ``dense @ weight[identity]``, or zeros without one."""
    if kmap.identity is None:
        return dense.new_zeros((n_rows, weight.shape[2]))
    return torch.mm(dense, weight[kmap.identity])


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run the enclosed BLAS calls on one thread.

    A product ``A^T @ B`` that reduces over many rows is split along those rows when the
    BLAS has several threads, which changes its rounding with the thread count; on one
    thread it is bitwise reproducible, and at the memory floor anyway for these shapes.
    """
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads > 1:
            torch.set_num_threads(threads)


def _buffer(ws: Workspace | None, name: str, rows: int, cols: int,
            like: torch.Tensor) -> torch.Tensor:
    if ws is None:
        return like.new_empty((rows, cols))
    return ws.scratch(name, rows, cols, like.dtype, like.device)


def _gather(src: torch.Tensor, index: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return torch.index_select(src, 0, index, out=out)


def _per_offset_mm(left: torch.Tensor, weight: torch.Tensor, kmap: KernelMap,
                   out: torch.Tensor) -> torch.Tensor:
    """Row block ``k`` of ``left`` times ``weight[k]``, written into ``out``."""
    for k in range(kmap.volume):
        a, b = kmap.bounds[k], kmap.bounds[k + 1]
        if a < b:
            torch.mm(left[a:b], weight[k], out=out[a:b])
    return out


def apply_map(feats: torch.Tensor, weight: torch.Tensor, kmap: KernelMap,
              ws: Workspace | None = None, gathered: torch.Tensor | None = None
              ) -> torch.Tensor:
    """``out[j] = sum_k sum_{(i, j) in pairs_k} feats[i] @ weight[k]`` (no autograd).

    The input rows are gathered into ``gathered`` when given (a buffer the caller keeps).
    """
    pairs = kmap.bounds[-1]
    if gathered is None:
        gathered = _buffer(ws, "in", pairs, weight.shape[1], feats)
    _gather(feats, kmap.in_idx, gathered)
    products = _per_offset_mm(gathered, weight, kmap,
                              _buffer(ws, "out", pairs, weight.shape[2], feats))
    return _add_rows(_start(feats, weight, kmap.n_out, kmap), products, kmap.out_idx, kmap)


class SparseConvFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, feats: torch.Tensor, weight: torch.Tensor, kmap: KernelMap,
                ws: Workspace | None, keep: bool) -> torch.Tensor:
        feats = feats.contiguous()
        pairs, cin = kmap.bounds[-1], weight.shape[1]
        kept = ws.lend(pairs, cin, feats.dtype, feats.device) if keep and ws and pairs else None
        out = apply_map(feats, weight, kmap, ws, kept)
        ctx.save_for_backward(feats, weight, *(() if kept is None else (kept,)))
        ctx.kmap, ctx.ws = kmap, ws
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        feats, weight, *kept = ctx.saved_tensors
        kmap: KernelMap = ctx.kmap
        ws: Workspace | None = ctx.ws
        pairs, cin, cout = kmap.bounds[-1], weight.shape[1], weight.shape[2]
        grad_out = grad_out.contiguous()
        # [P, Cout], shared by both gradients
        grad_rows = _gather(grad_out, kmap.out_idx, _buffer(ws, "out", pairs, cout, grad_out))
        grad_in = grad_w = None
        if ctx.needs_input_grad[1]:
            # The forward's gather when it was kept; else gather again into the scratch that
            # the input gradient overwrites below.
            gathered = kept[0] if kept else _gather(feats, kmap.in_idx,
                                                    _buffer(ws, "in", pairs, cin, feats))
            grad_w = torch.zeros_like(weight)
            with _one_thread():
                for k in range(kmap.volume):
                    a, b = kmap.bounds[k], kmap.bounds[k + 1]
                    if a < b:
                        torch.mm(gathered[a:b].t(), grad_rows[a:b], out=grad_w[k])
                if kmap.identity is not None:
                    torch.mm(feats.t(), grad_out, out=grad_w[kmap.identity])
        if kept and ws is not None:
            ws.give_back(kept[0])
        if ctx.needs_input_grad[0]:
            weight_t = weight.transpose(1, 2)
            products = _per_offset_mm(grad_rows, weight_t, kmap,
                                      _buffer(ws, "in", pairs, cin, grad_out))
            grad_in = _add_rows(_start(grad_out, weight_t, kmap.n_in, kmap), products,
                                kmap.in_idx, kmap)
        return grad_in, grad_w, None, None, None


def sparse_conv(feats: torch.Tensor, weight: torch.Tensor, kmap: KernelMap,
                ws: Workspace | None = None) -> torch.Tensor:
    """Differentiable convolution of ``feats`` [n_in, Cin] with ``weight`` [K, Cin, Cout].

    ``ws``: buffers to reuse (the coordinate manager's); without one, every call allocates.
    """
    keep = torch.is_grad_enabled() and weight.requires_grad
    return SparseConvFunction.apply(feats, weight, kmap, ws, keep)
