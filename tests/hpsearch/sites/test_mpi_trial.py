"""A 2-rank trial through Parsl's MPIExecutor on this machine, with mpiexec from mpich."""

from __future__ import annotations

import json
import os
import shutil
import sys

import parsl
import pytest

from hpsearch.driver import interpreter_bin_on_path
from hpsearch.errors import UserError
from hpsearch.sites import load_site
from hpsearch.sites.parsl_config import build_config
from workflows.apps import mpi_trial_app

pytestmark = [pytest.mark.mpi, pytest.mark.slow]

RANKS = """
import json, os, socket, sys
from mpi4py import MPI
comm = MPI.COMM_WORLD
seen = comm.gather({"rank": comm.rank, "pid": os.getpid(),
                    "omp": os.environ.get("OMP_NUM_THREADS"),
                    "blocktime": os.environ.get("KMP_BLOCKTIME")}, root=0)
if comm.rank == 0:
    # metrics are numbers or strings (the result protocol): the ranks' reports as JSON text
    json.dump({"status": "ok", "objective": 0.0,
               "metrics": {"size": comm.size, "seen": json.dumps(seen)}}, open(sys.argv[1], "w"))
"""


@pytest.fixture(scope="module")
def mpi_site(tmp_path_factory):
    interpreter_bin_on_path()  # as the driver does: mpich's mpiexec sits next to python
    if shutil.which("mpiexec") is None:
        pytest.fail("mpiexec is neither next to the interpreter nor on PATH: "
                    "pip install mpich (the [test] extra does)")
    # A batch job's node list, as PBS would give it: this machine, twice.
    nodefile = tmp_path_factory.mktemp("nodes") / "nodefile"
    nodefile.write_text("localhost\nlocalhost\n")
    saved = os.environ.get("PBS_NODEFILE")
    os.environ["PBS_NODEFILE"] = str(nodefile)
    site = load_site("local", overrides={"nodes": 2, "ranks_per_trial": 2})
    try:
        with parsl.load(build_config(site, tmp_path_factory.mktemp("parsl"))):
            yield site
    finally:
        if saved is None:
            os.environ.pop("PBS_NODEFILE", None)
        else:
            os.environ["PBS_NODEFILE"] = saved


def test_two_rank_trial(mpi_site, tmp_path):
    assert mpi_site.mpi and mpi_site.executor_label == "mpi_trials"
    result = tmp_path / "result.json"
    command = [sys.executable, "-c", RANKS, str(result)]
    future = mpi_trial_app(command, str(tmp_path), mpi_site.trial_env(), str(result),
                           parsl_resource_specification=mpi_site.resource_specification())
    outcome = future.result(timeout=180)
    assert outcome["returncode"] == 0, outcome["log_tail"]
    got = outcome["result"].metrics
    assert got["size"] == 2
    seen = json.loads(got["seen"])
    assert sorted(r["rank"] for r in seen) == [0, 1]
    assert len({r["pid"] for r in seen}) == 2
    assert all(r["omp"] == "1" and r["blocktime"] == "0" for r in seen)


def test_a_trial_larger_than_a_block_is_refused_before_submission(mpi_site):
    with pytest.raises(UserError, match="asks for 3 nodes but a block holds 2"):
        mpi_site.resource_specification(nodes=3, ranks=3)
