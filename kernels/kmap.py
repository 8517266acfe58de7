"""Kernel maps: for every kernel offset, the (input row, output row) pairs it connects.

A map stores the pairs of all offsets in one pair of index tensors, grouped by offset
(``bounds[k]:bounds[k+1]`` are offset ``k``'s pairs). Within one offset every output row and
every input row appears at most once, which is what makes the per-offset scatter-add of the
convolution race-free and deterministic on any device and thread count.

Offsets are numbered in C order over the kernel window (last axis fastest), the order of the
spatial axes of a dense ``conv{2,3}d`` weight.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from kernels import keys as _keys
from kernels.coordinate_set import CoordinateSet, grid_shape_at


@dataclass(frozen=True, eq=False)
class KernelMap:
    in_idx: torch.Tensor
    out_idx: torch.Tensor
    bounds: tuple[int, ...]
    n_in: int
    n_out: int
    # Offset whose pairs are (i, i) for every row; kept implicit (a plain matmul, no gather).
    identity: int | None = None
    # Offset K-1-k holds the pairs of offset k read backwards (a submanifold map).
    mirrored: bool = False
    # Derived structures (row-sorted reduction matrices, the transposed map), built once and
    # shared with the transposed map, which holds the same index tensors.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def volume(self) -> int:
        return len(self.bounds) - 1

    @property
    def num_pairs(self) -> int:
        return self.bounds[-1] + (self.n_in if self.identity is not None else 0)

    def pairs(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = self.bounds[k], self.bounds[k + 1]
        return self.in_idx[a:b], self.out_idx[a:b]

    def transposed(self) -> KernelMap:
        """The same pairs read backwards (output rows become input rows)."""
        key = ("transposed", id(self))
        if key not in self.memo:
            self.memo[key] = KernelMap(self.out_idx, self.in_idx, self.bounds, self.n_out,
                                       self.n_in, self.identity, self.mirrored, self.memo)
        return self.memo[key]

    def grouped_by(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """CSR of the pairs by ``index`` (``in_idx`` or ``out_idx``): (row pointers, pair
        positions), each row's pairs in offset order (a fixed order: sums over it are
        deterministic). Built once; a mirrored map derives one side from the other."""
        other = self.in_idx if index is self.out_idx else self.out_idx
        key, other_key = ("csr", id(index)), ("csr", id(other))
        if key not in self.memo:
            if self.mirrored and other_key in self.memo:
                crow, col = self.memo[other_key]
                self.memo[key] = (crow, _mirror(col, self.bounds))
            else:
                n_rows = self.n_out if index is self.out_idx else self.n_in
                self.memo[key] = _group(index, self.bounds, n_rows)
        return self.memo[key]


def _group(index: torch.Tensor, bounds: tuple[int, ...],
           n_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Counting sort of the pairs by row: rows are unique within an offset, so one pass per
    offset places its pairs after those of the earlier offsets (no comparison sort)."""
    pairs = index.numel()
    itype = torch.int32 if max(pairs, n_rows) < 2**31 else torch.int64
    crow = torch.zeros(n_rows + 1, dtype=itype, device=index.device)
    counts = torch.bincount(index, minlength=n_rows)
    torch.cumsum(counts, 0, out=crow[1:])
    col = torch.empty(pairs, dtype=itype, device=index.device)
    position = torch.arange(pairs, dtype=itype, device=index.device)
    if pairs == n_rows and bool((counts == 1).all()):
        # One pair per row (the inputs of non-overlapping windows): a permutation.
        return crow, col.index_put_((index,), position)
    fill = crow[:-1].clone()
    for k in range(len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        if a < b:
            rows = index[a:b]
            dest = fill.index_select(0, rows)
            col.index_put_((dest,), position[a:b])
            fill.index_put_((rows,), dest + 1)
    return crow, col


def _mirror(col: torch.Tensor, bounds: tuple[int, ...]) -> torch.Tensor:
    """Pair positions moved from offset k to the same place in offset K-1-k."""
    volume = len(bounds) - 1
    shift = torch.tensor([bounds[volume - 1 - k] - bounds[k] for k in range(volume)],
                         dtype=col.dtype, device=col.device)
    counts = torch.tensor([bounds[k + 1] - bounds[k] for k in range(volume)], device=col.device)
    per_pair = torch.repeat_interleave(shift, counts, output_size=bounds[-1])
    return col + per_pair.index_select(0, col)


def kernel_offsets(kernel: Sequence[int]) -> list[tuple[int, ...]]:
    """Window positions in C order, each in ``[0, k)`` per axis."""
    return list(itertools.product(*(range(int(k)) for k in kernel)))


def _bounds(counts: Sequence[int]) -> tuple[int, ...]:
    return tuple(itertools.accumulate(counts, initial=0))


def submanifold_map(cs: CoordinateSet, kernel: Sequence[int],
                    dilation: Sequence[int]) -> KernelMap:
    """Map of a submanifold convolution (outputs = inputs, odd kernel centred on each site).

    Only the offsets before the centre are searched: if ``j`` sees ``i`` at offset ``+o``,
    then ``i`` sees ``j`` at ``-o``, the mirrored offset ``K-1-k``. With dilation 1 along the
    last axis, one binary search per row of the window finds all of that row's neighbours.
    """
    volume = math.prod(kernel)
    centre = volume // 2
    n = cs.size
    device = cs.coords.device
    ins: list[torch.Tensor] = [torch.empty(0, dtype=torch.int64, device=device)] * volume
    outs: list[torch.Tensor] = list(ins)
    if n > 0:
        sorted_keys, perm = cs.sorted_keys()
        found = (_row_search if dilation[-1] == 1 else _offset_search)(
            sorted_keys, cs.grid_shape, kernel, dilation, centre)
        for k, (rows, pos) in found.items():
            out_rows = perm.index_select(0, rows)
            in_rows = perm.index_select(0, pos)
            ins[k], outs[k] = in_rows, out_rows
            ins[volume - 1 - k], outs[volume - 1 - k] = out_rows, in_rows
    counts = [t.numel() for t in ins]
    return KernelMap(torch.cat(ins), torch.cat(outs), _bounds(counts), n, n, identity=centre,
                     mirrored=True)


def _window(kernel: Sequence[int], dilation: Sequence[int]) -> list[tuple[int, ...]]:
    """Offsets (grid units) of the window positions in C order, centred."""
    return [tuple((o - k // 2) * d for o, k, d in zip(off, kernel, dilation, strict=True))
            for off in kernel_offsets(kernel)]


def _offset_search(sorted_keys: torch.Tensor, grid_shape: Sequence[int],
                   kernel: Sequence[int], dilation: Sequence[int],
                   centre: int) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """For offsets ``k < centre``: (sorted rows that have the neighbour, its sorted row)."""
    n = sorted_keys.numel()
    found = {}
    for k, offset in enumerate(_window(kernel, dilation)[:centre]):
        query = sorted_keys + _keys.offset_delta(offset, grid_shape)
        # Queries are sorted, so the binary searches walk memory in order.
        pos = torch.searchsorted(sorted_keys, query).clamp_(max=n - 1)
        hit = (sorted_keys.index_select(0, pos) == query).nonzero().squeeze(1)
        found[k] = (hit, pos.index_select(0, hit))
    return found


def _row_search(sorted_keys: torch.Tensor, grid_shape: Sequence[int], kernel: Sequence[int],
                dilation: Sequence[int], centre: int
                ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Like :func:`_offset_search`, one binary search per window row (last-axis dilation 1).

    Keys along the last axis are consecutive integers, so the ``k`` neighbours of one row
    of the window are the keys ``q, q+1, ..., q+k-1`` and the one at ``q+j`` can only sit at
    sorted position ``p..p+j``, where ``p`` is the insertion point of ``q``.
    """
    width = int(kernel[-1])
    window = _window(kernel, dilation)
    # Past-the-end sentinels so that p + j never needs clamping.
    padded = torch.cat([sorted_keys, sorted_keys.new_full((width,), torch.iinfo(torch.int64).max)])
    found = _centre_row(sorted_keys, width // 2, centre)
    for first in range(0, centre - width // 2, width):
        offset = window[first]
        query = sorted_keys + _keys.offset_delta(offset, grid_shape)
        pos = torch.searchsorted(sorted_keys, query)
        # Key distance of the m-th key at or after the insertion point: the neighbour at
        # window column j sits at position pos + m exactly when that distance equals j.
        dist = [padded.index_select(0, pos + m).sub_(query) for m in range(width)]
        for j in range(min(width, centre - first)):
            hits = [(dist[m] == j).nonzero().squeeze(1) for m in range(j + 1)]
            rows = torch.cat(hits) if j else hits[0]
            where = torch.cat([pos.index_select(0, h) + m for m, h in enumerate(hits)])
            found[first + j] = (rows, where)
    return found


def _centre_row(sorted_keys: torch.Tensor, reach: int,
                centre: int) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """The window row through the centre needs no search: the neighbour ``d`` cells back
    along the last axis has key ``s - d``, so it sits ``m <= d`` sorted places back."""
    found = {}
    for d in range(1, reach + 1):
        hits = [((sorted_keys[m:] - sorted_keys[:-m]) == d).nonzero().squeeze(1) + m
                for m in range(1, min(d, sorted_keys.numel() - 1) + 1)]
        rows = torch.cat(hits) if len(hits) > 1 else (hits[0] if hits else sorted_keys[:0])
        where = torch.cat([h - m for m, h in enumerate(hits, start=1)]) if hits else rows
        found[centre - d] = (rows, where)
    return found


def _candidates(cs: CoordinateSet, kernel: Sequence[int], stride: Sequence[int],
                out_grid_shape: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every (offset, input row, output key) of a strided window, sorted by offset.

    Output site ``v`` reads input ``u = s*v - p + o`` for window position ``o``, with padding
    ``p = (k-1)//2`` (the convention of a dense strided convolution with that padding).
    """
    device = cs.coords.device
    grid = cs.grid()
    batch = cs.coords[:, 0]
    n = cs.size
    s = torch.tensor(stride, dtype=torch.int64, device=device)
    if tuple(kernel) == tuple(stride) and all(int(k) <= 2 for k in kernel):
        # Non-overlapping windows without padding: each input lies in exactly one window.
        v = torch.div(grid, s, rounding_mode="floor")
        rem = grid - v * s
        code = torch.zeros(n, dtype=torch.int64, device=device)
        for axis, k in enumerate(kernel):
            code = code * int(k) + rem[:, axis]
        order = torch.argsort(code, stable=True)
        return code[order], order, _keys.pack(batch[order], v[order], out_grid_shape)
    # Per axis and window position: is the window start reachable (divisible, in range),
    # and that axis's share of the output key. A window offset combines one of each.
    radices = _keys.radices(out_grid_shape)
    valid_axis: list[list[torch.Tensor]] = []
    term_axis: list[list[torch.Tensor]] = []
    mult = 1
    terms_mult = []
    for r in reversed(radices):
        terms_mult.append(mult)
        mult *= r
    terms_mult.reverse()
    batch_term = batch * mult
    for axis, k in enumerate(kernel):
        pad = (int(k) - 1) // 2
        u = grid[:, axis]
        valid_axis.append([])
        term_axis.append([])
        for o in range(int(k)):
            shifted = u + (pad - o)
            v = torch.div(shifted, stride[axis], rounding_mode="floor")
            valid_axis[axis].append((v * stride[axis] == shifted) & (v >= 0)
                                    & (v < out_grid_shape[axis]))
            term_axis[axis].append((v + _keys.MARGIN) * terms_mult[axis])
    # All window offsets in one pass: one nonzero (one host sync on a GPU), not one each.
    offsets = torch.tensor(kernel_offsets(kernel), dtype=torch.int64, device=device)  # [K, D]
    mask = torch.stack(valid_axis[0]).index_select(0, offsets[:, 0])  # [K, n]
    for axis in range(1, len(kernel)):
        mask &= torch.stack(valid_axis[axis]).index_select(0, offsets[:, axis])
    code, rows = mask.nonzero().unbind(1)  # by offset, then row
    key = batch_term.index_select(0, rows)
    for axis in range(len(kernel)):
        key += torch.stack(term_axis[axis])[offsets[code, axis], rows]
    return code, rows, key


def downsample_map(cs: CoordinateSet, kernel: Sequence[int],
                   stride: Sequence[int]) -> tuple[CoordinateSet, KernelMap]:
    """Output sites of a strided convolution (every window holding an input) and its map."""
    out_stride = tuple(a * b for a, b in zip(cs.stride, stride, strict=True))
    out_shape = grid_shape_at(cs.spatial_shape, out_stride)
    code, rows, out_keys = _candidates(cs, kernel, stride, out_shape)
    unique_keys, inverse = torch.unique(out_keys, sorted=True, return_inverse=True)
    volume = math.prod(kernel)
    counts = torch.bincount(code, minlength=volume).tolist()
    batch, grid = _keys.unpack(unique_keys, out_shape)
    step = torch.tensor(out_stride, dtype=torch.int64, device=grid.device)
    coords = torch.cat([batch.unsqueeze(1), grid * step], dim=1)
    out = CoordinateSet(coords, out_stride, cs.spatial_shape, cs.batch_size)
    out._keys = unique_keys
    out.set_sorted(unique_keys, torch.arange(unique_keys.numel(), device=grid.device))
    kmap = KernelMap(rows, inverse, _bounds(counts), cs.size, out.size)
    return out, kmap


def lookup_map(fine: CoordinateSet, coarse: CoordinateSet, kernel: Sequence[int],
               stride: Sequence[int]) -> KernelMap:
    """Strided map from ``fine`` onto an existing coarser set (pairs with no site dropped)."""
    code, rows, out_keys = _candidates(fine, kernel, stride, coarse.grid_shape)
    volume = math.prod(kernel)
    if coarse.size == 0 or rows.numel() == 0:
        empty = rows[:0]
        return KernelMap(empty, empty, (0,) * (volume + 1), fine.size, coarse.size)
    sorted_keys, perm = coarse.sorted_keys()
    pos = torch.searchsorted(sorted_keys, out_keys).clamp_(max=coarse.size - 1)
    found = sorted_keys[pos] == out_keys
    code, rows, cols = code[found], rows[found], perm[pos[found]]
    counts = torch.bincount(code, minlength=volume).tolist()
    return KernelMap(rows, cols, _bounds(counts), fine.size, coarse.size)
