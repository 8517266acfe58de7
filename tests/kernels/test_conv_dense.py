"""Every convolution against its dense torch reference, forward and backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import (
    at_sites,
    dense_of,
    dense_weight,
    dense_weight_transposed,
    random_sparse,
    rel_err,
)

from kernels import SparseConv, SparseInverseConv, SparseTensor, SubMConv

TOL = 1e-4
CONV = {2: F.conv2d, 3: F.conv3d}
CONV_T = {2: F.conv_transpose2d, 3: F.conv_transpose3d}

# (dim, grid size, kernel, dilation): kernel 3 and 5, dilation 2, odd and even sizes.
SUBM_CASES = [
    (2, 11, 3, 1), (2, 10, 5, 1), (2, 11, 3, 2),
    (3, 7, 3, 1), (3, 8, 5, 1), (3, 7, 3, 2),
]


def _grad_inputs(x: SparseTensor) -> tuple[SparseTensor, torch.Tensor]:
    feats = x.feats.clone().requires_grad_(True)
    return x.replace(feats), feats


@pytest.mark.parametrize(("dim", "size", "kernel", "dilation"), SUBM_CASES)
@pytest.mark.parametrize("channels", [(1, 3), (4, 5)])
def test_submanifold_matches_dense(dim, size, kernel, dilation, channels):
    cin, cout = channels
    x = random_sparse(dim, size, batch=3, channels=cin, density=0.3, seed=size + kernel,
                      empty_event=1)
    x, feats = _grad_inputs(x)
    conv = SubMConv(dim, cin, cout, kernel_size=kernel, dilation=dilation)
    out = conv(x)
    assert torch.equal(out.coords, x.coords)
    upstream = torch.randn_like(out.feats)
    (out.feats * upstream).sum().backward()

    dense_in = dense_of(x, feats.detach()).requires_grad_(True)
    w = dense_weight(conv.weight.detach(), conv.kernel_size).requires_grad_(True)
    dense_out = CONV[dim](dense_in, w, conv.bias.detach(), padding=dilation * (kernel // 2),
                          dilation=dilation)
    ref = at_sites(dense_out, x)
    (ref * upstream).sum().backward()

    assert rel_err(out.feats.detach(), ref.detach()) <= TOL
    assert rel_err(feats.grad, at_sites(dense_in.grad, x)) <= TOL
    ref_wgrad = w.grad.permute(*range(2, 2 + dim), 1, 0).reshape(conv.weight.shape)
    assert rel_err(conv.weight.grad, ref_wgrad) <= TOL
    assert rel_err(conv.bias.grad, upstream.sum(0)) <= TOL


def _strided_reference(x: SparseTensor, conv: SparseConv, feats: torch.Tensor):
    """Dense strided convolution (padding (k-1)//2), padded so the grid is ceil(L/s)."""
    dim = x.dim
    k, s = conv.kernel_size[0], conv.stride[0]
    dense_in = dense_of(x, feats)
    extra = k  # zeros past the end so every sparse output window exists densely
    dense_in = F.pad(dense_in, (0, extra) * dim)
    w = dense_weight(conv.weight, conv.kernel_size)
    dense_out = CONV[dim](dense_in, w, conv.bias, stride=s, padding=(k - 1) // 2)
    out_grid = [-(-n // s) for n in x.spatial_shape]
    dense_out = dense_out[(slice(None), slice(None), *(slice(0, g) for g in out_grid))]
    occupancy = CONV[dim](F.pad(dense_of(x, torch.ones(x.num_sites, 1)), (0, extra) * dim),
                          torch.ones((1, 1) + (k,) * dim), stride=s, padding=(k - 1) // 2)
    occupancy = occupancy[(slice(None), slice(None), *(slice(0, g) for g in out_grid))]
    return dense_out, occupancy


STRIDED_CASES = [(2, 12, 2, 2), (2, 11, 3, 2), (3, 8, 2, 2), (3, 7, 3, 2), (2, 10, 5, 2),
                 (2, 11, 3, 3)]


@pytest.mark.parametrize(("dim", "size", "kernel", "stride"), STRIDED_CASES)
def test_strided_and_transposed_match_dense(dim, size, kernel, stride):
    cin, cmid = 3, 4
    x = random_sparse(dim, size, batch=3, channels=cin, density=0.3, seed=10 * size + kernel,
                      empty_event=0)
    x, feats = _grad_inputs(x)
    down = SparseConv(dim, cin, cmid, kernel_size=kernel, stride=stride)
    up = SparseInverseConv(dim, cmid, cin, kernel_size=kernel, stride=stride)
    y = down(x)
    assert y.stride == (stride,) * dim
    z = up(y, x)
    assert torch.equal(z.coords, x.coords)
    g_y = torch.randn_like(y.feats)
    g_z = torch.randn_like(z.feats)
    ((y.feats * g_y).sum() + (z.feats * g_z).sum()).backward()
    grads = {"feats": feats.grad.clone(), "down": down.weight.grad.clone(),
             "up": up.weight.grad.clone()}
    down.zero_grad()
    up.zero_grad()

    # Strided: the output sites are exactly the windows holding an input site.
    feats_ref = feats.detach().clone().requires_grad_(True)
    dense_y, occupancy = _strided_reference(x, down, feats_ref)
    active = (occupancy[:, 0] > 0).nonzero()
    got = torch.cat([y.coords[:, :1], y.coords[:, 1:] // stride], 1)
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, active.tolist()))
    ref_y = at_sites(dense_y, y)
    assert rel_err(y.feats.detach(), ref_y.detach()) <= TOL

    # Transposed: dense conv_transpose from the coarse grid (fed by the dense strided
    # result, so gradients flow through both layers), read at the fine sites.
    k, p = kernel, (kernel - 1) // 2
    w = dense_weight_transposed(up.weight.detach(), up.kernel_size).requires_grad_(True)
    dense_z = CONV_T[dim](dense_of(y, ref_y), w, up.bias.detach(), stride=stride)
    crop = (slice(None), slice(None), *(slice(p, p + n) for n in x.spatial_shape))
    dense_z = F.pad(dense_z, (0, k) * dim)[crop]
    ref_z = at_sites(dense_z, x)
    assert rel_err(z.feats.detach(), ref_z.detach()) <= TOL

    ((ref_y * g_y).sum() + (ref_z * g_z).sum()).backward()
    assert rel_err(grads["feats"], feats_ref.grad) <= TOL
    assert rel_err(grads["down"], down.weight.grad) <= TOL
    ref_wgrad = w.grad.permute(*range(2, 2 + dim), 0, 1).reshape(up.weight.shape)
    assert rel_err(grads["up"], ref_wgrad) <= TOL


def test_inverse_conv_onto_unrelated_coarse_set():
    """A coarse tensor that did not come from the target still maps by lookup."""
    x = random_sparse(2, 10, batch=2, channels=2, density=0.4, seed=3)
    y = SparseConv(2, 2, 3)(x)
    fresh = SparseTensor(y.coords.clone(), y.feats.detach(), y.spatial_shape, y.batch_size,
                         stride=2)
    up = SparseInverseConv(2, 3, 2)
    assert torch.allclose(up(fresh, x).feats, up(y, x).feats, atol=1e-6)


def test_layers_at_one_resolution_share_one_map():
    x = random_sparse(3, 6, batch=2, channels=2, density=0.3, seed=5)
    a = SubMConv(3, 2, 2)
    b = SubMConv(3, 2, 2)
    y = b(a(x))
    cached = [key for key in x.manager._cache if key[0] == "subm"]
    assert len(cached) == 1 and y.manager is x.manager
    down = SparseConv(3, 2, 2)(y)
    SparseInverseConv(3, 2, 2)(down, y)
    assert not any(key[0] == "up" for key in x.manager._cache)
