"""Shared builders for the kernels suite: random sparse batches and dense references."""

from __future__ import annotations

import pytest
import torch

from kernels import SparseTensor


def random_sparse(dim: int, shape: int, batch: int, channels: int, density: float,
                  seed: int, empty_event: int | None = None,
                  dtype: torch.dtype = torch.float32) -> SparseTensor:
    """Random distinct sites (fixed seed); ``empty_event`` gets no sites at all."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand((batch,) + (shape,) * dim, generator=gen) < density
    if empty_event is not None:
        mask[empty_event] = False
    coords = mask.nonzero()
    # Rows in a scrambled order: nothing may rely on sorted input.
    coords = coords[torch.randperm(coords.shape[0], generator=gen)]
    feats = torch.randn(coords.shape[0], channels, generator=gen, dtype=dtype)
    return SparseTensor(coords.int(), feats, (shape,) * dim, batch_size=batch)


def dense_of(x: SparseTensor, feats: torch.Tensor | None = None,
             fill: float = 0.0) -> torch.Tensor:
    """Dense [B, C, *grid] built independently of ``to_dense`` (``fill`` at empty sites)."""
    feats = x.feats if feats is None else feats
    grid = [(-(-n // s)) for n, s in zip(x.spatial_shape, x.stride, strict=True)]
    dense = torch.full((x.batch_size, feats.shape[1], *grid), fill, dtype=feats.dtype)
    step = torch.tensor(x.stride)
    for row, c in enumerate(x.coords.tolist()):
        pos = (torch.tensor(c[1:]) // step).tolist()
        dense[(c[0], slice(None), *pos)] = feats[row]
    return dense


def at_sites(dense: torch.Tensor, x: SparseTensor) -> torch.Tensor:
    """Rows [N, C] of ``dense`` [B, C, *grid] at the sites of ``x``."""
    step = torch.tensor(x.stride)
    grid = torch.div(x.coords[:, 1:], step, rounding_mode="floor")
    return dense.movedim(1, -1)[(x.coords[:, 0], *grid.unbind(1))]


def dense_weight(weight: torch.Tensor, kernel: tuple[int, ...]) -> torch.Tensor:
    """[K, Cin, Cout] -> dense convolution weight [Cout, Cin, *kernel]."""
    d = len(kernel)
    return weight.reshape(*kernel, weight.shape[1], weight.shape[2]).permute(
        d + 1, d, *range(d))


def dense_weight_transposed(weight: torch.Tensor, kernel: tuple[int, ...]) -> torch.Tensor:
    """[K, Cin, Cout] -> dense transposed-convolution weight [Cin, Cout, *kernel]."""
    d = len(kernel)
    return weight.reshape(*kernel, weight.shape[1], weight.shape[2]).permute(
        d, d + 1, *range(d))


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = b.abs().max().item() if b.numel() else 0.0
    return (a - b).abs().max().item() / max(scale, 1e-12) if a.numel() else 0.0


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
