"""The project's HDF5 layout for sparse events, and its reader.

One file holds one data set, written once per campaign (``write_dataset``) and read by
every trial. All events are concatenated; ``offsets`` says where each starts::

    /                   attrs: format = "hpsearch-sparse", version = 1,
                               kind ("2d" | "3d"), task ("segmentation" | "classification"),
                               size (voxels per side), spatial_shape, n_events, seed,
                               semantic_classes, origin_classes, particle_classes (JSON lists)
    /offsets   int64  [n_events + 1]   event i is rows offsets[i]:offsets[i+1]
    /coords    int16 or int32 [N, 3]   3D: (z, y, x); 2D: (plane, row, col), plane 0..2
    /values    float32 [N]             deposited energy (MeV) summed over the voxel/pixel
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
from pathlib import Path

import numpy as np

from .errors import DataFileError
from .event import NUM_PLANES, Event
from .hdf5_file import GENERATE_HINT, open_hdf5

FORMAT = "hpsearch-sparse"
VERSION = 1
CHUNK_ROWS = 1 << 16
PER_VOXEL = ("coords", "values", "semantic", "origin")


class SparseDataset:
    """Events of a file in the layout above, loaded into memory once (files are written
    for one campaign and read by many trials, so a load per trial process is cheap)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        with open_hdf5(self.path) as f:
            if f.attrs.get("format") != FORMAT:
                raise DataFileError(
                    f"data file {self.path} is not in the {FORMAT} layout: {GENERATE_HINT}")
            if int(f.attrs.get("version", -1)) > VERSION:
                raise DataFileError(f"data file {self.path} has layout version "
                                    f"{f.attrs['version']}, newer than this reader ({VERSION})")
            try:
                self.kind = str(f.attrs["kind"])
                self.task = str(f.attrs["task"])
                self.size = int(f.attrs["size"])
                self.spatial_shape = tuple(int(s) for s in f.attrs["spatial_shape"])
                self.seed = int(f.attrs["seed"])
                self.semantic_classes = tuple(json.loads(f.attrs["semantic_classes"]))
                self.particle_classes = tuple(json.loads(f.attrs["particle_classes"]))
                self._offsets = f["offsets"][()].astype(np.int64)
                self._coords = f["coords"][()].astype(np.int32)
                self._values = f["values"][()].astype(np.float32)
                self._semantic = f["semantic"][()].astype(np.int64)
                self._origin = f["origin"][()].astype(np.int64)
                self.particles = f["particle"][()].astype(np.int64)
            except (KeyError, OSError, ValueError, TypeError) as exc:
                raise DataFileError(
                    f"data file {self.path} is incomplete or corrupt ({_short(exc)}): "
                    f"regenerate it or {GENERATE_HINT}") from None
        n = len(self.particles)
        if self._offsets.shape != (n + 1,) or self._offsets[-1] != len(self._values):
            raise DataFileError(f"data file {self.path} is inconsistent (offsets do not match "
                                f"the voxel arrays): regenerate it or {GENERATE_HINT}")
        self.num_planes = NUM_PLANES if self.kind == "2d" else 1

    def __len__(self) -> int:
        return len(self.particles)

    def __getitem__(self, index: int) -> Event:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"event {index} out of range for {n} events")
        index %= n
        lo, hi = self._offsets[index], self._offsets[index + 1]
        return Event(self._coords[lo:hi], self._values[lo:hi], self._semantic[lo:hi],
                     self._origin[lo:hi], int(self.particles[index]),
                     {"kind": self.kind, "task": self.task, "index": index})


def _short(exc: BaseException) -> str:
    return str(exc).split("\n")[0][:120] or type(exc).__name__
