"""HDF5 files: round trip, atomic writes, the command line, clear errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from models.data import (
    DataFileError,
    DataFileNotFound,
    SparseDataset,
    generate_events,
    open_dataset,
    write_dataset,
)
from models.data.__main__ import main
from models.data.writer import EVENTS_PER_BLOCK

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("kind,in_memory", [("2d", None), ("3d", None), ("3d", False)])
def test_round_trip(tmp_path, kind, in_memory):
    path = write_dataset(tmp_path / "d.h5", kind, 70, seed=4, size=64, progress=False)
    ds = SparseDataset(path, in_memory=in_memory)
    assert ds.in_memory is (in_memory is None)
    assert isinstance(open_dataset(path), SparseDataset)
    assert len(ds) == 70 and ds.kind == kind and ds.task == "segmentation"
    assert ds.spatial_shape == ((64, 64) if kind == "2d" else (64, 64, 64))
    # the file holds exactly what the generator gives for the same seed, block by block
    expected = generate_events(kind, np.random.default_rng([4, 1]), 70 - EVENTS_PER_BLOCK,
                               size=64)
    for i, want in enumerate(expected):
        got = ds[EVENTS_PER_BLOCK + i]
        assert np.array_equal(got.coords, want.coords)
        assert np.array_equal(got.values, want.values)
        assert np.array_equal(got.semantic, want.semantic)
        assert np.array_equal(got.origin, want.origin)
        assert got.particle == -1
    assert ds[-1].coords.shape == ds[69].coords.shape
    with pytest.raises(IndexError):
        ds[70]


def test_classification_file_and_layout(tmp_path):
    path = write_dataset(tmp_path / "c.h5", "3d", 20, seed=1, task="classification", size=32,
                         progress=False)
    ds = SparseDataset(path)
    assert ds.task == "classification"
    assert set(ds.particles.tolist()) <= set(range(5)) and len(set(ds.particles.tolist())) > 2
    with h5py.File(path) as f:
        assert f.attrs["format"] == "hpsearch-sparse"
        assert f["coords"].chunks is not None and f["coords"].compression == "gzip"
        assert f["offsets"].shape == (21,)


def test_same_seed_same_file(tmp_path):
    a = SparseDataset(write_dataset(tmp_path / "a.h5", "2d", 10, seed=9, size=32, progress=False))
    b = SparseDataset(write_dataset(tmp_path / "b.h5", "2d", 10, seed=9, size=32, progress=False))
    for i in range(10):
        assert np.array_equal(a[i].coords, b[i].coords)
        assert np.array_equal(a[i].values, b[i].values)


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "x.h5"
    with pytest.raises(ValueError):
        write_dataset(target, "2d", 5, seed=0, task="nonsense", progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_dataset(tmp_path / "missing" / "x.h5", "2d", 5, seed=0, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_writer_leaves_nothing(tmp_path, sig):
    target = tmp_path / "big.h5"
    proc = subprocess.Popen(
        [sys.executable, "-m", "models.data", "--kind", "3d", "--events", "100000",
         "--size", "64", "--out", str(target)],
        cwd=REPO, stderr=subprocess.PIPE)
    # wait for the first progress line: the writer is then inside the file
    assert proc.stderr is not None
    assert proc.stderr.read(len(b"\rwriting")) == b"\rwriting"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert not target.exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and leftovers == []
    else:  # nothing can clean up after SIGKILL: at most the hidden partial file remains
        assert all(n.startswith(".big.h5.") and n.endswith(".partial") for n in leftovers)


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli.h5"
    code = main(["--kind", "2d", "--task", "classification", "--events", "6", "--seed", "3",
                 "--size", "32", "--out", str(out), "--quiet"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out)
    ds = open_dataset(out)
    assert len(ds) == 6 and ds.task == "classification"


@pytest.mark.parametrize("args,message", [
    (["--events", "0"], "--events must be at least 1"),
    (["--out", "/nonexistent-dir/x.h5"], "does not exist"),
])
def test_command_line_errors(tmp_path, capsys, args, message):
    base = ["--events", "3", "--size", "32", "--out", str(tmp_path / "e.h5")]
    assert main([*base, *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_missing_file(tmp_path):
    with pytest.raises(DataFileNotFound) as info:
        open_dataset(tmp_path / "nope.h5")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    assert "nope.h5 does not exist" in str(info.value) and "\n" not in str(info.value)


def test_corrupt_files(tmp_path):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(os.urandom(4096))
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    good = write_dataset(tmp_path / "good.h5", "3d", 30, seed=0, size=32, progress=False)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    incomplete = tmp_path / "incomplete.h5"
    incomplete.write_bytes(good.read_bytes())
    with h5py.File(incomplete, "a") as f:
        del f["values"]
    for path in (garbage, other, truncated, incomplete, tmp_path):
        with pytest.raises(DataFileError) as info:
            open_dataset(path)
        message = str(info.value)
        assert str(path) in message and "\n" not in message, message
