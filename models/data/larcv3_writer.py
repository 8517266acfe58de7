"""Write events as a larcv3 HDF5 file (the layout ``larcv3`` reads), for tests and for
handing generated events to tools that expect DeepLearnPhysics files.

Each product is a group ``Data/sparse2d_<producer>_group`` (``sparse3d_`` for 3D events)
with larcv3's four compound datasets, laid out as larcv3's C structs are (padding
included): ``extents`` (first u8, N u4), ``voxel_extents`` (first u8, N u4, ID u4),
``voxels`` (id u8, value f4) and ``image_meta``. ``Events/event_id`` holds (run, subrun,
event). The label product also gets two attributes larcv3 itself does not write:
``labels`` ("origin" or "semantic") and ``classes`` (JSON list of class names), which the
reader prefers to guessing from the producer's name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .event import BACKGROUND, NUM_PLANES, ORIGIN_CLASSES, SEMANTIC_CLASSES, Event

LABEL_CLASSES = {"origin": ORIGIN_CLASSES, "semantic": SEMANTIC_CLASSES}

# larcv3's structs as HDF5 compounds: an 8-byte field first, so 4 bytes of tail padding
# after a lone u4 (readers must find fields by name and offset, not position).
EXTENTS = np.dtype({"names": ["first", "N"], "formats": ["<u8", "<u4"],
                    "offsets": [0, 8], "itemsize": 16})
ID_EXTENTS = np.dtype({"names": ["first", "N", "ID"], "formats": ["<u8", "<u4", "<u4"],
                       "offsets": [0, 8, 12], "itemsize": 16})
VOXEL = np.dtype({"names": ["id", "value"], "formats": ["<u8", "<f4"],
                  "offsets": [0, 8], "itemsize": 16})
EVENT_ID = np.dtype([("run", "<u4"), ("subrun", "<u4"), ("event", "<u4")])


def meta_dtype(dim: int) -> np.dtype:
    return np.dtype([("valid", "u1"), ("projection_id", "<u8"), ("image_sizes", "<f8", (dim,)),
                     ("number_of_voxels", "<u8", (dim,)), ("origin", "<f8", (dim,))])


@dataclass(frozen=True)
class ImageMeta:
    """One projection's image: pixels per axis, and where it sits (cm) in the detector."""

    shape: tuple[int, ...]
    origin: tuple[float, ...] | None = None  # default: zeros
    sizes: tuple[float, ...] | None = None  # default: one unit per pixel

    def row(self, projection: int) -> tuple:
        dim = len(self.shape)
        origin = self.origin if self.origin is not None else (0.0,) * dim
        sizes = self.sizes if self.sizes is not None else tuple(float(s) for s in self.shape)
        return (1, projection, sizes, self.shape, origin)


def write_larcv3(
    path: str | os.PathLike[str],
    events: Sequence[Event],
    metas: ImageMeta | Sequence[ImageMeta],
    labels: str | None = "origin",
    producer: str = "sbndwire",
    label_producer: str = "sbnd_cosmicseg",
    planes: int = NUM_PLANES,
    event_ids: Sequence[tuple[int, int, int]] | None = None,
) -> Path:
    """Write ``events`` (all 2D or all 3D) with ``metas`` (one for all, or one per event).

    ``labels`` names the Event labels written as the label product (None: charge only);
    pixels whose label is UNLABELLED are left out of it, and so are background pixels of
    origin labels (a cosmic-tag product holds the tagged pixels; the reader takes absent
    ones as background). Atomic: the file appears whole or not at all.
    """
    path = Path(path)
    if labels is not None and labels not in LABEL_CLASSES:
        raise ValueError(f"labels must be one of {', '.join(LABEL_CLASSES)} or None, "
                         f"not {labels!r}")
    if not events:
        raise ValueError("no events to write")
    per_event = [metas] * len(events) if isinstance(metas, ImageMeta) else list(metas)
    if len(per_event) != len(events):
        raise ValueError(f"{len(per_event)} image metas for {len(events)} events")
    dim = len(per_event[0].shape)
    if any(len(m.shape) != dim for m in per_event):
        raise ValueError("all image metas must have the same number of axes")
    ids = list(event_ids) if event_ids is not None else [(1, 0, i) for i in range(len(events))]
    kind = "sparse2d" if dim == 2 else "sparse3d"
    projections = planes if dim == 2 else 1
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with h5py.File(partial, "w", locking=False) as f:
            charge = [_planes(e, m, projections, e.values) for e, m in zip(events, per_event,
                                                                            strict=True)]
            _write_product(f.create_group(f"Data/{kind}_{producer}_group"), charge, per_event,
                           dim)
            if labels is not None:
                lowest = BACKGROUND + 1 if labels == "origin" else 0
                tagged = [_planes(e, m, projections, getattr(e, labels).astype(np.float32),
                                  keep=getattr(e, labels) >= lowest)
                          for e, m in zip(events, per_event, strict=True)]
                group = f.create_group(f"Data/{kind}_{label_producer}_group")
                _write_product(group, tagged, per_event, dim)
                group.attrs["labels"] = labels
                group.attrs["classes"] = json.dumps(LABEL_CLASSES[labels])
            f.create_dataset("Events/event_id", data=np.array(ids, EVENT_ID))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _planes(event: Event, meta: ImageMeta, projections: int, values: np.ndarray,
            keep: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(sorted flat ids, values) of each projection of ``event``."""
    coords = event.coords.astype(np.int64)
    if keep is not None:
        coords, values = coords[keep], values[keep]
    if projections > 1 or coords.shape[1] == len(meta.shape) + 1:
        plane, pixel = coords[:, 0], coords[:, 1:]
    else:
        plane, pixel = np.zeros(len(coords), np.int64), coords
    if ((pixel < 0) | (pixel >= np.asarray(meta.shape))).any():
        raise ValueError(f"event pixels fall outside the image meta's {meta.shape} pixels")
    if ((plane < 0) | (plane >= projections)).any():
        raise ValueError(f"event planes fall outside 0..{projections - 1}")
    flat = np.ravel_multi_index(tuple(pixel.T), meta.shape) if len(pixel) else pixel[:, 0]
    out = []
    for p in range(projections):
        mine = plane == p
        order = np.argsort(flat[mine], kind="stable")
        out.append((flat[mine][order].astype(np.uint64), values[mine][order].astype(np.float32)))
    return out


def _write_product(group: h5py.Group, events: list[list[tuple[np.ndarray, np.ndarray]]],
                   metas: list[ImageMeta], dim: int) -> None:
    extents: list[tuple[int, int]] = []
    voxel_extents: list[tuple[int, int, int]] = []
    image_meta: list[tuple] = []
    chunks: list[np.ndarray] = []
    voxels = 0
    for planes, meta in zip(events, metas, strict=True):
        extents.append((len(voxel_extents), len(planes)))
        for projection, (ids, values) in enumerate(planes):
            voxel_extents.append((voxels, ids.size, projection))
            image_meta.append(meta.row(projection))
            chunk = np.empty(ids.size, VOXEL)
            chunk["id"], chunk["value"] = ids, values
            chunks.append(chunk)
            voxels += ids.size
    group.create_dataset("extents", data=np.array(extents, EXTENTS), maxshape=(None,))
    group.create_dataset("voxel_extents", data=np.array(voxel_extents, ID_EXTENTS),
                         maxshape=(None,))
    group.create_dataset("image_meta", data=np.array(image_meta, meta_dtype(dim)),
                         maxshape=(None,))
    group.create_dataset("voxels", data=np.concatenate(chunks), maxshape=(None,),
                         chunks=True, compression="gzip", shuffle=True)
