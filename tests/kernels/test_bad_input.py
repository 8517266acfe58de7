"""Wrong inputs give one-line ValueError/TypeError messages that say what is wrong."""

from __future__ import annotations

import pytest
import torch

from kernels import SparseConv, SparseTensor, SubMConv, cat

GOOD = torch.tensor([[0, 1, 2], [0, 3, 3], [1, 0, 0]])


@pytest.mark.parametrize(("coords", "feats", "error", "words"), [
    (GOOD.float(), torch.zeros(3, 2), TypeError, "integer"),
    (GOOD, torch.zeros(3, 2, dtype=torch.int64), TypeError, "floating"),
    (GOOD.numpy(), torch.zeros(3, 2), TypeError, "torch.Tensor"),
    (GOOD, torch.zeros(4, 2), ValueError, "rows"),
    (GOOD, torch.zeros(3), ValueError, "[N, C]"),
    (GOOD[:, :2], torch.zeros(3, 2), ValueError, "[N, 3]"),
    (torch.tensor([[0, 1, 4]]), torch.zeros(1, 2), ValueError, "outside"),
    (torch.tensor([[0, -1, 0]]), torch.zeros(1, 2), ValueError, "outside"),
    (torch.tensor([[-1, 0, 0]]), torch.zeros(1, 2), ValueError, "batch"),
    (torch.tensor([[0, 1, 1], [0, 1, 1]]), torch.zeros(2, 2), ValueError, "duplicate"),
])
def test_construction_errors(coords, feats, error, words):
    with pytest.raises(error) as info:
        SparseTensor(coords, feats, (4, 4))
    message = str(info.value)
    assert words in message and "\n" not in message


def test_more_construction_errors():
    with pytest.raises(ValueError, match="batch_size"):
        SparseTensor(GOOD, torch.zeros(3, 1), (4, 4), batch_size=1)
    with pytest.raises(ValueError, match="2 or 3"):
        SparseTensor(torch.zeros(1, 2, dtype=torch.int64), torch.zeros(1, 1), (4,))
    with pytest.raises(ValueError, match="multiples"):
        SparseTensor(GOOD, torch.zeros(3, 1), (4, 4), stride=2)


def test_coalesced_sums_duplicates():
    coords = torch.tensor([[0, 1, 1], [1, 0, 0], [0, 1, 1]])
    feats = torch.tensor([[1.0], [2.0], [3.0]])
    x = SparseTensor.coalesced(coords, feats, (4, 4))
    assert x.coords.tolist() == [[0, 1, 1], [1, 0, 0]]
    assert x.feats.flatten().tolist() == [4.0, 2.0]


def test_layer_errors():
    x = SparseTensor(GOOD, torch.zeros(3, 2), (4, 4))
    with pytest.raises(ValueError, match="input channels"):
        SubMConv(2, 3, 4)(x)
    with pytest.raises(ValueError, match="3D"):
        SubMConv(3, 2, 4)(x)
    with pytest.raises(ValueError, match="odd"):
        SubMConv(2, 2, 2, kernel_size=2)
    with pytest.raises(ValueError, match="same coordinates"):
        cat(x, SparseConv(2, 2, 2)(x))
    with pytest.raises(ValueError, match="replace"):
        x.replace(torch.zeros(2, 2))
