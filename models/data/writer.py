"""Write a generated data set in the layout of ``sparse_dataset``, atomically: the file
appears under its name only once complete, so a killed writer leaves nothing behind."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import h5py
import numpy as np

from ._detector import DEFAULT_SIZE
from ._wire_detector import wire_preset
from .event import KINDS, NUM_PLANES, ORIGIN_CLASSES, PARTICLE_CLASSES, SEMANTIC_CLASSES, TASKS
from .generator import generate_events
from .sparse_dataset import CHUNK_ROWS, FORMAT, VERSION

EVENTS_PER_BLOCK = 64  # events generated per rng stream: the file depends on seed only
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def write_dataset(
    path: str | os.PathLike[str],
    kind: str,
    n_events: int,
    seed: int,
    task: str = "segmentation",
    size: int | None = None,
    progress: bool = True,
    detector: str = "cube",
    neutrino_fraction: float = 1.0,
) -> Path:
    path = Path(path)
    wire = wire_preset(detector, size)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    if n_events < 1:
        raise ValueError(f"the number of events must be at least 1, not {n_events}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"output directory {path.parent} does not exist: create it first")
    if path.is_dir():
        raise ValueError(f"output {path} is a directory: give a file name such as {path}/data.h5")
    if wire is not None and (kind != "2d" or task != "segmentation"):
        raise ValueError(f"detector {detector} makes 2d segmentation events of {wire.rows} x "
                         f"{wire.cols} pixels: leave kind and task at their defaults")
    size = (DEFAULT_SIZE if wire is None else wire.cols) if size is None else int(size)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        _write(partial, path.name, kind, n_events, seed, task, size, progress, detector,
               neutrino_fraction)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _write(path: Path, name: str, kind: str, n_events: int, seed: int, task: str, size: int,
           progress: bool, detector: str, neutrino_fraction: float) -> None:
    coord_type = np.int16 if size <= np.iinfo(np.int16).max else np.int32
    wire = wire_preset(detector, size)
    shape = [size] * (3 if kind == "3d" else 2) if wire is None else list(wire.image_shape)
    started = time.perf_counter()
    # a private temporary file: locks guard nothing and fail on some parallel filesystems
    with h5py.File(path, "w", locking=False) as f:
        f.attrs.update({
            "format": FORMAT, "version": VERSION, "kind": kind, "task": task, "size": size,
            "spatial_shape": shape, "n_events": n_events, "detector": detector,
            "units": "MeV" if wire is None else "ADC", "neutrino_fraction": neutrino_fraction,
            "seed": seed, "semantic_classes": json.dumps(SEMANTIC_CLASSES),
            "origin_classes": json.dumps(ORIGIN_CLASSES),
            "particle_classes": json.dumps(PARTICLE_CLASSES), "planes": NUM_PLANES,
        })
        chunk = (CHUNK_ROWS,)
        data = {
            "coords": f.create_dataset("coords", (0, 3), coord_type, maxshape=(None, 3),
                                       chunks=(CHUNK_ROWS, 3), **_COMPRESSION),
            "values": f.create_dataset("values", (0,), np.float32, maxshape=(None,),
                                       chunks=chunk, **_COMPRESSION),
            "semantic": f.create_dataset("semantic", (0,), np.uint8, maxshape=(None,),
                                         chunks=chunk, **_COMPRESSION),
            "origin": f.create_dataset("origin", (0,), np.uint8, maxshape=(None,),
                                       chunks=chunk, **_COMPRESSION),
        }
        offsets = np.zeros(n_events + 1, np.int64)
        particles = np.zeros(n_events, np.int8)
        done = 0
        for block in range(-(-n_events // EVENTS_PER_BLOCK)):
            count = min(EVENTS_PER_BLOCK, n_events - done)
            rng = np.random.default_rng([seed, block])
            events = generate_events(kind, rng, count, size=size,
                                     task=task, detector=detector,
                                     neutrino_fraction=neutrino_fraction)
            arrays = {
                "coords": np.concatenate([e.coords for e in events]).astype(coord_type),
                "values": np.concatenate([e.values for e in events]),
                "semantic": np.concatenate([e.semantic for e in events]).astype(np.uint8),
                "origin": np.concatenate([e.origin for e in events]).astype(np.uint8),
            }
            start = int(offsets[done])
            for name, values in arrays.items():
                data[name].resize(start + len(values), axis=0)
                data[name][start:] = values
            for i, e in enumerate(events):
                offsets[done + i + 1] = offsets[done + i] + len(e)
                particles[done + i] = e.particle
            done += count
            if progress:
                rate = done / max(time.perf_counter() - started, 1e-9)
                print(f"\rwriting {name}: {done}/{n_events} events "
                      f"({rate:.0f}/s)", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
        f.create_dataset("offsets", data=offsets)
        f.create_dataset("particle", data=particles)
