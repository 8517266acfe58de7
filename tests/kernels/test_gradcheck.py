"""torch.autograd.gradcheck (float64) of the custom convolution backward on small cases."""

from __future__ import annotations

import pytest
import torch
from conftest import random_sparse

from kernels.sparse_conv_function import sparse_conv


def _maps(dim: int):
    x = random_sparse(dim, 5 if dim == 2 else 4, batch=2, channels=2, density=0.35, seed=dim,
                      dtype=torch.float64)
    sub = x.manager.submanifold_map(x.coord_id, (3,) * dim, (1,) * dim)
    out_id, down = x.manager.downsample(x.coord_id, (3,) * dim, (2,) * dim)
    up = x.manager.upsample_map(out_id, x.coord_id, (3,) * dim, (2,) * dim)
    return x, {"submanifold": sub, "strided": down, "transposed": up}


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("kind", ["submanifold", "strided", "transposed"])
def test_gradcheck(dim, kind):
    x, maps = _maps(dim)
    kmap = maps[kind]
    gen = torch.Generator().manual_seed(7)
    feats = torch.randn(kmap.n_in, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(kmap.volume, 2, 3, generator=gen, dtype=torch.float64,
                         requires_grad=True)
    assert torch.autograd.gradcheck(lambda f, w: sparse_conv(f, w, kmap), (feats, weight),
                                    fast_mode=dim == 3)
