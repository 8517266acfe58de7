"""The sbnd-wire detector preset: statistics near a real wire detector's, seeded, on file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from models.data import generate_events, open_dataset, write_dataset
from models.data.__main__ import main
from models.data.event import BACKGROUND
from models.data.stats import file_stats

ROWS, COLS = 1280, 2048


@pytest.fixture(scope="module")
def wire_events():
    return generate_events("2d", np.random.default_rng(11), 12, detector="sbnd-wire")


def test_images_and_charge_look_like_a_wire_detector(wire_events):
    pixels = np.array([len(e) for e in wire_events])
    occupancy = pixels.mean() / (3 * ROWS * COLS)
    assert 0.005 < occupancy < 0.015  # SBND: ~0.9 %
    for event in wire_events:
        assert set(np.unique(event.coords[:, 0])) == {0, 1, 2}
        assert event.coords[:, 1].max() < ROWS and event.coords[:, 2].max() < COLS
        assert (event.coords[:, 1].max() > ROWS // 2) and (event.coords[:, 2].max() > COLS // 2)
    values = np.concatenate([e.values for e in wire_events])
    assert values.min() >= 5.0  # the threshold
    assert 5.2 < np.median(values) < 6.5  # SBND: 5.65 ADC, half the pixels near threshold
    assert np.log1p(values.max()) > 6.5  # ADC-like, not MeV
    near = np.mean(values < 7.0)
    assert 0.35 < near < 0.75


def test_label_shares_and_noise(wire_events):
    origin = np.concatenate([e.origin for e in wire_events])
    shares = np.bincount(origin, minlength=3) / origin.size
    assert 0.35 < shares[BACKGROUND] < 0.65  # the noise pixels
    tagged_neutrino = shares[2] / (shares[1] + shares[2])
    assert 0.04 < tagged_neutrino < 0.16  # SBND: ~9 %
    noise = sum(e.meta["noise_pixels"] for e in wire_events) / origin.size
    assert 0.3 < noise < 0.7
    # noise pixels sit just above threshold, signal reaches far higher
    values = np.concatenate([e.values for e in wire_events])
    assert np.median(values[origin == BACKGROUND]) < 6.0 < np.median(values[origin == 1])


def test_surface_cosmics_and_vertices(wire_events):
    cosmics = np.array([e.meta["cosmics"] for e in wire_events])
    assert 4 <= cosmics.mean() <= 12
    vertex = np.array([e.meta["vertex"] for e in wire_events])
    extent = np.array([COLS, COLS, ROWS])
    assert ((vertex > 0.05 * extent - 1e-9) & (vertex < 0.95 * extent + 1e-9)).all()
    # spread over the active volume, not bunched at its centre as in the cube
    assert (vertex.max(axis=0) - vertex.min(axis=0) > 0.4 * extent).all()


def test_same_seed_same_events():
    a = generate_events("2d", np.random.default_rng(4), 2, detector="sbnd-wire")
    b = generate_events("2d", np.random.default_rng(4), 2, detector="sbnd-wire")
    c = generate_events("2d", np.random.default_rng(5), 2, detector="sbnd-wire")
    for x, y in zip(a, b, strict=True):
        for name in ("coords", "values", "semantic", "origin"):
            assert np.array_equal(getattr(x, name), getattr(y, name))
    assert not np.array_equal(a[0].values[:100], c[0].values[:100])


def test_wire_preset_rejects_other_shapes():
    with pytest.raises(ValueError, match="sbnd-wire makes 2d segmentation events"):
        generate_events("2d", np.random.default_rng(0), 1, detector="sbnd-wire",
                        task="classification")
    with pytest.raises(ValueError, match="sbnd-wire takes a size of 2048, 1024, 512, 256 "):
        generate_events("2d", np.random.default_rng(0), 1, detector="sbnd-wire", size=500)
    with pytest.raises(ValueError, match="detector must be one of cube, sbnd-wire"):
        generate_events("2d", np.random.default_rng(0), 1, detector="dune")


def test_file_and_stats_command(tmp_path, capsys):
    path = write_dataset(tmp_path / "wire.h5", "2d", 3, seed=2, progress=False,
                         detector="sbnd-wire")
    with h5py.File(path, "r", locking=False) as f:
        assert list(f.attrs["spatial_shape"]) == [ROWS, COLS]
        assert f.attrs["detector"] == "sbnd-wire" and f.attrs["units"] == "ADC"
    ds = open_dataset(path)
    assert ds.spatial_shape == (ROWS, COLS)
    stats = file_stats(ds)
    assert stats["events"] == 3 and 0.005 < stats["occupancy"] < 0.015
    assert stats["charge_quantiles"][1] >= 5.0
    assert abs(sum(stats["origin_shares"].values()) - 1.0) < 1e-9
    assert main(["--stats", str(path)]) == 0
    out = capsys.readouterr().out
    for words in ("3 events, 3 plane(s) of 1280 x 2048", "occupancy", "p50",
                  "origin label shares", "background", "neutrino share of tagged"):
        assert words in out
    assert main(["--stats", str(tmp_path / "missing.h5")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and err.count("\n") == 1


def test_background_only_events():
    events = generate_events("2d", np.random.default_rng(8), 16, size=64,
                             neutrino_fraction=0.5)
    has = np.array([(e.origin == 2).any() for e in events])
    assert np.array_equal(has, [e.meta["neutrino"] for e in events])
    assert 0 < has.sum() < 16
    assert all((e.origin == 1).any() for e in events)  # cosmics stay
    wire = generate_events("2d", np.random.default_rng(8), 2, detector="sbnd-wire",
                           neutrino_fraction=0.0)
    assert not any((e.origin == 2).any() for e in wire)
    with pytest.raises(ValueError, match="neutrino_fraction must be in"):
        generate_events("2d", np.random.default_rng(0), 1, neutrino_fraction=1.5)


def test_reduced_plane_size_keeps_the_wire_detector_look(tmp_path):
    """512 wires: a box a quarter as wide at the same pitch; occupancy, noise share and
    charge stay those of the full size, and the file records the reduced shape."""
    events = generate_events("2d", np.random.default_rng(3), 16, detector="sbnd-wire",
                             size=512)
    for event in events:
        assert event.coords[:, 1].max() < ROWS // 4 and event.coords[:, 2].max() < COLS // 4
    pixels = np.array([len(e) for e in events])
    assert 0.005 < pixels.mean() / (3 * 320 * 512) < 0.015
    origin = np.concatenate([e.origin for e in events])
    assert 0.3 < (origin == 0).mean() < 0.65 and (origin == 2).any() and (origin == 1).any()
    assert np.concatenate([e.values for e in events]).min() >= 5.0
    path = write_dataset(tmp_path / "small.h5", "2d", 2, seed=1, progress=False,
                         detector="sbnd-wire", size=512)
    ds = open_dataset(path)
    assert ds.spatial_shape == (320, 512) and len(ds) == 2
