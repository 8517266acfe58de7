"""Data-parallel plumbing for one trial: which rank we are, and the collectives training needs.

A trial runs as one process, or as several ranks started by a launcher (mpiexec, srun, PALS).
The launcher's environment says which rank this process is; rank 0's address comes from
MASTER_ADDR / MASTER_PORT when both are set, otherwise rank 0 opens the rendezvous on a free
port and MPI broadcasts where it is. MPI only discovers ranks and the rendezvous: tensors go
through ``torch.distributed``, on the ranks' own devices, with the backend their accelerator
needs (gloo on CPU, NCCL on CUDA and ROCm, XCCL or oneCCL on Intel GPUs), and
``DistributedDataParallel`` reduces the gradients while the backward pass runs. A
single-rank trial initialises neither MPI nor a process group.
"""

from __future__ import annotations

import inspect
import os
import socket
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch

# (rank, size, local-rank candidates) as the common launchers set them: Open MPI; MPICH's
# Hydra and Cray PALS (which sets PMI_* too); Slurm's srun.
_LAUNCHER_VARIABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", ("OMPI_COMM_WORLD_LOCAL_RANK",)),
    ("PMI_RANK", "PMI_SIZE", ("MPI_LOCALRANKID", "PMI_LOCAL_RANK", "PALS_LOCAL_RANKID")),
    ("PALS_RANKID", "PMI_SIZE", ("PALS_LOCAL_RANKID", "PMI_LOCAL_RANK")),
    ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", ("SLURM_LOCALID",)),
)
# Launchers that name the rank but not the size (PMIx, ALPS): MPI is asked for the rest.
_RANK_ONLY_VARIABLES = ("PMIX_RANK", "ALPS_APP_PE")

RENDEZVOUS_TIMEOUT = timedelta(minutes=10)


class DistributedSetupError(RuntimeError):
    """The ranks cannot be joined (no backend for the device, no rendezvous): one line."""


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among its trial's ranks (local: among those on its node)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0


def ranks_from_env(environ: Mapping[str, str], pid: int) -> Ranks | None:
    """This process's place among the ranks its launcher started, or None for a lone process.

    Slurm's variables are trusted only in the task srun itself started (SLURM_TASK_PID is
    this process): a trial that a worker started by srun runs as a subprocess inherits the
    worker's variables, which describe the worker pool, not the trial.
    """
    for rank_name, size_name, local_names in _LAUNCHER_VARIABLES:
        if rank_name not in environ or size_name not in environ:
            continue
        if rank_name == "SLURM_PROCID" and environ.get("SLURM_TASK_PID") != str(pid):
            continue
        local = next((int(environ[name]) for name in local_names if name in environ), 0)
        return Ranks(int(environ[rank_name]), int(environ[size_name]), local)
    return None


def discover_ranks() -> Ranks:
    """The launcher's ranks, from its environment (MPI only for launchers that need asking)."""
    found = ranks_from_env(os.environ, os.getpid())
    if found is None and any(name in os.environ for name in _RANK_ONLY_VARIABLES):
        world = _mpi_world()
        shared = world.Split_type(_mpi().COMM_TYPE_SHARED)
        found = Ranks(world.Get_rank(), world.Get_size(), shared.Get_rank())
    return found or Ranks()


def gpu_index(local_rank: int, visible: int) -> int:
    """The device a local rank takes among ``visible`` ones.

    On sites that pair accelerators with cores, each rank already sees only the device
    nearest its cores (workflows.threads), which is device 0; otherwise ranks on a node take
    the visible devices in turn.
    """
    return 0 if visible <= 1 else local_rank % visible


# Backends in order of preference for each accelerator kind (ROCm builds call it cuda).
_BACKENDS = {"cpu": ("gloo",), "cuda": ("nccl",), "xpu": ("xccl", "ccl")}


def backend_for(device_type: str, available: Collection[str]) -> str:
    """The torch.distributed backend for ranks on ``device_type`` devices."""
    wanted = _BACKENDS.get(device_type)
    if wanted is None:
        raise DistributedSetupError(f"no data-parallel backend is known for {device_type} "
                                    "devices; use --device cpu, cuda or xpu")
    for name in wanted:
        if name in available:
            return name
    hint = {"gloo": "a torch build with distributed support",
            "nccl": "a CUDA or ROCm torch build with NCCL/RCCL",
            "xccl": "a torch build with XCCL, or oneccl_bindings_for_pytorch"}[wanted[0]]
    raise DistributedSetupError(f"data-parallel training on {device_type} needs the "
                                f"{' or '.join(wanted)} backend, which this torch lacks; "
                                f"install {hint}")


def available_backends() -> set[str]:
    import torch.distributed as dist

    if not dist.is_available():
        return set()
    found = {name for name, check in (("gloo", dist.is_gloo_available),
                                      ("nccl", dist.is_nccl_available),
                                      ("xccl", getattr(dist, "is_xccl_available", None)))
             if check is not None and check()}
    try:  # registers the "ccl" backend when installed
        import oneccl_bindings_for_pytorch  # type: ignore[import-not-found]  # noqa: F401

        found.add("ccl")
    except ImportError:
        pass
    return found


class Communicator:
    """A single process: every collective is the identity."""

    rank = 0
    size = 1
    backend: str | None = None

    def allreduce_sum(self, values: Sequence[float]) -> list[float]:
        return [float(value) for value in values]

    def allreduce_max(self, value: float) -> float:
        return float(value)

    def allgather(self, value: Any) -> list[Any]:
        return [value]

    def bcast(self, value: Any) -> Any:
        return value

    def average_(self, tensors: Sequence[torch.Tensor]) -> None:
        """Overwrite ``tensors`` with their mean over ranks, in place."""

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module to train (the model itself: one rank has no gradients to reduce)."""
        return model

    def close(self) -> None:
        """Leave the process group."""

    def abort(self, code: int) -> None:
        """End every rank (a no-op for a single process, which simply returns)."""


class TorchCommunicator(Communicator):
    """Ranks joined in a torch.distributed process group; small values travel on ``device``."""

    def __init__(self, ranks: Ranks, device: torch.device, backend: str):
        self.rank, self.size = ranks.rank, ranks.size
        self.device, self.backend = device, backend

    def _reduce(self, values: Sequence[float], op: Any) -> list[float]:
        import torch.distributed as dist

        buffer = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(buffer, op=op)
        return buffer.tolist()

    def allreduce_sum(self, values: Sequence[float]) -> list[float]:
        import torch.distributed as dist

        return self._reduce(values, dist.ReduceOp.SUM)

    def allreduce_max(self, value: float) -> float:
        import torch.distributed as dist

        return self._reduce([value], dist.ReduceOp.MAX)[0]

    def allgather(self, value: Any) -> list[Any]:
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.size
        dist.all_gather_object(gathered, value)
        return gathered

    def bcast(self, value: Any) -> Any:
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def average_(self, tensors: Sequence[torch.Tensor]) -> None:
        import torch.distributed as dist

        if not tensors:
            return
        flat = torch.cat([tensor.detach().reshape(-1) for tensor in tensors])
        dist.all_reduce(flat)
        flat /= self.size
        offset = 0
        with torch.no_grad():
            for tensor in tensors:
                tensor.copy_(flat[offset:offset + tensor.numel()].view_as(tensor))
                offset += tensor.numel()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """DDP over ``model``: rank 0's parameters and buffers are broadcast here, and the
        backward pass averages gradients bucket by bucket as they are ready."""
        from torch.nn.parallel import DistributedDataParallel

        # Buffers (batch-norm statistics) stay per rank while training and are averaged
        # before evaluation, rather than overwritten by rank 0's on every forward pass.
        # Newer torch names the option forward_sync_buffers and deprecates the old name.
        options = inspect.signature(DistributedDataParallel).parameters
        keep_buffers: dict[str, Any] = ({"forward_sync_buffers": False}
                                        if "forward_sync_buffers" in options
                                        else {"broadcast_buffers": False})
        ids = None if self.device.type == "cpu" else [self.device]
        # Gradients live in the communication buckets: no copy in and out of them per step.
        return DistributedDataParallel(model, device_ids=ids, gradient_as_bucket_view=True,
                                       **keep_buffers)

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()

    def abort(self, code: int) -> None:
        sys.stderr.flush()
        mpi = sys.modules.get("mpi4py.MPI")
        if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
            mpi.COMM_WORLD.Abort(code)
        # Launchers end the other ranks when one exits with an error (mpiexec does; srun
        # with --kill-on-bad-exit); the rest time out in their next collective.
        os._exit(code)


def connect(ranks: Ranks, device: torch.device,
            backends: Callable[[], Collection[str]] = available_backends) -> Communicator:
    """Join the other ranks on ``device``; a single rank joins nothing."""
    if ranks.size == 1:
        return Communicator()
    import torch.distributed as dist

    backend = backend_for(device.type, backends())
    if device.type != "cpu":
        getattr(torch, device.type).set_device(device)  # object collectives use it
    store = _rendezvous(ranks, os.environ)
    dist.init_process_group(backend, store=store, rank=ranks.rank, world_size=ranks.size,
                            timeout=RENDEZVOUS_TIMEOUT)
    return TorchCommunicator(ranks, device, backend)


def make_communicator(device: torch.device | None = None) -> Communicator:
    """The launcher's ranks joined on ``device`` (CPU by default)."""
    return connect(discover_ranks(), torch.device("cpu") if device is None else device)


def _rendezvous(ranks: Ranks, environ: Mapping[str, str]) -> Any:
    """A TCP store every rank reaches: at MASTER_ADDR:MASTER_PORT when both are set, else
    opened by rank 0 on a free port (on MASTER_ADDR or this host's name) and announced
    to the others over MPI."""
    import torch.distributed as dist

    host, port = environ.get("MASTER_ADDR"), environ.get("MASTER_PORT")
    if host and port:
        return dist.TCPStore(host, int(port), ranks.size, is_master=ranks.rank == 0,
                             timeout=RENDEZVOUS_TIMEOUT)
    world = _mpi_world()
    if (world.Get_rank(), world.Get_size()) != (ranks.rank, ranks.size):
        raise DistributedSetupError(
            f"the launcher's environment makes this rank {ranks.rank} of {ranks.size} but MPI "
            f"says {world.Get_rank()} of {world.Get_size()}; start every rank with the same "
            "launcher, or set MASTER_ADDR and MASTER_PORT")
    if ranks.rank == 0:
        # Port 0 lets the store bind a free port itself: no window for another process
        # to take it between choosing and binding.
        store = dist.TCPStore(host or socket.gethostname(), int(port or 0), ranks.size,
                              is_master=True, wait_for_workers=False,
                              timeout=RENDEZVOUS_TIMEOUT)
        world.bcast((host or socket.gethostname(), store.port), root=0)
        return store
    host, bound = world.bcast(None, root=0)
    return dist.TCPStore(host, bound, ranks.size, is_master=False, timeout=RENDEZVOUS_TIMEOUT)


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError:
        raise DistributedSetupError("several ranks need a rendezvous: set MASTER_ADDR and "
                                    "MASTER_PORT, or install mpi4py") from None
    return MPI


def _mpi_world() -> Any:
    return _mpi().COMM_WORLD
