"""Reused workspaces never change a result: across calls, layers, shapes and thread counts."""

from __future__ import annotations

import gc

import pytest
import torch
from conftest import random_sparse

from kernels import SparseConv, SparseInverseConv, SparseTensor, SubMConv, cat, workspace
from kernels.sparse_conv_function import sparse_conv


def _layers(dim: int) -> torch.nn.ModuleDict:
    torch.manual_seed(0)
    return torch.nn.ModuleDict({
        "a": SubMConv(dim, 3, 8), "b": SubMConv(dim, 8, 8, kernel_size=5),
        "down": SparseConv(dim, 8, 16), "c": SubMConv(dim, 16, 16),
        "up": SparseInverseConv(dim, 16, 8), "d": SubMConv(dim, 16, 4),
    })


def _net(net: torch.nn.ModuleDict, x: SparseTensor) -> tuple[torch.Tensor, ...]:
    """Output and every gradient of a small U-Net on ``x``."""
    feats = x.feats.detach().clone().requires_grad_(True)
    x = x.replace(feats)
    a = net["b"](net["a"](x))
    c = net["c"](net["down"](a))
    out = net["d"](cat(net["up"](c, a), a)).feats
    net.zero_grad()
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return (out.detach(), feats.grad) + tuple(p.grad.clone() for p in net.parameters())


def _fresh(x: SparseTensor) -> SparseTensor:
    """The same event on a new coordinate manager (new maps, workspace from the idle slot)."""
    return SparseTensor(x.coords, x.feats, x.spatial_shape, batch_size=x.batch_size)


def _equal(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> bool:
    return all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize("dim", [2, 3])
def test_reuse_across_calls_and_events_is_bitwise_stable(dim):
    net = _layers(dim)
    big = random_sparse(dim, 12 if dim == 2 else 7, batch=2, channels=3, density=0.4, seed=1)
    small = random_sparse(dim, 6 if dim == 2 else 4, batch=1, channels=3, density=0.3, seed=2)
    first_big, first_small = _net(net, big), _net(net, small)
    # Same manager again (buffers reused), then new managers (the parked workspace), with
    # the events alternating so that every buffer changes shape between calls.
    for x in (big, small, _fresh(big), _fresh(small), big):
        expected = first_big if x.num_sites == big.num_sites else first_small
        assert _equal(_net(net, x), expected)


def test_same_results_without_workspace_and_without_kept_gathers():
    x = random_sparse(3, 6, batch=2, channels=4, density=0.4, seed=3)
    kmap = x.manager.submanifold_map(x.coord_id, (3, 3, 3), (1, 1, 1))
    weight = torch.randn(27, 4, 5, requires_grad=True)
    upstream = torch.randn(x.num_sites, 5)

    def run(ws: workspace.Workspace | None) -> tuple[torch.Tensor, ...]:
        feats = x.feats.detach().clone().requires_grad_(True)
        weight.grad = None
        out = sparse_conv(feats, weight, kmap, ws)
        (out * upstream).sum().backward()
        return out.detach(), feats.grad, weight.grad.clone()

    plain = run(None)
    ws = workspace.Workspace()
    assert _equal(run(ws), plain) and _equal(run(ws), plain)
    assert ws.kept_bytes > 0  # the forward's gather was kept for the weight gradient
    limit = workspace.kept_gather_limit()
    try:
        workspace.set_kept_gather_limit(0)
        bounded = workspace.Workspace()
        assert _equal(run(bounded), plain)
        assert bounded.kept_bytes == 0
    finally:
        workspace.set_kept_gather_limit(limit)


def test_outputs_of_two_layers_alive_at_once_do_not_alias():
    x = random_sparse(2, 16, batch=2, channels=4, density=0.3, seed=4)
    feats = x.feats.detach().clone().requires_grad_(True)
    x = x.replace(feats)
    torch.manual_seed(5)
    one, two = SubMConv(2, 4, 6), SubMConv(2, 4, 6)
    y1 = one(x)
    kept1 = y1.feats.detach().clone()
    y2 = two(x)  # same map, same workspace, while y1 and its kept gather are alive
    assert torch.equal(y1.feats, kept1)
    (y1.feats.sum() + (2 * y2.feats).sum()).backward()
    got = (feats.grad.clone(), one.weight.grad.clone(), two.weight.grad.clone())

    # Reference: each layer alone, on its own fresh manager.
    ref_feats = x.feats.detach().clone().requires_grad_(True)
    one.zero_grad()
    two.zero_grad()
    (one(_fresh(x.replace(ref_feats))).feats.sum()
     + (2 * two(_fresh(x.replace(ref_feats))).feats).sum()).backward()
    assert torch.equal(one(_fresh(x)).feats, kept1)
    assert torch.allclose(got[0], ref_feats.grad, rtol=1e-6, atol=1e-6)
    assert torch.equal(got[1], one.weight.grad) and torch.equal(got[2], two.weight.grad)


def test_second_backward_of_a_kept_graph():
    x = random_sparse(2, 10, batch=1, channels=3, density=0.4, seed=6)
    feats = x.feats.detach().clone().requires_grad_(True)
    conv = SubMConv(2, 3, 3)
    loss = conv(x.replace(feats)).feats.square().sum()
    loss.backward(retain_graph=True)
    first = conv.weight.grad.clone()
    conv.zero_grad()
    loss.backward()
    assert torch.equal(conv.weight.grad, first)
    ws = x.manager.workspace(x.device)
    # Given back twice, listed once: two later forwards must not share one buffer.
    assert len(ws._free) == len({id(b) for b in ws._free})


def test_buffer_reused_before_a_second_backward_is_detected():
    x = random_sparse(2, 10, batch=1, channels=3, density=0.4, seed=7)
    conv = SubMConv(2, 3, 3)
    loss = conv(x.replace(x.feats.detach().clone().requires_grad_(True))).feats.sum()
    loss.backward(retain_graph=True)
    conv(x.replace(x.feats.detach().clone().requires_grad_(True)))  # takes the buffer back
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_workspace_outlives_its_manager_for_the_next_one():
    x = random_sparse(2, 8, batch=1, channels=2, density=0.4, seed=8)
    ws = x.manager.workspace(x.device)
    del x
    gc.collect()
    y = random_sparse(2, 8, batch=1, channels=2, density=0.4, seed=9)
    assert y.manager.workspace(y.device) is ws
    workspace.release_workspaces()


def test_negative_limit_is_refused():
    with pytest.raises(ValueError, match="limit"):
        workspace.set_kept_gather_limit(-1)


def test_kept_buffers_stay_within_the_bound_as_events_grow():
    limit = workspace.kept_gather_limit()
    ws = workspace.Workspace()
    try:
        workspace.set_kept_gather_limit(1000 * 4)
        small = ws.lend(10, 40, torch.float32, torch.device("cpu"))  # 1600 bytes
        assert small is not None
        ws.give_back(small)
        del small
        # 3200 bytes do not fit beside the free 1600: the free buffer makes room.
        big = ws.lend(20, 40, torch.float32, torch.device("cpu"))
        assert big is not None and ws.kept_bytes == 3200
        assert ws.lend(10, 40, torch.float32, torch.device("cpu")) is None  # over the bound
    finally:
        workspace.set_kept_gather_limit(limit)
