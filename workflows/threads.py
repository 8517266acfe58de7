"""Thread and affinity settings of a trial process, applied before torch starts its pools.

The site file decides the values; the Parsl app passes them to the trial as environment
variables. Parsl's own cpu_affinity may overwrite OMP_NUM_THREADS in the worker, so the
trial re-reads the HPSEARCH_* variables, which nothing else touches.

Why binding needs more than OMP_PROC_BIND (measured with the pip wheel, GNU OpenMP): when
torch loads, libgomp pins the main thread to the first place of the process mask. Every
thread created later by the main thread (the data loader, torch's inter-op pool) inherits
that one CPU, and two ranks of one trial that share a mask both put their main thread on the
same first CPU. So, when the site asks for binding, `apply()`:

1. takes the trial's CPUs (HPSEARCH_CPU_LIST, else the process mask before torch narrows it)
   and, when several ranks of one trial share them, gives each local rank its own cores;
2. writes OMP_PLACES as the explicit list of those cores, one place per physical core
   (hardware-thread siblings together), so intra-op threads land on distinct cores;
3. once torch has loaded, widens the main thread (and any thread started meanwhile, such as
   numpy's OpenBLAS pool) back to the rank's CPUs. The intra-op helper threads keep their
   own core each (libgomp binds them explicitly when it starts them); the main thread, which
   also creates the trial's other threads, keeps the rank's CPUs so they do too, and the
   kernel runs it on the core no helper is pinned to. Measured side by side on a shared
   2-core machine, 1 rank x 2 threads of the U-ResNet trial: main thread pinned as libgomp
   leaves it, ~10 images/s; pinned with only the loader freed, ~13; free within the rank's
   cores, ~45, as fast as unbound threads (~48).

Without binding (no OMP_PROC_BIND, or "false"), threads float inside the worker's mask, and
Parsl's GOMP_CPU_AFFINITY (which would bind them anyway) is dropped.

Accelerators: Parsl gives worker i the i-th accelerator; the ranks of a multi-rank trial
all see every device. Either way the trial keeps only the accelerator the site pairs with
the CPUs it runs on (HPSEARCH_ACCELERATORS), so each rank gets the device nearest its cores
and exactly one; on ROCm only through ROCR_VISIBLE_DEVICES, because CUDA/HIP_VISIBLE_DEVICES
index into what ROCR leaves visible (Parsl sets both to i, which hides the device for i > 0).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from workflows.cpu_list import parse_cpu_list
from workflows.trial_io import ACCELERATOR_KIND_VAR as ACCELERATOR_KIND
from workflows.trial_io import ACCELERATORS_VAR as ACCELERATORS
from workflows.trial_io import CPU_LIST_VAR as CPU_LIST
from workflows.trial_io import INTER_OP_VAR as INTER_OP
from workflows.trial_io import INTRA_OP_VAR as INTRA_OP

# What a trial records as its thread environment, and what `hpsearch sites probe` shows.
RECORDED_ENV = (
    "OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "KMP_BLOCKTIME", "KMP_AFFINITY",
    "GOMP_CPU_AFFINITY", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK", "ZE_FLAT_DEVICE_HIERARCHY", "PARSL_WORKER_RANK",
    "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", INTRA_OP, INTER_OP, CPU_LIST,
)

# (local rank, ranks on this node) as the common launchers set them: MPICH/Hydra, Open MPI,
# Cray PALS, Slurm (srun sets the step's tasks per node as "2" or "2(x3)").
_LOCAL_RANK_ENV = (("MPI_LOCALRANKID", ("MPI_LOCALNRANKS",)),
                   ("OMPI_COMM_WORLD_LOCAL_RANK", ("OMPI_COMM_WORLD_LOCAL_SIZE",)),
                   ("PALS_LOCAL_RANKID", ("PALS_LOCAL_SIZE",)),
                   ("SLURM_LOCALID", ("SLURM_STEP_TASKS_PER_NODE", "SLURM_NTASKS_PER_NODE")))

# Set by apply(): the CPUs this rank runs on, for in_effect().
_applied: dict[str, Any] = {}


def format_cpu_list(cpus: set[int] | list[int]) -> str:
    """{0, 1, 2, 5} -> "0-2,5" (the kernel's own notation)."""
    out: list[str] = []
    ordered = sorted(cpus)
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            low, high = ordered[start], ordered[i - 1]
            out.append(str(low) if low == high else f"{low}-{high}")
            start = i
    return ",".join(out)


def binding_requested(environ: Mapping[str, str] | None = None) -> bool:
    """The site asks for bound threads: OMP_PROC_BIND set to anything but false."""
    environ = os.environ if environ is None else environ
    value = environ.get("OMP_PROC_BIND", "").strip().lower()
    return bool(value) and value != "false"


def local_rank_and_size(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(local rank, ranks on this node); the count is 1 when the launcher does not say it,
    which keeps a rank from splitting a mask it cannot know it shares."""
    environ = os.environ if environ is None else environ
    for rank_name, size_names in _LOCAL_RANK_ENV:
        if rank_name not in environ:
            continue
        try:
            rank = int(environ[rank_name])
        except ValueError:
            continue
        for size_name in size_names:
            try:
                size = int(environ.get(size_name, "").split("(")[0].split(",")[0])
            except ValueError:
                continue
            if size > rank:
                return rank, size
        return rank, 1
    return 0, 1


def cores_of(cpus: set[int], sysfs: Path = Path("/sys/devices/system/cpu")) -> list[list[int]]:
    """`cpus` grouped by physical core (hardware-thread siblings together), in core order."""
    groups: dict[int, list[int]] = {}
    for cpu in sorted(cpus):
        try:
            siblings = parse_cpu_list(
                (sysfs / f"cpu{cpu}" / "topology" / "thread_siblings_list").read_text())
        except (OSError, ValueError):
            siblings = {cpu}
        groups.setdefault(min(siblings | {cpu}), []).append(cpu)
    return [groups[key] for key in sorted(groups)]


def rank_cores(cores: list[list[int]], intra_op: int, local_rank: int,
               local_size: int) -> list[list[int]]:
    """This rank's cores out of the trial's.

    Ranks that share a mask large enough for every local rank's intra-op threads split it in
    contiguous blocks, by local rank. A smaller mask is the launcher's binding of this rank
    alone (mpiexec --cpu-bind depth, srun --cpu-bind=cores): it is kept whole.
    """
    if local_size < 2 or len(cores) < local_size * intra_op:
        return cores
    share = len(cores) // local_size
    return cores[local_rank * share:(local_rank + 1) * share]


def places(cores: list[list[int]], intra_op: int, rotate: int = 0) -> str:
    """OMP_PLACES for these cores: one place per core when the threads fit, else one per
    hardware thread, first siblings of every core first. `rotate` moves the first place,
    so ranks that must share a mask do not all start on its first core."""
    if intra_op <= len(cores):
        groups = cores
    else:
        depth = max(len(core) for core in cores)
        groups = [[core[i]] for i in range(depth) for core in cores if i < len(core)]
    if groups:
        rotate %= len(groups)
        groups = groups[rotate:] + groups[:rotate]
    return ",".join("{" + ",".join(map(str, group)) + "}" for group in groups)


def apply_environment() -> None:
    """Everything that must happen before torch (or any OpenMP program) loads: pin the
    process to this rank's CPUs and write the OpenMP variables. Imports nothing heavy, so
    a `command` trial can hand the result to its child process."""
    intra = os.environ.get(INTRA_OP)
    if intra:
        # The HPSEARCH_* value is the site's: OMP_NUM_THREADS may have been rewritten on the
        # way (Parsl's cpu_affinity does), and OpenMP reads it when it loads.
        os.environ["OMP_NUM_THREADS"] = intra
        os.environ["MKL_NUM_THREADS"] = intra
    # Parsl's cpu_affinity writes GOMP_CPU_AFFINITY, which binds libgomp's threads on its
    # own; the site's OMP_PROC_BIND decides instead (OMP_PLACES below when it binds).
    os.environ.pop("GOMP_CPU_AFFINITY", None)
    if not hasattr(os, "sched_setaffinity"):
        return
    cpu_list = os.environ.get(CPU_LIST)
    cpus = parse_cpu_list(cpu_list) if cpu_list else set(os.sched_getaffinity(0))
    _applied["trial_cpus"] = sorted(cpus)
    if binding_requested():
        local_rank, local_size = local_rank_and_size()
        threads = int(intra) if intra else 1
        all_cores = cores_of(cpus)
        mine = rank_cores(all_cores, threads, local_rank, local_size)
        rotate = local_rank * threads if mine is all_cores else 0
        cpus = {cpu for core in mine for cpu in core}
        os.environ["OMP_PLACES"] = places(mine, threads, rotate)
        _applied["local_rank"] = local_rank
    os.sched_setaffinity(0, cpus)
    _applied["cpus"] = sorted(cpus)
    select_accelerator(cpus, os.environ)


def accelerator_for(cpus: set[int], pairs: str, local_rank: int = 0) -> str | None:
    """The accelerator whose nearest CPUs hold most of `cpus` (None: no pairing applies).
    Ranks whose CPUs tie (an unbound launcher) take the tied ones in local-rank order."""
    overlaps: list[tuple[int, str]] = []
    for pair in filter(None, pairs.split(";")):
        cpu_list, _, name = pair.rpartition("=")
        overlaps.append((len(cpus & parse_cpu_list(cpu_list)), name))
    best = max((count for count, _ in overlaps), default=0)
    if best == 0:
        return None
    tied = [name for count, name in overlaps if count == best]
    return tied[local_rank % len(tied)]


def select_accelerator(cpus: set[int], environ: MutableMapping[str, str]) -> None:
    """Leave only the accelerator nearest `cpus` visible, in the variable its runtime reads."""
    name = accelerator_for(cpus, environ.get(ACCELERATORS, ""), local_rank_and_size(environ)[0])
    kind = environ.get(ACCELERATOR_KIND, "")
    if name is None or kind not in ("cuda", "rocm", "xpu"):
        return
    if kind == "rocm":
        environ["ROCR_VISIBLE_DEVICES"] = name
        environ.pop("CUDA_VISIBLE_DEVICES", None)
        environ.pop("HIP_VISIBLE_DEVICES", None)
    elif kind == "xpu":
        environ["ZE_AFFINITY_MASK"] = name
    else:
        environ["CUDA_VISIBLE_DEVICES"] = name


def apply() -> None:
    """Pin the process and size torch's pools. Call before the first torch operation."""
    apply_environment()
    import torch

    apply_torch(torch)


def apply_torch(torch: Any = None) -> None:
    """The part that needs torch loaded: pool sizes, and the main thread widened back to the
    rank's CPUs after libgomp pinned it to its first place (see the module's docstring)."""
    if torch is None:
        import torch
    intra = os.environ.get(INTRA_OP)
    if intra:
        torch.set_num_threads(int(intra))
    inter = os.environ.get(INTER_OP)
    if inter:
        try:
            torch.set_num_interop_threads(int(inter))
        except RuntimeError:
            pass  # already started by an earlier parallel call; recorded as in effect below
    cpus = _applied.get("cpus")
    if cpus and hasattr(os, "sched_setaffinity"):
        # Not only the main thread: threads started while torch loaded (numpy's OpenBLAS
        # pool) inherited its first place too. No intra-op helper exists yet (they start at
        # the first parallel op), so every thread now gets the rank's CPUs back.
        for entry in thread_masks():
            try:
                os.sched_setaffinity(int(entry["tid"]), cpus)
            except OSError:
                pass  # the thread ended meanwhile


def thread_masks() -> list[dict[str, Any]]:
    """Every thread of this process: id, name and the CPUs it may run on."""
    out: list[dict[str, Any]] = []
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return out
    for task in sorted(tasks.iterdir(), key=lambda p: int(p.name)):
        try:
            name = (task / "comm").read_text().strip()
            status = (task / "status").read_text()
        except OSError:
            continue  # the thread ended while we looked
        allowed = next((line.split(":", 1)[1].strip() for line in status.splitlines()
                        if line.startswith("Cpus_allowed_list:")), "")
        out.append({"tid": int(task.name), "name": name, "cpus": allowed})
    return out


def _count_masks(masks: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in masks:
        key = f"{entry['name']} {entry['cpus']}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def in_effect() -> dict[str, Any]:
    """What the trial actually ran with, for its result file. Torch's pool sizes only when
    the trial loaded torch (a generic objective may not)."""
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    torch = sys.modules.get("torch")
    return {
        "torch_intra_op_threads": torch.get_num_threads() if torch else None,
        "torch_inter_op_threads": torch.get_num_interop_threads() if torch else None,
        "cpu_affinity": affinity,
        "trial_cpus": _applied.get("trial_cpus"),
        "local_rank": _applied.get("local_rank"),
        "bound": binding_requested(),
        # Threads by name and mask, counted (a trial may run hundreds of threads).
        "thread_masks": _count_masks(thread_masks()),
        "env": {name: os.environ[name] for name in RECORDED_ENV if name in os.environ},
    }
