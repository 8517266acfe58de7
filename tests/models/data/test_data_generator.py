"""The synthetic event generator: determinism, labels, occupancy, projection rules."""

from __future__ import annotations

import numpy as np
import pytest

from models.data import (
    ORIGIN_CLASSES,
    PARTICLE_CLASSES,
    SEMANTIC_CLASSES,
    generate_event,
    generate_events,
)
from models.data._aggregate import aggregate
from models.data._projection import plane_keys, unravel
from models.data.event import COSMIC, MICHEL, PROTON, TRACK


@pytest.fixture(scope="module")
def segmentation_2d():
    return generate_events("2d", np.random.default_rng(11), 64)


@pytest.fixture(scope="module")
def segmentation_3d():
    return generate_events("3d", np.random.default_rng(12), 64)


def _same(a, b) -> bool:
    return (np.array_equal(a.coords, b.coords) and np.array_equal(a.values, b.values)
            and np.array_equal(a.semantic, b.semantic) and np.array_equal(a.origin, b.origin)
            and a.particle == b.particle)


@pytest.mark.parametrize("kind", ["2d", "3d"])
@pytest.mark.parametrize("task", ["segmentation", "classification"])
def test_same_seed_same_events(kind, task):
    a = generate_events(kind, np.random.default_rng(5), 4, size=128, task=task)
    b = generate_events(kind, np.random.default_rng(5), 4, size=128, task=task)
    c = generate_events(kind, np.random.default_rng(6), 4, size=128, task=task)
    assert all(_same(x, y) for x, y in zip(a, b, strict=True))
    assert not all(_same(x, y) for x, y in zip(a, c, strict=True))
    single = generate_event(kind, np.random.default_rng(5), size=128, task=task)
    assert _same(single, generate_event(kind, np.random.default_rng(5), size=128, task=task))


@pytest.mark.parametrize("kind,dim_max", [("2d", (2, 127, 127)), ("3d", (127, 127, 127))])
def test_event_arrays(kind, dim_max):
    for event in generate_events(kind, np.random.default_rng(1), 8, size=128):
        n = len(event)
        assert n > 0
        assert event.coords.dtype == np.int32 and event.coords.shape == (n, 3)
        assert event.values.dtype == np.float32 and event.values.shape == (n,)
        assert event.semantic.dtype == np.int64 and event.origin.dtype == np.int64
        assert event.coords.min() >= 0
        assert (event.coords.max(axis=0) <= np.array(dim_max)).all()
        assert (event.values > 0).all()
        assert event.semantic.min() >= 0 and event.semantic.max() < len(SEMANTIC_CLASSES)
        assert event.origin.min() >= 0 and event.origin.max() < len(ORIGIN_CLASSES)
        assert event.particle == -1
        # one row per voxel/pixel, sorted with the first axis slowest
        keys = (event.coords[:, 0].astype(np.int64) * 128 + event.coords[:, 1]) * 128 \
            + event.coords[:, 2]
        assert (np.diff(keys) > 0).all()


def test_every_label_class_appears(segmentation_2d, segmentation_3d):
    for events in (segmentation_2d, segmentation_3d):
        semantic = np.concatenate([e.semantic for e in events])
        origin = np.concatenate([e.origin for e in events])
        assert set(np.unique(semantic)) == set(range(len(SEMANTIC_CLASSES)))
        assert set(np.unique(origin)) == set(range(len(ORIGIN_CLASSES)))
    # every segmentation event has cosmic and neutrino activity
    assert all((e.origin == COSMIC).any() for e in segmentation_3d)
    assert {e.meta["channel"] for e in segmentation_3d} == {"numu_cc", "nue_cc", "nc"}


def test_occupancy_2d_at_default_size(segmentation_2d):
    pixels = 512 * 512
    per_plane = np.array([np.bincount(e.coords[:, 0], minlength=3) for e in segmentation_2d])
    assert per_plane.max() < 0.01 * pixels
    assert 0.002 * pixels <= per_plane.mean() <= 0.01 * pixels
    assert set(np.unique(np.concatenate([e.coords[:, 0] for e in segmentation_2d]))) == {0, 1, 2}


def test_occupancy_3d_at_default_size(segmentation_3d):
    voxels = np.array([len(e) for e in segmentation_3d])
    assert voxels.max() < 0.00005 * 512**3
    assert voxels.min() > 50


def test_classification_labels():
    events = generate_events("3d", np.random.default_rng(3), 40, size=128, task="classification")
    particles = {e.particle for e in events}
    assert particles == set(range(len(PARTICLE_CLASSES)))
    assert all(len(e) > 0 for e in events)
    cosmic = np.concatenate([e.origin for e in events]) == COSMIC
    assert not cosmic.any()


def test_physics_shapes(segmentation_3d):
    # minimum-ionising cosmic tracks lose ~2.2 MeV/cm: ~0.66 MeV per 3 mm voxel
    values = np.concatenate([e.values for e in segmentation_3d])
    labels = np.concatenate([e.semantic * 4 + e.origin for e in segmentation_3d])
    cosmic_track = values[labels == TRACK * 4 + COSMIC]
    assert 0.5 < np.median(cosmic_track) < 1.0
    # Michel electrons appear, and only at the end of muons (not in every event)
    with_michel = sum((e.semantic == MICHEL).any() for e in segmentation_3d)
    assert 0 < with_michel < len(segmentation_3d)


def test_proton_bragg_peak():
    events = generate_events("3d", np.random.default_rng(8), 60, task="classification")
    protons = [e for e in events if e.particle == PROTON]
    assert protons
    for e in protons:
        track = e.semantic == TRACK
        if track.sum() < 20:
            continue
        # the densest deposits sit at one end: far above the track's median
        assert e.values[track].max() > 3 * np.median(e.values[track])


def test_aggregate_sums_charge_and_labels_by_largest_deposit():
    keys = np.array([5, 3, 5, 5, 3, 9])
    charge = np.array([1.0, 2.0, 4.0, 1.5, 0.5, 0.1])
    label = np.array([0, 1, 2, 3, 4, 1])
    k, q, lab = aggregate(keys, charge, label)
    assert k.tolist() == [3, 5, 9]
    assert np.allclose(q, [2.5, 6.5, 0.1])
    assert lab.tolist() == [1, 2, 1]


def test_projection_keeps_charge_on_every_plane():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 64, (500, 3))
    keys = plane_keys(points, 64)
    charge = np.tile(rng.uniform(0.1, 2.0, 500), 3)
    k, q, _ = aggregate(keys, charge, np.zeros(1500, np.int64))
    coords = unravel(k, 64, 3)
    assert coords.min() >= 0 and coords.max() < 64
    for plane in range(3):
        assert np.isclose(q[coords[:, 0] == plane].sum(), charge[:500].sum())
    # drift rows are shared by all planes
    assert (np.sort(np.unique(coords[coords[:, 0] == 0, 1]))
            == np.sort(np.unique(coords[coords[:, 0] == 1, 1]))).all()


@pytest.mark.parametrize("args", [("4d", "segmentation"), ("2d", "detection")])
def test_bad_arguments(args):
    with pytest.raises(ValueError, match="must be one of"):
        generate_event(args[0], np.random.default_rng(0), task=args[1])
