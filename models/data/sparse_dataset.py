"""The project's HDF5 layout for sparse events, and its reader.

One file holds one data set, written once per campaign (``write_dataset``) and read by
every trial. All events are concatenated; ``offsets`` says where each starts::

    /                   attrs: format = "hpsearch-sparse", version = 1,
                               kind ("2d" | "3d"), task ("segmentation" | "classification"),
                               size (voxels per side), spatial_shape, n_events, seed,
                               detector ("cube" | "sbnd-wire"), units ("MeV" | "ADC"),
                               semantic_classes, origin_classes, particle_classes (JSON lists)
    /offsets   int64  [n_events + 1]   event i is rows offsets[i]:offsets[i+1]
    /coords    int16 or int32 [N, 3]   3D: (z, y, x); 2D: (plane, row, col), plane 0..2
    /values    float32 [N]             deposited energy (MeV) summed over the voxel/pixel, or
                                   ADC-like charge for a wire-detector preset
    /semantic  uint8  [N]              index into semantic_classes
    /origin    uint8  [N]              index into origin_classes
    /particle  int8   [n_events]       index into particle_classes, -1 if not single-particle

Per-voxel datasets are chunked (CHUNK_ROWS rows) and gzip-compressed with the shuffle
filter; within an event, rows are sorted by coordinate (first axis slowest). 2D pixels
hold the summed charge of every deposit projected onto them and the labels of the
largest one.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import h5py
import numpy as np

from ._hdf5_file import GENERATE_HINT, open_hdf5
from .errors import DataFileError
from .event import NUM_PLANES, Event

FORMAT = "hpsearch-sparse"
VERSION = 1
CHUNK_ROWS = 1 << 14  # ~2-5 events: small enough for lazy random access
PER_VOXEL = ("coords", "values", "semantic", "origin")


IN_MEMORY_LIMIT = 2 << 30  # bytes of voxel arrays kept in memory; larger files are read lazily


class SparseDataset:
    """Events of a file in the layout above.

    By default the voxel arrays are loaded into memory once, in their compact on-disk
    types, when they take at most IN_MEMORY_LIMIT bytes (files are written once per
    campaign and read by many trials, so one read per trial process is cheap); larger
    files, or ``in_memory=False``, are read event by event.
    """

    def __init__(self, path: str | os.PathLike[str], in_memory: bool | None = None) -> None:
        self.path = Path(path)
        f = open_hdf5(self.path)
        try:
            self._read_header(f)
            arrays = [f[name] for name in PER_VOXEL]
            size = sum(a.size * a.dtype.itemsize for a in arrays)
            self.in_memory = size <= IN_MEMORY_LIMIT if in_memory is None else in_memory
            if self.in_memory:
                self._arrays = [a[()] for a in arrays]
                f.close()
                self._file = None
            else:
                self._arrays = arrays
                self._file = f
        except (KeyError, OSError, ValueError, TypeError) as exc:
            f.close()
            if isinstance(exc, DataFileError):
                raise
            raise DataFileError(
                f"data file {self.path} is incomplete or corrupt ({_short(exc)}): "
                f"regenerate it or {GENERATE_HINT}") from None
        self._lock = threading.Lock()  # one h5py handle shared by loader threads
        self.num_planes = NUM_PLANES if self.kind == "2d" else 1

    def _read_header(self, f: h5py.File) -> None:
        if f.attrs.get("format") != FORMAT:
            raise DataFileError(
                f"data file {self.path} is not in the {FORMAT} layout: {GENERATE_HINT}")
        if int(f.attrs.get("version", -1)) > VERSION:
            raise DataFileError(f"data file {self.path} has layout version "
                                f"{f.attrs['version']}, newer than this reader ({VERSION})")
        self.kind = str(f.attrs["kind"])
        self.task = str(f.attrs["task"])
        self.size = int(f.attrs["size"])
        self.spatial_shape = tuple(int(s) for s in f.attrs["spatial_shape"])
        self.seed = int(f.attrs["seed"])
        self.semantic_classes = tuple(json.loads(f.attrs["semantic_classes"]))
        self.particle_classes = tuple(json.loads(f.attrs["particle_classes"]))
        origin = f.attrs.get("origin_classes")
        # per-pixel label sets the file carries, with their class names
        self.label_classes: dict[str, tuple[str, ...]] = {} if self.task != "segmentation" else {
            "semantic": self.semantic_classes,
            **({"origin": tuple(json.loads(origin))} if origin is not None else {})}
        self._offsets = f["offsets"][()].astype(np.int64)
        self.particles = f["particle"][()].astype(np.int64)
        n = len(self.particles)
        rows = f["values"].shape[0]
        if (self._offsets.shape != (n + 1,) or self._offsets[0] != 0
                or self._offsets[-1] != rows or (np.diff(self._offsets) < 0).any()
                or any(f[name].shape[0] != rows for name in PER_VOXEL)):
            raise DataFileError(f"data file {self.path} is inconsistent (offsets do not match "
                                f"the voxel arrays): regenerate it or {GENERATE_HINT}")

    def __len__(self) -> int:
        return len(self.particles)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getitem__(self, index: int) -> Event:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"event {index} out of range for {n} events")
        index %= n
        lo, hi = self._offsets[index], self._offsets[index + 1]
        if self.in_memory:
            coords, values, semantic, origin = (a[lo:hi] for a in self._arrays)
        else:
            with self._lock:
                coords, values, semantic, origin = (a[lo:hi] for a in self._arrays)
        return Event(coords.astype(np.int32), values.astype(np.float32, copy=False),
                     semantic.astype(np.int64), origin.astype(np.int64),
                     int(self.particles[index]), {"kind": self.kind, "task": self.task,
                                                  "index": index})


def _short(exc: BaseException) -> str:
    return str(exc).split("\n")[0][:120] or type(exc).__name__
