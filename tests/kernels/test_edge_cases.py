"""Empty events, single sites, borders, channel counts, thread-count determinism."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import at_sites, dense_of, dense_weight, random_sparse, rel_err

from kernels import (
    SparseAvgPool,
    SparseConv,
    SparseInverseConv,
    SparseMaxPool,
    SparseReLU,
    SparseTensor,
    SubMConv,
    cat,
    global_pool,
)


def _unet(dim: int, channels: int) -> torch.nn.ModuleDict:
    torch.manual_seed(0)
    return torch.nn.ModuleDict({
        "a": SubMConv(dim, channels, 8), "relu": SparseReLU(),
        "down": SparseConv(dim, 8, 8), "b": SubMConv(dim, 8, 8, kernel_size=5, dilation=1),
        "up": SparseInverseConv(dim, 8, 8), "c": SubMConv(dim, 16, 4, dilation=2),
        "down3": SparseConv(dim, 4, 4, kernel_size=3), "pool": SparseMaxPool(dim),
    })


def _run(net: torch.nn.ModuleDict, x: SparseTensor) -> tuple[torch.Tensor, ...]:
    feats = x.feats.clone().requires_grad_(True)
    x = x.replace(feats)
    a = net["relu"](net["a"](x))
    b = net["b"](net["down"](a))
    c = net["c"](cat(net["up"](b, a), a))
    d = net["down3"](c)
    e = net["pool"](c)
    loss = (c.feats.square().sum() + global_pool(d, "max").sum() + global_pool(e).sum()
            + d.feats.sum())
    net.zero_grad()
    loss.backward()
    grads = tuple(p.grad.clone() for p in net.parameters())
    return (c.feats.detach(), d.feats.detach(), feats.grad) + grads


@pytest.mark.parametrize("dim", [2, 3])
def test_identical_at_one_and_two_threads(dim):
    size = 96 if dim == 2 else 24
    x = random_sparse(dim, size, batch=2, channels=16, density=0.15, seed=11)
    net = _unet(dim, 16)
    torch.set_num_threads(1)
    one = _run(net, x)
    torch.set_num_threads(2)
    two = _run(net, x)
    # Bitwise: every sum of ours runs in a fixed order. (Batch norm is left out: its
    # statistics are torch's own threaded reductions, equal only to ~1e-6.)
    for a, b in zip(one, two, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dim", [2, 3])
def test_empty_event_single_site_and_borders(dim):
    n = 6
    corner = [0] * dim
    far = [n - 1] * dim
    edge = [n - 1] + [0] * (dim - 1)
    # Event 0: sites on the borders and corners; event 1: empty; event 2: one site.
    coords = torch.tensor([[0, *corner], [0, *far], [0, *edge], [2, *([2] * dim)]])
    x = SparseTensor(coords, torch.randn(4, 1), (n,) * dim, batch_size=3)
    conv = SubMConv(dim, 1, 64)
    y = conv(x)
    dense = F.conv3d if dim == 3 else F.conv2d
    ref = at_sites(dense(dense_of(x), dense_weight(conv.weight, conv.kernel_size),
                         conv.bias, padding=1), x)
    assert rel_err(y.feats.detach(), ref.detach()) <= 1e-4
    down = SparseConv(dim, 64, 1, kernel_size=3)(y)
    assert down.batch_size == 3 and set(down.coords[:, 0].tolist()) == {0, 2}
    back = SparseInverseConv(dim, 1, 1, kernel_size=3)(down, x)
    assert back.feats.shape == (4, 1)
    pooled = global_pool(y, "mean")
    assert pooled.shape == (3, 64) and torch.all(pooled[1] == 0)
    assert torch.allclose(pooled[2], y.feats[3])
    assert torch.all(global_pool(y, "max")[1] == 0)
    assert SparseAvgPool(dim)(y).feats.shape[1] == 64


@pytest.mark.parametrize("dim", [2, 3])
def test_no_sites_at_all(dim):
    x = SparseTensor(torch.zeros(0, 1 + dim, dtype=torch.int64), torch.zeros(0, 3),
                     (8,) * dim, batch_size=2)
    feats = x.feats.clone().requires_grad_(True)
    y = SubMConv(dim, 3, 5)(x.replace(feats))
    z = SparseConv(dim, 5, 5)(y)
    w = SparseInverseConv(dim, 5, 2)(z, y)
    assert w.feats.shape == (0, 2) and z.feats.shape == (0, 5)
    w.feats.sum().backward()
    assert feats.grad.shape == (0, 3)
    assert global_pool(w, "max").shape == (2, 2)
