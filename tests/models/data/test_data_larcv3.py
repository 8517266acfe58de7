"""The larcv3 reader, on small files written here in larcv3's HDF5 layout."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from models.data import UNLABELLED, DataFileError, Larcv3Dataset, SparseLoader, open_dataset

EXTENTS = np.dtype([("first", "<u8"), ("N", "<u4")])
ID_EXTENTS = np.dtype([("first", "<u8"), ("ID", "<u4"), ("N", "<u4")])
VOXEL = np.dtype([("id", "<u8"), ("value", "<f4")])


def meta_dtype(dim: int) -> np.dtype:
    return np.dtype([("valid", "u1"), ("projection_id", "<u8"), ("image_sizes", "<f8", (dim,)),
                     ("number_of_voxels", "<u8", (dim,)), ("origin", "<f8", (dim,))])


def write_product(group: h5py.Group, events: list[list[tuple[int, np.ndarray, np.ndarray]]],
                  shape: tuple[int, ...]) -> None:
    """events[e] = [(projection, flat ids, values), ...] in larcv3's four datasets."""
    extents, voxel_extents, metas, voxels = [], [], [], []
    for projections in events:
        extents.append((len(voxel_extents), len(projections)))
        for projection, ids, values in projections:
            order = np.argsort(ids)
            voxel_extents.append((len(voxels), projection, len(ids)))
            voxels.extend(zip(ids[order], values[order], strict=True))
            metas.append((1, projection, [float(s) for s in shape], shape, [0.0] * len(shape)))
    group.create_dataset("extents", data=np.array(extents, EXTENTS), maxshape=(None,))
    group.create_dataset("voxel_extents", data=np.array(voxel_extents, ID_EXTENTS),
                         maxshape=(None,))
    group.create_dataset("image_meta", data=np.array(metas, meta_dtype(len(shape))),
                         maxshape=(None,))
    group.create_dataset("voxels", data=np.array(voxels, VOXEL), maxshape=(None,),
                         chunks=True, compression="gzip")


@pytest.fixture
def cosmic_tagger_file(tmp_path):
    """Two events of three 16x24 planes, charge plus a cosmic/neutrino tag."""
    rng = np.random.default_rng(0)
    shape = (16, 24)
    charge, labels, truth = [], [], []
    for _event in range(2):
        planes, tags, want = [], [], []
        for plane in range(3):
            ids = rng.choice(16 * 24, size=10 + plane, replace=False).astype(np.uint64)
            values = rng.uniform(1, 5, ids.size).astype(np.float32)
            tag = rng.integers(1, 3, ids.size).astype(np.float32)
            tagged = np.arange(ids.size) % 4 != 0  # untagged voxels are background
            planes.append((plane, ids, values))
            tags.append((plane, ids[tagged], tag[tagged]))
            want.append((plane, ids, values, np.where(tagged, tag, 0)))
        charge.append(planes)
        labels.append(tags)
        truth.append(want)
    path = tmp_path / "cosmic_tagger.h5"
    with h5py.File(path, "w") as f:
        write_product(f.create_group("Data/sparse2d_sbndwire_group"), charge, shape)
        write_product(f.create_group("Data/sparse2d_sbnd_cosmicseg_group"), labels, shape)
        f.create_dataset("Events/event_id", data=np.array([(1, 0, 0), (1, 0, 1)], np.uint32))
    return path, truth


def test_cosmic_tagger_layout(cosmic_tagger_file):
    path, truth = cosmic_tagger_file
    ds = open_dataset(path)
    assert isinstance(ds, Larcv3Dataset)
    assert ds.kind == "2d" and ds.spatial_shape == (16, 24) and len(ds) == 2
    assert ds.producer == "sparse2d_sbndwire" and ds.label_producer == "sparse2d_sbnd_cosmicseg"
    for index, planes in enumerate(truth):
        event = ds[index]
        for plane, ids, values, tags in planes:
            rows = event.coords[:, 0] == plane
            order = np.argsort(ids)
            rc = np.stack(np.unravel_index(ids[order].astype(np.int64), (16, 24)), 1)
            assert np.array_equal(event.coords[rows, 1:], rc)
            assert np.allclose(event.values[rows], values[order])
            assert np.array_equal(event.origin[rows], tags[order])
            assert (event.semantic[rows] == UNLABELLED).all()


def test_larcv3_through_the_loader(cosmic_tagger_file):
    path, truth = cosmic_tagger_file
    loader = SparseLoader(open_dataset(path), batch_size=2, shuffle=False, prefetch=0)
    (batch,) = list(loader)
    assert batch.batch_size == 6 and batch.spatial_shape == (16, 24)
    assert batch.coords.shape[0] == sum(len(ids) for planes in truth for _, ids, _, _ in planes)
    assert sorted(set(batch.coords[:, 0].tolist())) == list(range(6))


def test_pilarnet_3d_layout(tmp_path):
    rng = np.random.default_rng(1)
    shape = (8, 8, 8)
    ids = rng.choice(512, size=30, replace=False).astype(np.uint64)
    values = rng.uniform(0.1, 3, 30).astype(np.float32)
    types = rng.integers(0, 6, 30).astype(np.float32)  # 5 = not one of the five classes
    path = tmp_path / "pilarnet.h5"
    with h5py.File(path, "w") as f:
        write_product(f.create_group("Data/sparse3d_data_group"), [[(0, ids, values)]], shape)
        write_product(f.create_group("Data/sparse3d_fivetypes_group"), [[(0, ids, types)]],
                      shape)
    ds = open_dataset(path)
    assert ds.kind == "3d" and ds.spatial_shape == shape and ds.label_producer
    event = ds[0]
    order = np.argsort(ids)
    assert np.array_equal(event.coords,
                          np.stack(np.unravel_index(ids[order].astype(np.int64), shape), 1))
    want = np.where(types[order] < 5, types[order], UNLABELLED)
    assert np.array_equal(event.semantic, want)
    assert (event.origin == UNLABELLED).all()
    explicit = Larcv3Dataset(path, producer="data", label_producer="fivetypes")
    assert np.array_equal(explicit[0].semantic, want)


def test_larcv3_errors(tmp_path, cosmic_tagger_file):
    path, _ = cosmic_tagger_file
    with pytest.raises(DataFileError, match="no product 'missing'"):
        Larcv3Dataset(path, producer="missing")
    broken = tmp_path / "broken.h5"
    with h5py.File(broken, "w") as f:
        f.create_group("Data/sparse2d_wire_group").create_dataset("extents", data=[1])
    with pytest.raises(DataFileError, match="lacks") as info:
        open_dataset(broken)
    assert "\n" not in str(info.value)
