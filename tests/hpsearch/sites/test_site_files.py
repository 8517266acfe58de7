"""One suite every shipped site file passes: it renders to the Parsl Config its machine needs."""

from __future__ import annotations

import pytest
from parsl.executors import HighThroughputExecutor, MPIExecutor
from parsl.launchers import (
    AprunLauncher,
    MpiExecLauncher,
    SimpleLauncher,
    SingleNodeLauncher,
    SrunLauncher,
)
from parsl.providers import LocalProvider, PBSProProvider, SlurmProvider

from hpsearch.cli import main
from hpsearch.sites import Site, load_site, shipped_names
from hpsearch.sites.parsl_config import build_config
from hpsearch.sites.resolve import usable_cores
from hpsearch.sites.retry import retry_cost

TILES = [f"{g}.{t}" for g in range(6) for t in range(2)]
# name -> provider, launcher, workers per node, accelerators, environment the trial must get
EXPECTED = {
    "local": (LocalProvider, SingleNodeLauncher, usable_cores(), [],
              {"OMP_NUM_THREADS": "1", "KMP_BLOCKTIME": "0"}),
    "polaris": (PBSProProvider, MpiExecLauncher, 4, ["0", "1", "2", "3"],
                {"OMP_NUM_THREADS": "8", "HPSEARCH_INTER_OP_THREADS": "2"}),
    "aurora": (PBSProProvider, MpiExecLauncher, 12, TILES,
               {"OMP_NUM_THREADS": "8", "ZE_FLAT_DEVICE_HIERARCHY": "COMPOSITE"}),
    "perlmutter": (SlurmProvider, SrunLauncher, 4, ["0", "1", "2", "3"],
                   {"OMP_NUM_THREADS": "16"}),
    "perlmutter-cpu": (SlurmProvider, SrunLauncher, 8, [], {"OMP_NUM_THREADS": "16"}),
    "frontier": (SlurmProvider, SrunLauncher, 8, [str(i) for i in range(8)],
                 {"OMP_NUM_THREADS": "7"}),
    "theta-knl": (PBSProProvider, AprunLauncher, 4, [],
                  {"OMP_NUM_THREADS": "32", "HPSEARCH_INTRA_OP_THREADS": "32",
                   "HPSEARCH_INTER_OP_THREADS": "2", "KMP_BLOCKTIME": "0",
                   "KMP_AFFINITY": "granularity=fine,compact,1,0"}),
}


def test_every_shipped_site_is_covered():
    assert sorted(shipped_names()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_site_renders_to_its_parsl_config(name, tmp_path):
    provider, launcher, workers, accelerators, env = EXPECTED[name]
    site = load_site(name)
    config = build_config(site, tmp_path, for_display=True)
    (executor,) = config.executors
    assert isinstance(executor, HighThroughputExecutor) and executor.label == "trials"
    assert type(executor.provider) is provider
    assert type(executor.provider.launcher) is launcher
    assert executor.max_workers_per_node == workers == site.workers_per_node
    assert executor.available_accelerators == accelerators
    assert site.slots == workers * site.settings["scheduler"]["nodes_per_block"]
    assert config.run_dir == str(tmp_path)
    assert config.retries >= 1 and config.retry_handler.__wrapped__ is retry_cost
    assert executor.block_error_handler is not True  # never Parsl's one-strike default
    trial_env = site.trial_env()
    assert env.items() <= trial_env.items()
    if executor.cpu_affinity.startswith("list:"):
        assert len(executor.cpu_affinity.split(":")[1:]) == workers
    if name != "local":
        assert executor.encrypted
        assert 0 < executor.drain_period < 3600 * 24
        assert site.settings["mpi"]["launcher"] in ("mpiexec", "srun", "aprun")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_multi_node_trials_use_the_mpi_executor(name, tmp_path):
    site = load_site(name, overrides={"nodes": 2, "nodes_per_trial": 2})
    (executor,) = build_config(site, tmp_path, for_display=True).executors
    assert isinstance(executor, MPIExecutor) and executor.label == "mpi_trials"
    assert isinstance(executor.provider.launcher, SimpleLauncher)
    assert executor.mpi_launcher == site.settings["mpi"]["launcher"]
    assert site.slots == 1 and site.launch_prefix == "$PARSL_MPI_PREFIX"
    spec = site.resource_specification()
    assert spec["num_nodes"] == 2 and spec["num_ranks"] == 2 * spec["ranks_per_node"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_site_round_trips_through_its_dict(name):
    site = load_site(name)
    again = Site.from_dict(site.to_dict())
    assert again.settings == site.settings and again.slots == site.slots


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sites_show(name, capsys):
    assert main(["sites", "show", name]) == 0
    out = capsys.readouterr().out
    site = load_site(name)
    assert out.startswith(f"site {name}")
    for heading in ("== resolved settings ==", "== Parsl Config ==", "== batch script header"):
        assert heading in out
    assert f"max_workers_per_node={site.workers_per_node}" in out
    provider = site.settings["scheduler"]["provider"]
    if provider == "pbspro":
        assert "#PBS -l walltime=" in out and "#PBS -l select=1:ncpus=" in out
    elif provider == "slurm":
        assert "#SBATCH --nodes=1" in out and "#SBATCH --exclusive" in out
    else:
        assert "no batch script" in out
    for key, value in site.trial_env().items():
        assert f"{key}={value}\n" in out


def test_sites_list(capsys):
    assert main(["sites", "list"]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED:
        assert f"\n{name} " in out


def test_show_with_overrides(capsys):
    assert main(["sites", "show", "polaris", "--set", "nodes=4", "--set", "account=myproj",
                 "--set", 'queue="prod"']) == 0
    out = capsys.readouterr().out
    assert "#PBS -l select=4:ncpus=64:ngpus=4" in out
    assert "qsub -q prod -A myproj" in out
