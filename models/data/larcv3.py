"""Reader for larcv3 HDF5 files (DeepLearnPhysics / CosmicTagger / PILArNet data).

larcv3 keeps each product in ``Data/<product>_<producer>_group`` (product ``sparse2d`` or
``sparse3d``) with four datasets:

- ``extents`` (first, N): rows of ``voxel_extents`` and ``image_meta`` of each event, one
  row per projection (the three wire planes of a 2D event, one for 3D);
- ``voxel_extents`` (first, ID, N): the slice of ``voxels`` of one projection;
- ``voxels`` (id, value): sorted flat voxel ids and their values;
- ``image_meta`` (valid, projection_id, image_sizes, number_of_voxels, origin).

A voxel id is the C-order ravel over ``number_of_voxels``. The charge comes from one
producer, labels from another whose values are class indices: a producer named like a
cosmic tag (CosmicTagger: 0 background, 1 cosmic, 2 neutrino) fills ``origin``, any
other label producer (PILArNet five types) fills ``semantic``; a label group's own
``labels`` and ``classes`` attributes (JSON list of names), when present, say which and name
the classes. Voxels the label product lacks get origin 0 (background) or semantic -1
(unlabelled); values outside the classes are unlabelled. Images may differ from event to
event: each projection is unravelled with its own ``image_meta``, and ``spatial_shape`` is
the largest of them.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import h5py
import numpy as np

from ._hdf5_file import open_hdf5
from .errors import DataFileError
from .event import ORIGIN_CLASSES, SEMANTIC_CLASSES, UNLABELLED, Event

MAX_PLANES = 8
_LABEL_WORDS = ("seg", "label", "semantic", "fivetypes", "type", "pid", "cosmic")
_FIELDS = ("extents", "voxel_extents", "voxels", "image_meta")


def is_larcv3(f: h5py.File) -> bool:
    data = f.get("Data")
    return isinstance(data, h5py.Group) and any(
        name.startswith(("sparse2d_", "sparse3d_")) for name in data)


class Larcv3Dataset:
    def __init__(
        self,
        path: str | os.PathLike[str],
        producer: str | None = None,
        label_producer: str | None = None,
    ) -> None:
        self.path = Path(path)
        self._file = open_hdf5(self.path)
        self._lock = threading.Lock()  # one h5py handle shared by loader threads
        try:
            self._open(producer, label_producer)
        except DataFileError:
            self._file.close()
            raise
        except (KeyError, OSError, ValueError, TypeError, IndexError) as exc:
            self._file.close()
            raise DataFileError(f"larcv3 file {self.path} is incomplete or corrupt "
                                f"({str(exc).splitlines()[0][:120]})") from None

    def _open(self, producer: str | None, label_producer: str | None) -> None:
        if not is_larcv3(self._file):
            raise DataFileError(f"{self.path} has no Data/sparse2d_* or Data/sparse3d_* "
                                "group: it is not a larcv3 sparse file")
        groups = {name[: -len("_group")] if name.endswith("_group") else name: name
                  for name in self._file["Data"]
                  if name.startswith(("sparse2d_", "sparse3d_"))}
        if producer is None:
            charge = [n for n in sorted(groups) if not self._is_label(groups[n])]
            if not charge:
                raise DataFileError(f"larcv3 file {self.path} has no charge product among "
                                    f"{sorted(groups)}: name one with producer=")
            producer = charge[0]
        key = _match(producer, groups, self.path)
        dim = 2 if key.startswith("sparse2d_") else 3
        self.kind = f"{dim}d"
        self.task = "segmentation"
        self.producer = key
        self._charge = self._load_index(groups[key])
        n = len(self._charge[0])
        if label_producer is None:
            labels = [g for g in sorted(groups)
                      if g.startswith(key[:9]) and g != key and self._is_label(groups[g])]
            label_producer = labels[0] if labels else None
        self.label_producer: str | None = None
        self._labels = None
        self.labels_origin = False
        self.label_classes: dict[str, tuple[str, ...]] = {}
        if label_producer is not None:
            label_key = _match(label_producer, groups, self.path)
            self._labels = self._load_index(groups[label_key])
            if len(self._labels[0]) != n:
                raise DataFileError(f"larcv3 file {self.path}: {label_key} has "
                                    f"{len(self._labels[0])} events but {key} has {n}")
            self.label_producer = label_key
            attrs = self._file["Data"][groups[label_key]].attrs
            which = _text(attrs.get("labels")) or ("origin" if "cosmic" in label_key
                                                   else "semantic")
            if which not in ("origin", "semantic"):
                raise DataFileError(f"larcv3 file {self.path}: {label_key} says its labels "
                                    f"are {which!r}; expected origin or semantic")
            self.labels_origin = which == "origin"
            classes = _text(attrs.get("classes"))
            self.label_classes[which] = (tuple(json.loads(classes)) if classes else
                                         ORIGIN_CLASSES if self.labels_origin
                                         else SEMANTIC_CLASSES)
        meta = self._charge[2]
        if len(meta) == 0:
            raise DataFileError(f"larcv3 file {self.path} holds no events in {key}")
        self.spatial_shape = tuple(int(v) for v in meta["number_of_voxels"].max(axis=0))
        if len(self.spatial_shape) != dim:
            raise DataFileError(f"larcv3 file {self.path}: image_meta of {key} has "
                                f"{len(self.spatial_shape)} axes, expected {dim}")
        self.num_planes = int(self._charge[0][0]["N"]) if dim == 2 else 1
        if not 1 <= self.num_planes <= MAX_PLANES:
            raise DataFileError(f"larcv3 file {self.path}: {key} has {self.num_planes} "
                                f"projections per event; expected 1 to {MAX_PLANES}")
        self.semantic_classes = self.label_classes.get("semantic", SEMANTIC_CLASSES)
        self.particles = np.full(n, -1, np.int64)

    def _is_label(self, group_name: str) -> bool:
        """A label product: it says so (attribute ``labels``), or its name does."""
        return "labels" in self._file["Data"][group_name].attrs or _looks_like_label(group_name)

    def _load_index(self, group_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                     h5py.Dataset]:
        group = self._file["Data"][group_name]
        missing = [f for f in _FIELDS if f not in group]
        if missing:
            raise DataFileError(f"larcv3 file {self.path}: group {group_name} lacks "
                                f"{', '.join(missing)}")
        return group["extents"][()], group["voxel_extents"][()], group["image_meta"][()], \
            group["voxels"]

    def __len__(self) -> int:
        return len(self.particles)

    def close(self) -> None:
        self._file.close()

    def __getitem__(self, index: int) -> Event:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"event {index} out of range for {n} events")
        index %= n
        with self._lock:
            planes = self._read(self._charge, index)
            labels = self._read(self._labels, index) if self._labels is not None else None
        coords, values, semantic, origin = [], [], [], []
        for p, (projection, shape, ids, vals) in enumerate(planes):
            unravelled = np.stack(np.unravel_index(ids.astype(np.int64), shape), 1)
            if self.kind == "2d":
                plane = np.full((ids.size, 1), projection if projection < self.num_planes else p)
                unravelled = np.concatenate([plane, unravelled], 1)
            coords.append(unravelled.astype(np.int32))
            values.append(vals.astype(np.float32))
            sem = np.full(ids.size, UNLABELLED, np.int64)
            org = np.full(ids.size, UNLABELLED, np.int64)
            if labels is not None:
                label_ids, label_vals = _plane_labels(labels, projection)
                found = _lookup(label_ids, label_vals, ids)
                classes = next(iter(self.label_classes.values()))
                found = np.where(np.isnan(found) & self.labels_origin, 0, found)  # background
                ok = ~np.isnan(found) & (found >= 0) & (found < len(classes))
                tags = np.where(ok, np.nan_to_num(found), UNLABELLED).astype(np.int64)
                if self.labels_origin:
                    org = tags
                else:
                    sem = tags
            semantic.append(sem)
            origin.append(org)
        return Event(np.concatenate(coords) if coords else np.zeros((0, self.num_dims), np.int32),
                     np.concatenate(values) if values else np.zeros(0, np.float32),
                     np.concatenate(semantic) if semantic else np.zeros(0, np.int64),
                     np.concatenate(origin) if origin else np.zeros(0, np.int64),
                     -1, {"kind": self.kind, "index": index, "source": "larcv3"})

    @property
    def num_dims(self) -> int:
        return 3 if self.kind == "2d" else len(self.spatial_shape)

    @staticmethod
    def _read(index_arrays: tuple, event: int) -> list[tuple[int, tuple[int, ...], np.ndarray,
                                                            np.ndarray]]:
        extents, voxel_extents, image_meta, voxels = index_arrays
        first, count = int(extents[event]["first"]), int(extents[event]["N"])
        rows = voxel_extents[first:first + count]
        metas = image_meta[first:first + count]
        if len(rows) == 0:
            return []
        starts = rows["first"].astype(np.int64)
        lo, hi = int(starts.min()), int((starts + rows["N"]).max())
        block = voxels[lo:hi]
        out = []
        for row, meta in zip(rows, metas, strict=True):
            a = int(row["first"]) - lo
            chunk = block[a:a + int(row["N"])]
            shape = tuple(int(v) for v in meta["number_of_voxels"])
            ids, values = chunk["id"], chunk["value"]
            if ids.size > 1 and (np.diff(ids.astype(np.int64)) < 0).any():
                order = np.argsort(ids, kind="stable")  # larcv3 sorts ids; be safe anyway
                ids, values = ids[order], values[order]
            out.append((int(row["ID"]), shape, ids, values))
        return out


def _plane_labels(planes: list, projection: int) -> tuple[np.ndarray, np.ndarray]:
    for proj, _shape, ids, vals in planes:
        if proj == projection:
            return ids, vals
    return np.zeros(0, np.uint64), np.zeros(0, np.float32)


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values at ``query`` ids (keys sorted), NaN where absent."""
    if keys.size == 0:
        return np.full(query.size, np.nan)
    at = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return np.where(keys[at] == query, values[at].astype(np.float64), np.nan)


def _text(value: object) -> str:
    """An HDF5 string attribute (bytes or str) as str; '' when absent."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _looks_like_label(name: str) -> bool:
    producer = name.split("_", 1)[1] if "_" in name else name
    return any(word in producer.lower() for word in _LABEL_WORDS)


def _match(name: str, groups: dict[str, str], path: Path) -> str:
    for candidate in (name, f"sparse2d_{name}", f"sparse3d_{name}"):
        if candidate in groups:
            return candidate
    raise DataFileError(f"larcv3 file {path} has no product {name!r}; it has "
                        f"{', '.join(sorted(groups))}")
