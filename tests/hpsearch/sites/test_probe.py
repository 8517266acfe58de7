"""`hpsearch sites probe` through real Parsl executors and real mpiexec: the masks hold.

`probe_and_check(name, overrides, directory)` works for any site this machine can run (the
local one, a local Slurm): it probes every worker slot and asserts what binding must hold.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from hpsearch import leftovers
from hpsearch.sites import load_site
from hpsearch.sites.probe import run_probes
from workflows.threads import parse_cpu_list

REPO = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")]


def _disjoint(masks: list[set[int]]) -> bool:
    return all(not (a & b) for i, a in enumerate(masks) for b in masks[i + 1:])


def probe_and_check(name: str, overrides: dict[str, Any] | None,
                    directory: Path) -> list[dict[str, Any]]:
    site = load_site(name, overrides=overrides)
    outcomes = run_probes(site, directory, timeout=300)
    assert len(outcomes) == site.slots
    assert len({o["worker"] for o in outcomes}) == len(outcomes), "one probe per worker"
    worker_masks = [parse_cpu_list(o["ranks"][0]["process_cpus"]) for o in outcomes]
    if site.settings["workers"]["cpu_affinity"] != "none":
        assert _disjoint(worker_masks), worker_masks
    hardware_threads = site.settings["node"]["hardware_threads"]
    for outcome, worker_mask in zip(outcomes, worker_masks, strict=True):
        ranks = outcome["ranks"]
        assert len(ranks) == site.settings["mpi"]["ranks_per_trial"]
        rank_masks = [parse_cpu_list(rank["cpus"]) for rank in ranks]
        assert _disjoint(rank_masks), f"ranks of one trial share cores: {rank_masks}"
        for rank, rank_mask in zip(ranks, rank_masks, strict=True):
            assert rank_mask and rank_mask <= worker_mask
            assert rank["torch_threads"] == site.intra_op_threads
            assert rank["env"]["OMP_NUM_THREADS"] == str(site.intra_op_threads)
            for thread in rank["threads"]:
                assert parse_cpu_list(thread["cpus"]) <= rank_mask, thread
            helpers = [parse_cpu_list(t["cpus"]) for t in rank["threads"]
                       if t["role"] == "intra-op"]
            assert len(helpers) == site.intra_op_threads - 1
            if rank["bound"]:
                assert _disjoint(helpers), f"intra-op threads share cores: {helpers}"
                assert all(len(h) <= hardware_threads for h in helpers)
    return outcomes


def _no_processes_left(directory: Path) -> None:
    mark = str(directory.resolve())
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            assert process.environ().get(leftovers.ENV_MARK) != mark, process
            assert mark not in " ".join(process.info["cmdline"] or []), process
        except (psutil.Error, OSError):
            continue


def test_one_worker_with_two_threads(tmp_path):
    outcomes = probe_and_check("local", {"workers": 1, "threads": 2}, tmp_path / "probe")
    (rank,) = outcomes[0]["ranks"]
    assert len(parse_cpu_list(rank["cpus"])) == 2
    _no_processes_left(tmp_path / "probe")


@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpiexec")
def test_two_ranks_of_one_trial(tmp_path):
    saved = os.environ.pop("PBS_NODEFILE", None)  # the local block writes its own node list
    try:
        outcomes = probe_and_check("local", {"ranks_per_trial": 2}, tmp_path / "probe")
    finally:
        if saved is not None:
            os.environ["PBS_NODEFILE"] = saved
    assert sorted(rank["rank"] for rank in outcomes[0]["ranks"]) == [0, 1]
    _no_processes_left(tmp_path / "probe")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "hpsearch.cli", "sites", "probe", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_cli_two_workers_json_with_their_accelerators(tmp_path):
    # Two fake GPUs, worker 0 pinned to CPU 1 and worker 1 to CPU 0: Parsl exports each
    # worker's accelerator, and each trial keeps the one paired with its CPU.
    done = _cli("local", "--set", "workers=2", "--set", "threads=1",
                "--set", 'node.accelerators=["0", "1"]', "--set", "node.accelerator_kind=cuda",
                "--set", "workers.cpu_affinity=list", "--set", 'workers.cpu_lists=["1", "0"]',
                "--format", "json", "--dir", str(tmp_path / "probe"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert all(report["checks"].values()), report["checks"]
    assert "CUDA_VISIBLE_DEVICES" in report["device_variable"]
    masks = [parse_cpu_list(w["ranks"][0]["cpus"]) for w in report["workers"]]
    assert sorted(map(sorted, masks)) == [[0], [1]]
    for worker, mask in zip(report["workers"], masks, strict=True):
        rank = worker["ranks"][0]
        assert rank["accelerators"]["CUDA_VISIBLE_DEVICES"] == ("0" if mask == {1} else "1")
        roles = {t["role"] for t in rank["threads"]}
        assert {"main", "inter-op", "loader"} <= roles
        assert all(parse_cpu_list(t["cpus"]) == mask for t in rank["threads"])
    _no_processes_left(tmp_path / "probe")


@pytest.mark.parametrize("args,message", [
    (("nosuch",), "unknown site 'nosuch'"),
    ((), "give a site NAME"),
    (("local", "--timeout", "0"), "--timeout must be a positive"),
    (("local", "--set", "workers=0"), "[site].workers must be a positive integer"),
    (("polaris",), "[scheduler].account is empty"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not list(tmp_path.iterdir())  # nothing created


@pytest.mark.slurm
def test_slurm_site_workers_hold_disjoint_masks(slurm, tmp_path):
    # Workers started by srun inside a real sbatch job: the same binding must hold there.
    outcomes = probe_and_check("slurm-local", None, tmp_path / "probe")
    assert len(outcomes) == len(os.sched_getaffinity(0))  # one worker per core
    _no_processes_left(tmp_path / "probe")
