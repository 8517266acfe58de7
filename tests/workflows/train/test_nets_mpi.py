from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.mpi, pytest.mark.slow]
# mpich's mpiexec next to the interpreter (a virtual environment's bin), else on PATH.
MPIEXEC = shutil.which("mpiexec", path=os.pathsep.join(
    [os.path.dirname(sys.executable), os.environ.get("PATH", "")]))


@pytest.fixture(autouse=True)
def _mpiexec_found() -> None:
    if MPIEXEC is None:
        pytest.fail("mpiexec is neither next to the interpreter nor on PATH: pip install mpich")

HERE = Path(__file__).parent
REPO = HERE.parents[2]


def mpi_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["HPSEARCH_INTRA_OP_THREADS"] = "1"  # two ranks on two cores
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


def run_equivalence(tmp_path: Path, env: dict[str, str], *modes: str) -> dict:
    out = tmp_path / "equivalence.json"
    subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(HERE / "mpi_equivalence.py"),
                    str(out), *modes], check=True, env=env, timeout=240)
    return json.loads(out.read_text())


def test_two_ranks_on_half_batches_match_one_rank_on_whole_batches(tmp_path):
    result = run_equivalence(tmp_path, mpi_env(), "plain")
    assert result["ranks"] == 2
    assert result["mpi"]  # no MASTER_ADDR: rank 0's address went out over MPI
    plain = result["plain"]
    assert plain["grad_max"] > 1e-4  # the runs really trained
    assert plain["max_abs_diff"] < 1e-5
    # The ranks drew different initial weights; DDP's broadcast of rank 0's aligned them.
    assert plain["rank_diff"] == 0.0


@pytest.mark.slow
def test_sync_batch_norm_matches_one_rank_and_rendezvous_from_env(tmp_path):
    with socket.socket() as probe:  # a free port for rank 0's store
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**mpi_env(), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    result = run_equivalence(tmp_path, env, "sync_bn", "local_bn")
    assert result["ranks"] == 2 and not result["mpi"]  # MPI only launched the ranks
    # Statistics over both ranks' sites: parameters and running statistics as on one rank.
    assert result["sync_bn"]["grad_max"] > 1e-4
    assert result["sync_bn"]["max_abs_diff"] < 1e-5
    assert result["sync_bn"]["rank_diff"] == 0.0
    # Per-rank statistics normalise each half batch on its own: a different model.
    assert result["local_bn"]["max_abs_diff"] > 1e-3
