"""A trial started by a worker pool that a launcher started is not that launcher's task."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from workflows.apps import run_trial_command

# What `srun --mpi=pmi2` gives a worker pool on the second node of a two-node block.
POOL_IDENTITY = {"PMI_FD": "11", "PMI_RANK": "1", "PMI_SIZE": "2", "PMI_JOBID": "7.0",
                 "SLURM_PROCID": "1", "SLURM_LOCALID": "0", "MPI_LOCALRANKID": "0"}

REPORT = """
import json, os, sys
from workflows._distributed import discover_ranks
from mpi4py import MPI
comm = MPI.COMM_WORLD
found = discover_ranks()
json.dump({"mpi": [comm.Get_rank(), comm.Get_size()], "ranks": [found.rank, found.size],
           "pmi": sorted(k for k in os.environ if k.startswith("PMI_"))}, open(sys.argv[1], "w"))
"""


@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs the mpich wheel")
def test_single_rank_trial_under_a_launched_pool(tmp_path: Path, monkeypatch) -> None:
    for name, value in POOL_IDENTITY.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "report.json"
    outcome = run_trial_command(
        [sys.executable, "-c", REPORT, str(out)], str(tmp_path / "trial"),
        {"PYTHONPATH": os.pathsep.join(sys.path)}, str(tmp_path / "result.json"))
    # With the pool's PMI_FD the MPI library aborts in MPI_Init; with its PMI_RANK the trial
    # would take itself for rank 1 of a distributed run.
    assert outcome["returncode"] == 0, outcome["log_tail"]
    report = json.loads(out.read_text())
    assert report["mpi"] == [0, 1]
    assert report["ranks"] == [0, 1]
    assert report["pmi"] == []


def test_the_trials_own_variables_stay(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PMI_RANK", "3")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    out = tmp_path / "env.txt"
    command = [sys.executable, "-c",
               "import os, sys; open(sys.argv[1], 'w').write("
               "os.environ.get('PMI_RANK', '-') + ' ' + os.environ['SLURM_JOB_ID'] + ' ' "
               "+ os.environ['OMP_NUM_THREADS'])", str(out)]
    outcome = run_trial_command(command, str(tmp_path / "trial"), {"OMP_NUM_THREADS": "2"},
                                str(tmp_path / "result.json"))
    assert outcome["returncode"] == 0, outcome["log_tail"]
    assert out.read_text() == "- 42 2"  # the job stays known to the trial; the rank does not
