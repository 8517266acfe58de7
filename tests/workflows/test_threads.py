"""Thread binding of a trial process: the pieces, then real processes (plain and mpiexec)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workflows import threads

REPO = Path(__file__).resolve().parents[2]


def test_cpu_lists_round_trip():
    assert threads.parse_cpu_list("0-2,5,7-8") == {0, 1, 2, 5, 7, 8}
    assert threads.format_cpu_list({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert threads.format_cpu_list([]) == ""


def test_cores_group_hardware_thread_siblings(tmp_path):
    # A node with 4 cores x 2 hardware threads numbered like Polaris: core c = CPUs c, c+4.
    for cpu in range(8):
        topology = tmp_path / f"cpu{cpu}" / "topology"
        topology.mkdir(parents=True)
        core = cpu % 4
        topology.joinpath("thread_siblings_list").write_text(f"{core},{core + 4}\n")
    assert threads.cores_of({2, 3, 6, 7}, tmp_path) == [[2, 6], [3, 7]]
    assert threads.cores_of({0, 1}, tmp_path / "missing") == [[0], [1]]


def test_ranks_sharing_a_mask_split_it_and_a_launcher_bound_rank_keeps_its_own():
    cores = [[c] for c in range(8)]
    assert threads.rank_cores(cores, 2, 0, 2) == [[0], [1], [2], [3]]
    assert threads.rank_cores(cores, 2, 1, 2) == [[4], [5], [6], [7]]
    # 8 cores cannot hold 4 ranks x 4 threads: the launcher bound this rank to them alone.
    assert threads.rank_cores(cores, 4, 3, 4) is cores
    assert threads.rank_cores(cores, 8, 0, 1) is cores


def test_places_one_per_core_or_per_hardware_thread():
    cores = [[0, 4], [1, 5]]
    assert threads.places(cores, 2) == "{0,4},{1,5}"
    assert threads.places(cores, 2, rotate=1) == "{1,5},{0,4}"
    # More threads than cores: first siblings of every core first, then the second ones.
    assert threads.places(cores, 4) == "{0},{1},{4},{5}"


def test_local_rank_from_the_launchers_variables():
    assert threads.local_rank_and_size({}) == (0, 1)
    assert threads.local_rank_and_size({"MPI_LOCALRANKID": "1", "MPI_LOCALNRANKS": "2"}) == (1, 2)
    assert threads.local_rank_and_size({"SLURM_LOCALID": "3",
                                        "SLURM_STEP_TASKS_PER_NODE": "4(x2)"}) == (3, 4)
    # No count given: the rank cannot know it shares its mask, so it does not split it.
    assert threads.local_rank_and_size({"PALS_LOCAL_RANKID": "2"}) == (2, 1)


def test_binding_is_what_the_site_asks():
    assert threads.binding_requested({"OMP_PROC_BIND": "spread"})
    assert not threads.binding_requested({"OMP_PROC_BIND": "false"})
    assert not threads.binding_requested({})


PAIRS = "24-31,56-63=0;16-23,48-55=1;8-15,40-47=2;0-7,32-39=3"


def test_accelerator_nearest_the_cores():
    assert threads.accelerator_for(set(range(0, 8)), PAIRS) == "3"
    assert threads.accelerator_for(set(range(24, 28)), PAIRS) == "0"
    assert threads.accelerator_for({100}, PAIRS) is None
    # Unbound ranks (every CPU) tie: local-rank order.
    everything = set(range(64))
    assert [threads.accelerator_for(everything, PAIRS, r) for r in range(4)] == [
        "0", "1", "2", "3"]


def test_rocm_keeps_only_rocr_visible_devices():
    # What Parsl's worker 5 has: both variables set to 5.
    environ = {"ROCR_VISIBLE_DEVICES": "5", "CUDA_VISIBLE_DEVICES": "5",
               threads.ACCELERATORS: "9-15=5;1-7=4", threads.ACCELERATOR_KIND: "rocm"}
    threads.select_accelerator(set(range(9, 16)), environ)
    assert environ["ROCR_VISIBLE_DEVICES"] == "5"
    assert "CUDA_VISIBLE_DEVICES" not in environ


def _probe(tmp_path: Path, env: dict[str, str], ranks: int = 1) -> list[dict]:
    out = tmp_path / "probe.json"
    launcher = ["mpiexec", "-n", str(ranks)] if ranks > 1 else []
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("OMP_", "GOMP_", "HPSEARCH_"))}
    full.update(env, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                              os.environ.get("PYTHONPATH")])))
    subprocess.run([*launcher, sys.executable, "-m", "workflows.probe", "--out", str(out)],
                   env=full, check=True, timeout=120)
    return json.loads(out.read_text())["ranks"]


def _cpus(text: str) -> set[int]:
    return threads.parse_cpu_list(text)


needs_two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")


@pytest.mark.slow
@needs_two_cpus
def test_bound_threads_keep_the_process_cores(tmp_path):
    """The failure this fixes: with OMP_PROC_BIND the main thread, and every thread it
    started later, ended on the first CPU. Now: helpers on their own cores, the rest on all."""
    (report,) = _probe(tmp_path, {"OMP_PROC_BIND": "true", threads.INTRA_OP: "2",
                                  threads.INTER_OP: "1"})
    process = _cpus(report["process_cpus"])
    assert len(process) >= 2 and report["torch_threads"] == 2
    by_role: dict[str, list[set[int]]] = {}
    for thread in report["threads"]:
        by_role.setdefault(thread["role"], []).append(_cpus(thread["cpus"]))
        assert _cpus(thread["cpus"]) <= process, thread
    assert by_role["main"] == [process]  # recorded mask: all of the worker's CPUs
    assert by_role["loader"] == [process]
    assert all(mask == process for mask in by_role.get("other", []))  # e.g. numpy's BLAS pool
    (helper,) = by_role["intra-op"]
    assert len(helper) == 1  # one core of its own
    assert report["env"]["OMP_PLACES"].count("{") == len(process)


@pytest.mark.slow
@needs_two_cpus
def test_unbound_threads_float_over_the_process_cores(tmp_path):
    (report,) = _probe(tmp_path, {threads.INTRA_OP: "2", "GOMP_CPU_AFFINITY": "0,1"})
    process = _cpus(report["process_cpus"])
    assert not report["bound"] and "GOMP_CPU_AFFINITY" not in report["env"]
    assert all(_cpus(t["cpus"]) == process for t in report["threads"])


@pytest.mark.slow
@needs_two_cpus
@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpiexec")
def test_two_ranks_of_one_trial_on_different_cores(tmp_path):
    reports = _probe(tmp_path, {"OMP_PROC_BIND": "true", threads.INTRA_OP: "1"}, ranks=2)
    assert sorted(r["rank"] for r in reports) == [0, 1]
    masks = [_cpus(r["cpus"]) for r in reports]
    assert masks[0] and masks[1] and not masks[0] & masks[1]
    for report, mask in zip(reports, masks, strict=True):
        assert all(_cpus(t["cpus"]) <= mask for t in report["threads"]), report["threads"]
