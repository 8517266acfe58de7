"""LArTPC event data: a seeded synthetic generator, HDF5 files, a larcv3 reader, and a
loader that batches events into sparse tensors.

    events = [generate_event("3d", np.random.default_rng(0))]
    write_dataset("train.h5", "2d", n_events=1000, seed=1)
    loader = SparseLoader(open_dataset("train.h5"), batch_size=8, rank=r, world_size=w)
"""

from __future__ import annotations

from .dataset import open_dataset
from .errors import DataFileError, DataFileNotFound
from .event import (
    KINDS,
    NUM_PLANES,
    ORIGIN_CLASSES,
    PARTICLE_CLASSES,
    SEMANTIC_CLASSES,
    TASKS,
    UNLABELLED,
    Event,
)
from .generator import generate_event, generate_events
from .labels import LABEL_SETS, choose_labels
from .larcv3 import Larcv3Dataset
from .larcv3_writer import ImageMeta, write_larcv3
from .sparse_dataset import SparseDataset
from .writer import write_dataset

_LAZY = {"Batch", "SparseLoader", "collate"}  # they need torch: import it only when used


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KINDS", "LABEL_SETS", "NUM_PLANES", "ORIGIN_CLASSES", "PARTICLE_CLASSES",
    "SEMANTIC_CLASSES", "TASKS", "UNLABELLED", "Batch", "DataFileError", "DataFileNotFound",
    "Event", "ImageMeta", "Larcv3Dataset", "SparseDataset", "SparseLoader", "choose_labels",
    "collate", "generate_event", "generate_events", "open_dataset", "write_dataset",
    "write_larcv3",
]
