"""The loader: shuffling by seed and epoch, sharding by rank, batches, prefetching."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from models.data import SparseLoader, open_dataset, write_dataset


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("loader")
    return {
        "2d": write_dataset(root / "d2.h5", "2d", 23, seed=2, size=32, progress=False),
        "3d": write_dataset(root / "d3.h5", "3d", 23, seed=3, size=32,
                            task="classification", progress=False),
    }


def order(loader: SparseLoader) -> list[int]:
    return [i for batch in loader for i in batch.indices.tolist()]


def test_shuffle_is_deterministic_per_epoch(files):
    ds = open_dataset(files["3d"])
    a = SparseLoader(ds, 4, seed=7, prefetch=0)
    b = SparseLoader(ds, 4, seed=7, prefetch=2)
    assert order(a) == order(b)
    assert sorted(order(a)) == list(range(23))
    first = order(a)
    a.set_epoch(1)
    assert order(a) != first
    a.set_epoch(0)
    assert order(a) == first
    assert order(SparseLoader(ds, 4, seed=8)) != first
    assert order(SparseLoader(ds, 4, shuffle=False)) == list(range(23))


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("world_size", [1, 2, 3, 5])
def test_shards_are_even_and_cover_the_data(files, world_size, drop_last):
    ds = open_dataset(files["3d"])
    loaders = [SparseLoader(ds, 3, seed=1, rank=r, world_size=world_size, drop_last=drop_last)
               for r in range(world_size)]
    shards = [loader.shard() for loader in loaders]
    lengths = {len(loader) for loader in loaders}
    assert len(lengths) == 1, "every rank must run the same number of batches"
    assert {len(list(loader)) for loader in loaders} == lengths
    seen = np.concatenate(shards)
    if drop_last:
        assert len(set(seen.tolist())) == len(seen)  # disjoint
        assert len(seen) == 23 // world_size * world_size
    else:
        assert set(seen.tolist()) == set(range(23))  # padded by wrapping around
        assert len(seen) == -(-23 // world_size) * world_size


def test_3d_batch(files):
    ds = open_dataset(files["3d"])
    batch = next(iter(SparseLoader(ds, 5, shuffle=False)))
    events = [ds[i] for i in range(5)]
    assert batch.num_events == 5 and batch.batch_size == 5
    assert batch.coords.dtype == torch.int32 and batch.coords.shape[1] == 4
    assert batch.feats.shape == (batch.coords.shape[0], 1)
    assert batch.semantic.shape == batch.origin.shape == (batch.coords.shape[0],)
    assert batch.particle.tolist() == [e.particle for e in events]
    counts = torch.bincount(batch.coords[:, 0].long(), minlength=5).tolist()
    assert counts == [len(e) for e in events]
    assert torch.equal(batch.coords[: len(events[0]), 1:], torch.from_numpy(events[0].coords))


def test_2d_batch_has_one_entry_per_plane(files):
    ds = open_dataset(files["2d"])
    batch = next(iter(SparseLoader(ds, 4, shuffle=False)))
    assert batch.batch_size == 12 and batch.num_events == 4
    assert batch.coords.shape[1] == 3 and batch.spatial_shape == (32, 32)
    entries = batch.coords[:, 0]
    event1 = ds[1]
    for plane in range(3):
        rows = entries == 3 + plane
        assert rows.sum().item() == int((event1.coords[:, 0] == plane).sum())


def test_sparse_tensor(files):
    kernels = pytest.importorskip("kernels")
    batch = next(iter(SparseLoader(open_dataset(files["3d"]), 4)))
    tensor = batch.tensor
    assert isinstance(tensor, kernels.SparseTensor)
    assert tensor.batch_size == 4 and tuple(tensor.spatial_shape) == (32, 32, 32)
    assert tensor.feats.shape[0] == batch.coords.shape[0]


def test_prefetch_thread_leaves_torch_ops_to_the_training_thread(files):
    # torch ops run from the loader thread start a second OpenMP team beside the training
    # thread's, which made 2-thread training steps 3x slower: the thread only collates.
    batches = list(SparseLoader(open_dataset(files["3d"]), 2, prefetch=2))
    assert batches and all(batch._tensor is None for batch in batches)
    assert batches[0].tensor is batches[0].tensor  # built once, on first use


def test_abandoned_iteration_stops_the_prefetch_thread(files):
    loader = SparseLoader(open_dataset(files["3d"]), 1, prefetch=1)
    before = threading.active_count()
    iterator = iter(loader)
    next(iterator)
    iterator.close()
    assert threading.active_count() == before


def test_bad_arguments(files):
    ds = open_dataset(files["3d"])
    with pytest.raises(ValueError, match="rank"):
        SparseLoader(ds, 2, rank=2, world_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        SparseLoader(ds, 0)


class Unreadable:
    """A data set whose events cannot be read, as a damaged file would behave."""

    kind = "3d"
    spatial_shape = (8, 8, 8)

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int):
        raise ValueError(f"event {index} is damaged")


def test_read_errors_reach_the_consumer():
    with pytest.raises(ValueError, match="is damaged"):
        list(SparseLoader(Unreadable(), 2, prefetch=2))


def test_lazy_dataset_through_the_prefetching_loader(files):
    from models.data import SparseDataset

    lazy = SparseDataset(files["2d"], in_memory=False)
    eager = SparseDataset(files["2d"])
    a = list(SparseLoader(lazy, 4, seed=3, prefetch=2))
    b = list(SparseLoader(eager, 4, seed=3, prefetch=0))
    assert len(a) == len(b) == 6
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x.coords, y.coords) and torch.equal(x.feats, y.feats)
        assert torch.equal(x.semantic, y.semantic) and torch.equal(x.origin, y.origin)
