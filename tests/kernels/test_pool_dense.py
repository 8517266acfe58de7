"""Pooling, batch norm, dense conversions and concatenation against dense references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import at_sites, dense_of, random_sparse, rel_err

from kernels import (
    FeatureWise,
    SparseAvgPool,
    SparseBatchNorm,
    SparseMaxPool,
    cat,
    from_dense,
    global_pool,
    to_dense,
)

MAXPOOL = {2: F.max_pool2d, 3: F.max_pool3d}
AVGPOOL = {2: F.avg_pool2d, 3: F.avg_pool3d}


@pytest.mark.parametrize(("dim", "kernel"), [(2, 2), (2, 3), (3, 2), (3, 3)])
def test_pools_match_dense(dim, kernel):
    size = 9 if dim == 2 else 7
    x = random_sparse(dim, size, batch=2, channels=3, density=0.3, seed=kernel)
    feats = x.feats.clone().requires_grad_(True)
    x = x.replace(feats)
    pad = (kernel - 1) // 2
    extra = (0, kernel) * dim
    out_grid = [-(-size // 2)] * dim
    crop = (slice(None), slice(None), *(slice(0, g) for g in out_grid))

    y = SparseMaxPool(dim, kernel, 2)(x)
    dense = F.pad(dense_of(x, feats, fill=float("-inf")), extra, value=float("-inf"))
    ref = at_sites(MAXPOOL[dim](dense, kernel, 2, padding=pad)[crop], y)
    assert rel_err(y.feats, ref) <= 1e-6
    upstream = torch.randn_like(y.feats)
    got = torch.autograd.grad((y.feats * upstream).sum(), feats)[0]
    want = torch.autograd.grad((ref * upstream).sum(), feats)[0]
    assert rel_err(got, want) <= 1e-6

    z = SparseAvgPool(dim, kernel, 2)(x)
    assert torch.equal(z.coords, y.coords)
    volume = kernel**dim
    sums = AVGPOOL[dim](F.pad(dense_of(x, feats), extra), kernel, 2, padding=pad,
                        count_include_pad=True) * volume
    counts = AVGPOOL[dim](F.pad(dense_of(x, torch.ones(x.num_sites, 1)), extra), kernel, 2,
                          padding=pad, count_include_pad=True) * volume
    ref = at_sites((sums / counts.clamp(min=1))[crop], z)
    assert rel_err(z.feats, ref) <= 1e-5


@pytest.mark.parametrize("dim", [2, 3])
def test_dense_round_trip_and_global_pool(dim):
    x = random_sparse(dim, 6, batch=3, channels=4, density=0.3, seed=2, empty_event=2)
    dense = to_dense(x)
    assert torch.equal(dense, dense_of(x))
    back = from_dense(dense)
    assert back.num_sites == x.num_sites and back.batch_size == 3
    assert torch.equal(to_dense(back), dense)
    for b in range(3):
        rows = x.feats[x.coords[:, 0] == b]
        mean = rows.mean(0) if len(rows) else torch.zeros(4)
        top = rows.amax(0) if len(rows) else torch.zeros(4)
        assert torch.allclose(global_pool(x, "mean")[b], mean, atol=1e-6)
        assert torch.equal(global_pool(x, "max")[b], top)


def test_batch_norm_featurewise_and_cat():
    x = random_sparse(2, 8, batch=2, channels=4, density=0.4, seed=4)
    bn = SparseBatchNorm(4)
    ref = torch.nn.BatchNorm1d(4)
    assert torch.allclose(bn(x).feats, ref(x.feats), atol=1e-6)
    drop = FeatureWise(torch.nn.Tanh())(x)
    both = cat(x, drop)
    assert both.feats.shape == (x.num_sites, 8) and both.manager is x.manager
    assert torch.equal(both.feats[:, 4:], torch.tanh(x.feats))
