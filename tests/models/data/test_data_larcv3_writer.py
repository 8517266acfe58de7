"""The larcv3 writer, round-tripped through the larcv3 reader; choosing a file's labels."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from models.data import (
    ORIGIN_CLASSES,
    SEMANTIC_CLASSES,
    UNLABELLED,
    DataFileError,
    ImageMeta,
    Larcv3Dataset,
    choose_labels,
    generate_events,
    open_dataset,
    write_dataset,
    write_larcv3,
)

METAS = [ImageMeta((32, 32)), ImageMeta((40, 36), origin=(-5.0, 2.5), sizes=(120.0, 108.0)),
         ImageMeta((48, 32), origin=(10.0, 0.0))]


@pytest.fixture(scope="module")
def events():
    return generate_events("2d", np.random.default_rng(7), 3, size=32)


def test_round_trip_2d_origin_with_varied_meta(tmp_path, events):
    path = write_larcv3(tmp_path / "tag.h5", events, METAS)
    ds = open_dataset(path)
    assert isinstance(ds, Larcv3Dataset) and len(ds) == 3 and ds.kind == "2d"
    assert ds.producer == "sparse2d_sbndwire" and ds.label_producer == "sparse2d_sbnd_cosmicseg"
    assert ds.spatial_shape == (48, 36)  # the largest image of any event
    assert ds.label_classes == {"origin": ORIGIN_CLASSES}
    for written, read in zip(events, (ds[i] for i in range(3)), strict=True):
        assert len(written) > 0
        assert np.array_equal(read.coords, written.coords)
        assert np.array_equal(read.values, written.values)
        assert np.array_equal(read.origin, written.origin)
        assert (read.semantic == UNLABELLED).all()
    ds.close()
    with h5py.File(path, "r", locking=False) as f:
        group = f["Data/sparse2d_sbndwire_group"]
        # larcv3's struct layout: ID after N, padded to 16 bytes; the reader goes by name
        assert group["voxel_extents"].dtype.names == ("first", "N", "ID")
        assert group["voxel_extents"].dtype.itemsize == 16
        meta = group["image_meta"][()]
        assert meta["number_of_voxels"].tolist() == [list(m.shape) for m in METAS for _ in "abc"]
        assert meta["origin"][3].tolist() == [-5.0, 2.5]
        assert f["Events/event_id"]["event"].tolist() == [0, 1, 2]


def test_round_trip_semantic_and_3d(tmp_path):
    events = generate_events("3d", np.random.default_rng(2), 2, size=24)
    path = write_larcv3(tmp_path / "five.h5", events, ImageMeta((24, 24, 24)),
                        labels="semantic", producer="data", label_producer="fivetypes")
    ds = open_dataset(path)
    assert ds.kind == "3d" and ds.spatial_shape == (24, 24, 24)
    assert ds.label_classes == {"semantic": SEMANTIC_CLASSES}
    for written, read in zip(events, (ds[0], ds[1]), strict=True):
        assert np.array_equal(read.coords, written.coords)
        assert np.array_equal(read.values, written.values)
        assert np.array_equal(read.semantic, written.semantic)
        assert (read.origin == UNLABELLED).all()


def test_class_names_come_from_the_file(tmp_path, events):
    path = write_larcv3(tmp_path / "tag.h5", events, ImageMeta((32, 32)),
                        label_producer="mytags")  # a name that does not say "cosmic"
    with h5py.File(path, "r+", locking=False) as f:
        f["Data/sparse2d_mytags_group"].attrs["classes"] = '["empty", "muon", "nu"]'
    ds = open_dataset(path)  # found as the label product by its attribute, not its name
    assert ds.producer == "sparse2d_sbndwire" and ds.label_producer == "sparse2d_mytags"
    assert choose_labels(ds) == ("origin", ("empty", "muon", "nu"))
    assert np.array_equal(ds[0].origin, events[0].origin)
    with pytest.raises(DataFileError, match="carries no semantic labels") as info:
        choose_labels(ds, "semantic")
    assert "\n" not in str(info.value) and "origin" in str(info.value)


def test_labels_beyond_the_classes_are_unlabelled(tmp_path, events):
    path = write_larcv3(tmp_path / "tag.h5", events[:1], ImageMeta((32, 32)))
    with h5py.File(path, "r+", locking=False) as f:
        f["Data/sparse2d_sbnd_cosmicseg_group"].attrs["classes"] = '["background", "cosmic"]'
    read = open_dataset(path)[0]
    want = np.where(events[0].origin < 2, events[0].origin, UNLABELLED)
    assert np.array_equal(read.origin, want) and (want == UNLABELLED).any()


def test_choose_labels_of_a_generated_file(tmp_path):
    path = write_dataset(tmp_path / "gen.h5", "2d", n_events=2, seed=0, size=32, progress=False)
    ds = open_dataset(path)
    assert choose_labels(ds) == ("semantic", SEMANTIC_CLASSES)
    assert choose_labels(ds, "origin") == ("origin", ORIGIN_CLASSES)
    with pytest.raises(ValueError, match="labels must be one of semantic, origin"):
        choose_labels(ds, "pid")
    charge_only = write_larcv3(tmp_path / "bare.h5", [ds[0]], ImageMeta((32, 32)), labels=None)
    with pytest.raises(DataFileError, match="no per-pixel labels"):
        choose_labels(open_dataset(charge_only))


def test_bad_input_writes_nothing(tmp_path, events):
    out = tmp_path / "small.h5"
    with pytest.raises(ValueError, match="outside the image meta"):
        write_larcv3(out, events, ImageMeta((16, 16)))
    with pytest.raises(ValueError, match="2 image metas for 3 events"):
        write_larcv3(out, events, METAS[:2])
    with pytest.raises(ValueError, match="labels must be one of"):
        write_larcv3(out, events, METAS, labels="pid")
    assert list(tmp_path.iterdir()) == []


def test_round_trip_at_wire_detector_size(tmp_path):
    events = generate_events("2d", np.random.default_rng(1), 2, detector="sbnd-wire")
    path = write_larcv3(tmp_path / "wire.h5", events, ImageMeta((1280, 2048)))
    ds = open_dataset(path)
    assert ds.spatial_shape == (1280, 2048) and ds.num_planes == 3
    for written, read in zip(events, (ds[0], ds[1]), strict=True):
        assert len(read) > 50_000
        assert np.array_equal(read.coords, written.coords)
        assert np.array_equal(read.values, written.values)
        assert np.array_equal(read.origin, written.origin)  # background: absent, read as 0
    with h5py.File(path, "r", locking=False) as f:
        tagged = f["Data/sparse2d_sbnd_cosmicseg_group/voxels"].shape[0]
    assert tagged == sum(int((e.origin > 0).sum()) for e in events)
