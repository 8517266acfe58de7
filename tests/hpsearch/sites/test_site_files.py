"""One suite every shipped site file passes: it renders to the Parsl Config its machine needs."""

from __future__ import annotations

import sys

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
from hpsearch.errors import UserError
from hpsearch.sites import Site, load_site, shipped_names
from hpsearch.sites.parsl_config import build_config
from hpsearch.sites.resolve import usable_cores
from hpsearch.sites.retry import RetryPolicy

TILES = [str(i) for i in range(12)]  # Aurora's FLAT hierarchy: one device per tile
# name -> provider, launcher, workers per node, accelerators, environment the trial must get
EXPECTED = {
    "local": (LocalProvider, SingleNodeLauncher, usable_cores(), [],
              {"OMP_NUM_THREADS": "1", "KMP_BLOCKTIME": "0"}),
    "polaris": (PBSProProvider, MpiExecLauncher, 4, ["3", "2", "1", "0"],
                {"OMP_NUM_THREADS": "8", "HPSEARCH_INTER_OP_THREADS": "2",
                 "HPSEARCH_ACCELERATORS": "0-7,32-39=3;8-15,40-47=2;16-23,48-55=1;24-31,56-63=0"}),
    "aurora": (PBSProProvider, MpiExecLauncher, 12, TILES,
               {"OMP_NUM_THREADS": "8", "ZE_FLAT_DEVICE_HIERARCHY": "FLAT"}),
    "perlmutter": (SlurmProvider, SrunLauncher, 4, ["3", "2", "1", "0"],
                   {"OMP_NUM_THREADS": "16"}),
    "perlmutter-cpu": (SlurmProvider, SrunLauncher, 8, [], {"OMP_NUM_THREADS": "16"}),
    "frontier": (SlurmProvider, SrunLauncher, 8, ["4", "5", "2", "3", "6", "7", "0", "1"],
                 {"OMP_NUM_THREADS": "7", "CUDA_VISIBLE_DEVICES": "0"}),
    "theta-knl": (PBSProProvider, AprunLauncher, 4, [],
                  {"OMP_NUM_THREADS": "32", "HPSEARCH_INTRA_OP_THREADS": "32",
                   "HPSEARCH_INTER_OP_THREADS": "2", "OMP_WAIT_POLICY": "passive",
                   "OMP_PROC_BIND": "close"}),
    "slurm-local": (SlurmProvider, SrunLauncher, usable_cores(), [], {"OMP_NUM_THREADS": "1"}),
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
    assert isinstance(executor.provider, provider)
    assert type(executor.provider.launcher) is launcher
    assert executor.max_workers_per_node == workers == site.workers_per_node
    assert executor.available_accelerators == accelerators
    assert site.slots == workers * site.settings["scheduler"]["nodes_per_block"]
    assert config.run_dir == str(tmp_path)
    assert config.retries >= 1 and isinstance(config.retry_handler.__wrapped__, RetryPolicy)
    assert executor.block_error_handler is not True  # never Parsl's one-strike default
    trial_env = site.trial_env()
    assert env.items() <= trial_env.items()
    if executor.cpu_affinity.startswith("list:"):
        assert len(executor.cpu_affinity.split(":")[1:]) == workers
    if name not in ("local", "slurm-local"):  # the two that live on this machine
        assert executor.encrypted
    if name != "local":
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
        assert "#SBATCH --nodes=1" in out
        assert ("#SBATCH --exclusive" in out) == site.settings["scheduler"]["exclusive"]
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
    assert main(["sites", "show", "polaris", "--set", "nodes=10", "--set", "account=myproj",
                 "--set", 'queue="prod"', "--set", "walltime=03:00:00"]) == 0
    out = capsys.readouterr().out
    assert "#PBS -l select=10:ncpus=64:ngpus=4" in out and "#PBS -l walltime=03:00:00" in out
    assert "qsub -q prod -A myproj" in out


# ---- values the facilities document (cited in each site file) ---------------------------
def _cpus(cpu_list: str) -> set[int]:
    out: set[int] = set()
    for part in cpu_list.split(","):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return out


def test_frontier_matches_the_olcf_guide(tmp_path):
    site = load_site("frontier")
    reserved = set(range(0, 64, 8))  # low-noise mode: first core of each L3 region
    lists = [_cpus(c) for c in site.settings["workers"]["cpu_lists"]]
    assert all(c <= set(range(1, 64)) - reserved for c in lists)  # no threads 64-127
    assert len(set().union(*lists)) == 56 and sum(map(len, lists)) == 56  # disjoint
    # each worker's 7 cores are the L3 region of its GCD (GCD 0 <-> cores 49-55)
    assert dict(zip(site.accelerators, map(min, lists), strict=True))["0"] == 49
    overrides = site.settings["launcher"]["overrides"]
    assert "--cpus-per-task=56" in overrides  # the pool's step holds every listed CPU
    assert site.trial_env()["CUDA_VISIBLE_DEVICES"] == "0"  # Parsl issue 3858
    assert site.settings["scheduler"]["queue"] == "batch"
    with pytest.raises(UserError, match="'debug' is a qos on this site"):
        load_site("frontier", overrides={"queue": "debug"})
    assert load_site("frontier", overrides={"qos": "debug"}).settings["scheduler"]["qos"]
    worker_init = build_config(load_site("frontier", overrides={"account": "a"}), tmp_path,
                               for_display=True).executors[0].provider.worker_init
    assert "module load PrgEnv-gnu rocm" in worker_init and "MIOPEN_USER_DB_PATH" in worker_init
    assert sys.prefix in worker_init  # the environment that holds hpsearch and Parsl


@pytest.mark.parametrize("name", ["polaris", "perlmutter"])
def test_gpu_nearest_the_cores_for_each_rank(name):
    # Polaris documents gpu = 3 - local_rank; Perlmutter's GPU 0 sits by cores 48-63.
    site = load_site(name)
    assert site.accelerators == ["3", "2", "1", "0"]  # in the order of the workers' cores
    first = _cpus(site.settings["workers"]["cpu_lists"][0])
    assert 0 in first  # worker 0 (GPU 3) has the first cores


def test_aurora_matches_the_alcf_guide():
    site = load_site("aurora")
    assert site.settings["executor"]["interface"] == "hsn0"
    assert site.trial_env()["ZE_FLAT_DEVICE_HIERARCHY"] == "FLAT"
    assert site.accelerators == [str(i) for i in range(12)]
    used = set().union(*(_cpus(c) for c in site.settings["workers"]["cpu_lists"]))
    assert not used & {0, 52, 104, 156}  # reserved for the system


@pytest.mark.parametrize(("name", "overrides", "message"), [
    ("polaris", {"queue": "prod", "nodes": 4}, "'prod' takes 10-496 nodes"),
    ("polaris", {"queue": "debug", "nodes": 3}, "'debug' takes 1-2 nodes"),
    ("aurora", {"queue": "debug-scaling", "nodes": 40}, "'debug-scaling' takes 2-31 nodes"),
    ("aurora", {"queue": "capacity"}, "'capacity' is not one this site lists"),
    ("perlmutter", {"qos": "debug", "walltime": "01:00:00"}, "up to 00:30:00"),
    ("frontier", {"nodes": 100, "walltime": "08:00:00"}, "92-183 nodes, up to 06:00:00"),
])
def test_queue_limits_are_checked(name, overrides, message):
    with pytest.raises(UserError, match=message):
        load_site(name, overrides=overrides)


def test_documented_queues_accept_their_range():
    assert load_site("polaris", overrides={"queue": "prod", "nodes": 10}).slots == 40
    assert load_site("polaris", overrides={"queue": "debug-scaling", "nodes": 10}).slots == 40
    assert load_site("aurora", overrides={"queue": "prod", "nodes": 600,
                                          "walltime": "12:00:00"}).slots == 7200


@pytest.mark.parametrize("name", ["polaris", "aurora", "perlmutter", "frontier"])
def test_worker_init_activates_the_environment(name):
    worker_init = load_site(name).settings["scheduler"]["worker_init"]
    assert "{hpsearch_env}" in worker_init
    if name in ("polaris", "aurora"):
        assert "export TMPDIR=/tmp" in worker_init  # ALCF: AF_UNIX path too long


def test_theta_is_a_retired_profile():
    site = load_site("theta-knl")
    assert "Retired" in site.settings["site"]["description"]
    assert site.settings["scheduler"]["queue"] != "debug-cache-quad"  # a Cobalt queue
    assert not [k for k in site.trial_env() if k.startswith("KMP_")]  # libgomp ignores them


def test_set_reads_a_walltime_as_text(capsys):
    assert main(["sites", "show", "slurm-local", "--set", "walltime=00:05:00"]) == 0
    assert "#SBATCH --time=5" in capsys.readouterr().out
