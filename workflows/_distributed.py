"""Data-parallel plumbing for one trial: which rank we are, and the collectives training needs.

A trial runs as one process, or as several ranks under an MPI launcher. MPI is only
initialised when a launcher started us (its environment variables say so), so a plain
single-rank trial neither pays for nor depends on MPI. Collectives follow the Horovod recipe:
broadcast the initial state from rank 0, then sum gradients with one allreduce per bucket of
flattened tensors rather than one call per tensor, which is what keeps the per-step latency
low on networks with many small layers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import torch

# Set by the common launchers: MPICH/Hydra and Cray PALS (PMI_*), Open MPI, PMIx, ALPS.
_RANK_ENV = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "ALPS_APP_PE")
_LOCAL_RANK_ENV = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "PALS_LOCAL_RANKID",
                   "SLURM_LOCALID")

BUCKET_BYTES = 16 << 20  # large enough to amortise latency, small enough to stay in cache


def launched_by_mpi(environ: dict[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return any(name in environ for name in _RANK_ENV)


def local_rank(environ: dict[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    for name in _LOCAL_RANK_ENV:
        if name in environ:
            return int(environ[name])
    return 0


class Communicator:
    """A single process: every collective is the identity."""

    rank = 0
    size = 1

    def allreduce_sum(self, values: Sequence[float]) -> list[float]:
        return [float(value) for value in values]

    def allreduce_max(self, value: float) -> float:
        return float(value)

    def allgather(self, value: Any) -> list[Any]:
        return [value]

    def bcast(self, value: Any) -> Any:
        return value

    def allreduce_tensors_(self, tensors: Sequence[torch.Tensor]) -> None:
        """Sum ``tensors`` over ranks, in place."""

    def abort(self, code: int) -> None:
        """End every rank (a no-op for a single process, which simply returns)."""

    def broadcast_tensors_(self, tensors: Sequence[torch.Tensor]) -> None:
        """Overwrite ``tensors`` with rank 0's values, in place."""


class MPICommunicator(Communicator):
    def __init__(self, comm: Any):
        from mpi4py import MPI

        self._mpi = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    def allreduce_sum(self, values: Sequence[float]) -> list[float]:
        import numpy as np

        buffer = np.asarray(values, dtype=np.float64)
        self.comm.Allreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.SUM)
        return buffer.tolist()

    def allreduce_max(self, value: float) -> float:
        return float(self.comm.allreduce(float(value), op=self._mpi.MAX))

    def allgather(self, value: Any) -> list[Any]:
        return self.comm.allgather(value)

    def bcast(self, value: Any) -> Any:
        return self.comm.bcast(value, root=0)

    def abort(self, code: int) -> None:
        if self.size > 1:
            import sys

            sys.stderr.flush()
            self.comm.Abort(code)

    def allreduce_tensors_(self, tensors: Sequence[torch.Tensor]) -> None:
        for bucket in _buckets(tensors):
            flat = _flatten(bucket)
            self.comm.Allreduce(self._mpi.IN_PLACE, flat.numpy(), op=self._mpi.SUM)
            _unflatten_into(flat, bucket)

    def broadcast_tensors_(self, tensors: Sequence[torch.Tensor]) -> None:
        for bucket in _buckets(tensors):
            flat = _flatten(bucket)
            self.comm.Bcast(flat.numpy(), root=0)
            _unflatten_into(flat, bucket)


def make_communicator() -> Communicator:
    """MPI's world when a launcher started this process, otherwise a single rank."""
    if not launched_by_mpi():
        return Communicator()
    from mpi4py import MPI

    return MPICommunicator(MPI.COMM_WORLD)


def _buckets(tensors: Iterable[torch.Tensor]) -> list[list[torch.Tensor]]:
    """Consecutive runs of same-dtype tensors of about BUCKET_BYTES each, in a fixed order."""
    buckets: list[list[torch.Tensor]] = []
    size = 0
    for tensor in tensors:
        fresh = (not buckets or size >= BUCKET_BYTES or buckets[-1][0].dtype != tensor.dtype)
        if fresh:
            buckets.append([])
            size = 0
        buckets[-1].append(tensor)
        size += tensor.numel() * tensor.element_size()
    return buckets


def _flatten(bucket: Sequence[torch.Tensor]) -> torch.Tensor:
    # MPI works on host memory here: staging through the CPU keeps accelerator ranks working
    # with any MPI build, not only device-aware ones.
    return torch.cat([tensor.detach().reshape(-1).cpu() for tensor in bucket])


def _unflatten_into(flat: torch.Tensor, bucket: Sequence[torch.Tensor]) -> None:
    offset = 0
    with torch.no_grad():
        for tensor in bucket:
            count = tensor.numel()
            tensor.copy_(flat[offset:offset + count].view_as(tensor))
            offset += count
