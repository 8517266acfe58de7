"""A trial must not inherit its worker pool's identity as a task of the block's launcher.

On a batch system the worker pool itself is started by a launcher (`srun`, `mpiexec`,
`aprun`), which gives it a rank, a size and, with PMI, an open connection to the launcher
(`PMI_FD`). A trial started by that pool inherits them: with `srun --mpi=pmi2` (Slurm's
MpiDefault on many machines) MPI_Init in a single-rank trial then talks PMI on a closed
descriptor and aborts ("PMI_Init returned -1"), and on a block of several nodes the pool's
rank (`PMI_RANK=1`, `PMI_SIZE=2`) makes a single-rank trial believe it is rank 1 of a
distributed run. These variables are dropped before the trial starts; a multi-rank trial's
own launcher sets fresh ones for its ranks.
"""

from __future__ import annotations

from collections.abc import Mapping

# Names and prefixes that say "you are task N of a launcher", for the launchers the sites
# use: PMI-1/2 (MPICH Hydra, Slurm's pmi2, Cray PALS), PMIx, Open MPI, Slurm's own task ids.
_PREFIXES = ("PMI_", "PMIX_", "OMPI_COMM_WORLD_", "PALS_")
_NAMES = frozenset({"MPI_LOCALRANKID", "MPI_LOCALNRANKS", "SLURM_PROCID", "SLURM_LOCALID",
                    "SLURM_TASK_PID", "ALPS_APP_PE"})


def is_launcher_identity(name: str) -> bool:
    return name in _NAMES or name.startswith(_PREFIXES)


def without_launcher_identity(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` less the variables that tie a process to its launcher's task."""
    return {k: v for k, v in environ.items() if not is_launcher_identity(k)}
