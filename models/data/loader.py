"""Batches of events as sparse tensors: seeded shuffling, sharding by rank, prefetching.

Every epoch draws a permutation from (seed, epoch), so all ranks agree on it without
talking; rank r takes every world_size-th event of it. The permutation is padded by
wrapping around (or trimmed with drop_last) so that every rank gets the same number of
batches, which data-parallel training needs to keep its allreduces in step. Batches are
assembled by a background thread, ``prefetch`` ahead of the consumer.

2D events become one batch entry per wire plane (three for generated data): batch index
``planes * event_in_batch + plane``.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from .dataset import open_dataset
from .event import NUM_PLANES, Event


class EventSource(Protocol):
    kind: str
    spatial_shape: tuple[int, ...]

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Event: ...


@dataclass
class Batch:
    coords: torch.Tensor  # int32 [N, 1 + D], batch index first
    feats: torch.Tensor  # float32 [N, 1]
    spatial_shape: tuple[int, ...]
    batch_size: int  # entries of the sparse tensor (3 per event in 2D)
    semantic: torch.Tensor  # int64 [N]
    origin: torch.Tensor  # int64 [N]
    particle: torch.Tensor  # int64 [events]
    indices: torch.Tensor  # int64 [events], dataset index of each event
    _tensor: Any = field(default=None, repr=False)

    @property
    def tensor(self) -> Any:
        """The kernels.SparseTensor of this batch (built on first use)."""
        if self._tensor is None:
            from kernels import SparseTensor

            self._tensor = SparseTensor(self.coords, self.feats, self.spatial_shape,
                                        batch_size=self.batch_size)
        return self._tensor

    @property
    def num_events(self) -> int:
        return int(self.particle.shape[0])


def collate(events: Sequence[Event], indices: Sequence[int], kind: str,
            spatial_shape: tuple[int, ...], planes: int = NUM_PLANES) -> Batch:
    """Events -> one Batch; 2D events have ``planes`` planes each."""
    coords = []
    for i, event in enumerate(events):
        c = event.coords.astype(np.int32, copy=False)
        if kind == "2d":
            # (plane, row, col) -> (planes * i + plane, row, col)
            c = c.copy()
            c[:, 0] += planes * i
        else:
            c = np.concatenate([np.full((len(c), 1), i, np.int32), c], 1)
        coords.append(c)
    per_event = planes if kind == "2d" else 1
    return Batch(
        coords=torch.from_numpy(np.concatenate(coords)),
        feats=torch.from_numpy(np.concatenate([e.values for e in events]).astype(np.float32)
                               ).unsqueeze(1),
        spatial_shape=tuple(spatial_shape),
        batch_size=per_event * len(events),
        semantic=torch.from_numpy(np.concatenate([e.semantic for e in events]).astype(np.int64)),
        origin=torch.from_numpy(np.concatenate([e.origin for e in events]).astype(np.int64)),
        particle=torch.tensor([e.particle for e in events], dtype=torch.int64),
        indices=torch.tensor(list(indices), dtype=torch.int64),
    )


class SparseLoader:
    def __init__(
        self,
        dataset: EventSource | str | os.PathLike[str],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        prefetch: int = 2,
    ) -> None:
        if isinstance(dataset, str | os.PathLike):
            dataset = open_dataset(dataset)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..world_size-1, got rank {rank} of {world_size}")
        if len(dataset) == 0:
            raise ValueError("the data set holds no events")
        if drop_last and len(dataset) < world_size:
            raise ValueError(f"{len(dataset)} events cannot feed {world_size} ranks with "
                             "drop_last")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.prefetch = prefetch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def shard(self) -> np.ndarray:
        """This rank's event indices for the current epoch, in order."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            per_rank = n // self.world_size
        else:
            per_rank = -(-n // self.world_size)
            order = np.resize(order, per_rank * self.world_size)  # wraps around
        return order[self.rank:per_rank * self.world_size:self.world_size]

    def __len__(self) -> int:
        per_rank = (len(self.dataset) // self.world_size if self.drop_last
                    else -(-len(self.dataset) // self.world_size))
        return per_rank // self.batch_size if self.drop_last else -(-per_rank // self.batch_size)

    def _batches(self) -> Iterator[np.ndarray]:
        indices = self.shard()
        for b in range(len(self)):
            yield indices[b * self.batch_size:(b + 1) * self.batch_size]

    def _make(self, indices: np.ndarray) -> Batch:
        events = [self.dataset[int(i)] for i in indices]
        # Reading and collating is numpy work. The SparseTensor is built on first use, by the
        # training thread: torch ops run from this thread start a second OpenMP team that
        # fights the first for the cores (a 2-thread training step took 3x longer).
        return collate(events, indices.tolist(), self.dataset.kind, self.dataset.spatial_shape,
                       getattr(self.dataset, "num_planes", NUM_PLANES))

    def __iter__(self) -> Iterator[Batch]:
        if self.prefetch <= 0:
            for indices in self._batches():
                yield self._make(indices)
            return
        out: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        done = object()

        def put(item: object) -> bool:
            """Hand over ``item`` unless the consumer has gone; False if it has."""
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for indices in self._batches():
                    if not put(self._make(indices)):
                        return
                put(done)
            except BaseException as exc:  # handed to the consumer, raised there
                put(exc)

        worker = threading.Thread(target=produce, name="sparse-loader", daemon=True)
        worker.start()
        try:
            while True:
                item = out.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            worker.join(timeout=5.0)
