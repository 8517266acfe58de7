from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from workflows._distributed import (
    Communicator,
    DistributedSetupError,
    Ranks,
    backend_for,
    connect,
    gpu_index,
    ranks_from_env,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("device, available, backend", [
    ("cpu", {"gloo"}, "gloo"),
    ("cuda", {"gloo", "nccl"}, "nccl"),           # CUDA, and ROCm (RCCL behind the same name)
    ("xpu", {"gloo", "xccl", "ccl"}, "xccl"),     # torch's own backend first
    ("xpu", {"gloo", "ccl"}, "ccl"),              # oneCCL's bindings otherwise
])
def test_backend_follows_the_accelerator(device, available, backend):
    assert backend_for(device, available) == backend


@pytest.mark.parametrize("device, available, words", [
    ("cuda", {"gloo"}, "needs the nccl backend"),
    ("xpu", {"gloo"}, "needs the xccl or ccl backend"),
    ("cpu", set(), "needs the gloo backend"),
    ("mps", {"gloo"}, "no data-parallel backend is known for mps"),
])
def test_missing_backend_is_one_line_saying_what_to_install(device, available, words):
    with pytest.raises(DistributedSetupError) as err:
        backend_for(device, available)
    message = str(err.value)
    assert words in message and "\n" not in message
    assert "install" in message or "--device" in message


PID = 4242


@pytest.mark.parametrize("environ, ranks", [
    ({}, None),
    # MPICH's Hydra (mpiexec from the mpich wheel)
    ({"PMI_RANK": "1", "PMI_SIZE": "2", "MPI_LOCALRANKID": "1"}, Ranks(1, 2, 1)),
    # Cray PALS (Polaris, Aurora): PMI_* and PALS_*
    ({"PMI_RANK": "5", "PMI_SIZE": "8", "PMI_LOCAL_RANK": "1", "PALS_RANKID": "5",
      "PALS_LOCAL_RANKID": "1"}, Ranks(5, 8, 1)),
    ({"PALS_RANKID": "3", "PMI_SIZE": "4", "PALS_LOCAL_RANKID": "3"}, Ranks(3, 4, 3)),
    # Open MPI
    ({"OMPI_COMM_WORLD_RANK": "6", "OMPI_COMM_WORLD_SIZE": "8",
      "OMPI_COMM_WORLD_LOCAL_RANK": "2"}, Ranks(6, 8, 2)),
    # srun started this very process
    ({"SLURM_PROCID": "3", "SLURM_STEP_NUM_TASKS": "4", "SLURM_LOCALID": "1",
      "SLURM_NTASKS": "8", "SLURM_TASK_PID": str(PID)}, Ranks(3, 4, 1)),
    # a subprocess of a worker srun started: the worker pool's variables, not the trial's
    ({"SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2", "SLURM_LOCALID": "0",
      "SLURM_TASK_PID": "17"}, None),
    # mpiexec inside a Slurm allocation: MPI's own variables win
    ({"PMI_RANK": "0", "PMI_SIZE": "2", "MPI_LOCALRANKID": "0", "SLURM_PROCID": "0",
      "SLURM_STEP_NUM_TASKS": "1", "SLURM_TASK_PID": str(PID)}, Ranks(0, 2, 0)),
])
def test_ranks_from_the_launchers_environment(environ, ranks):
    assert ranks_from_env(environ, PID) == ranks


def test_local_ranks_take_the_visible_devices_in_turn():
    assert [gpu_index(rank, 4) for rank in range(6)] == [0, 1, 2, 3, 0, 1]
    assert gpu_index(2, 1) == 0  # the rank already sees only the device nearest its cores


def test_single_rank_joins_nothing():
    comm = connect(Ranks(), torch.device("cpu"), backends=lambda: set())
    assert type(comm) is Communicator and not torch.distributed.is_initialized()
    assert comm.allreduce_sum([1, 2.5]) == [1.0, 2.5]
    assert comm.allgather("x") == ["x"] and comm.bcast(3) == 3
    model = torch.nn.Linear(2, 2)
    assert comm.wrap(model) is model


@pytest.mark.slow
def test_single_rank_trial_initialises_neither_mpi_nor_a_process_group(tmp_path):
    from models.data import write_dataset

    data = tmp_path / "seg2d.h5"
    write_dataset(data, "2d", n_events=6, seed=3, size=32, progress=False)
    (tmp_path / "params.json").write_text(json.dumps(
        {"depth": 2, "filters": 2, "reps": 1, "batch_size": 2, "warmup_steps": 1}))
    script = (
        "import sys, torch.distributed as dist\n"
        "from workflows import train\n"
        f"code = train.main(['--params', {str(tmp_path / 'params.json')!r}, '--out', "
        f"{str(tmp_path / 'result.json')!r}, '--model', 'uresnet2d', '--data', {str(data)!r}, "
        "'--epochs', '1', '--steps-per-epoch', '1', '--device', 'cpu', '--sync-bn'])\n"
        "print(code, 'mpi4py.MPI' in sys.modules, dist.is_initialized())\n")
    env = {**os.environ, "HPSEARCH_INTRA_OP_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.split() == ["0", "False", "False"], done.stderr
    assert json.loads((tmp_path / "result.json").read_text())["ranks"] == 1
