from __future__ import annotations

import json
import os
import shutil
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
    return env


def test_two_ranks_on_half_batches_match_one_rank_on_whole_batches(tmp_path):
    out = tmp_path / "equivalence.json"
    subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(HERE / "mpi_equivalence.py"),
                    str(out)], check=True, env=mpi_env(), timeout=240)
    result = json.loads(out.read_text())
    assert result["ranks"] == 2
    assert result["grad_max"] > 1e-4  # the runs really trained
    assert result["max_abs_diff"] < 1e-5
