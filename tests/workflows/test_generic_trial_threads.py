"""Generic objectives (`entrypoint`, `command`) run with the site's thread settings and record
them, as training trials do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workflows import threads

REPO = Path(__file__).resolve().parents[2]

OBJECTIVES = '''
import os, sys, threading

def cpus_of_a_new_thread():
    seen = []
    thread = threading.Thread(target=lambda: seen.append(sorted(os.sched_getaffinity(0))))
    thread.start()
    thread.join()
    return seen[0]

def without_torch(params):
    return {"objective": 1.0, "torch_loaded": float("torch" in sys.modules)}
'''

TORCH_OBJECTIVE = '''
import os, threading
import torch
from objectives import cpus_of_a_new_thread

def with_torch(params):
    torch.ones(1 << 20).mul_(2).sum()
    return {"objective": 2.0, "new_thread_cpus": len(cpus_of_a_new_thread()),
            "main_cpus": len(os.sched_getaffinity(0)), "threads": torch.get_num_threads()}
'''

# What a Parsl worker with cpu_affinity and a binding site hands its trials.
SITE_ENV = {"OMP_PROC_BIND": "true", threads.INTRA_OP: "2", threads.INTER_OP: "1",
            "GOMP_CPU_AFFINITY": "0", "OMP_NUM_THREADS": "7"}


def _run(tmp_path: Path, module: str, extra: list[str]) -> dict:
    (tmp_path / "objectives.py").write_text(OBJECTIVES)
    (tmp_path / "torch_objective.py").write_text(TORCH_OBJECTIVE)
    (tmp_path / "params.json").write_text("{}")
    out = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "HPSEARCH_"))}
    env.update(SITE_ENV, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    subprocess.run([sys.executable, "-m", module, "--params", str(tmp_path / "params.json"),
                    "--out", str(out), *extra], cwd=tmp_path, env=env, check=True, timeout=120)
    return json.loads(out.read_text())


def _check_recorded(recorded: dict) -> None:
    assert recorded["bound"] is True
    assert recorded["env"]["OMP_NUM_THREADS"] == "2"  # the site's, not the worker's 7
    assert recorded["env"][threads.INTRA_OP] == "2"
    assert recorded["env"]["OMP_PLACES"].startswith("{")
    assert "GOMP_CPU_AFFINITY" not in recorded["env"]
    assert recorded["cpu_affinity"] == sorted(os.sched_getaffinity(0))


needs_two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")


@pytest.mark.slow
@needs_two_cpus
def test_entrypoint_with_torch_gets_pools_and_a_held_mask(tmp_path):
    result = _run(tmp_path, "workflows.entrypoint", ["--target", "torch_objective:with_torch"])
    assert result["status"] == "ok", result
    recorded = result["threads"]
    _check_recorded(recorded)
    assert recorded["torch_intra_op_threads"] == 2 and recorded["torch_inter_op_threads"] == 1
    every = len(os.sched_getaffinity(0))
    # A thread the objective starts keeps all the trial's CPUs, not libgomp's first place.
    assert result["metrics"]["new_thread_cpus"] == every
    assert result["metrics"]["main_cpus"] == every and result["metrics"]["threads"] == 2
    # Every thread alive at the end, counted by name and mask: all inside the trial's CPUs,
    # the intra-op helper on one core of its own.
    masks = {key.rsplit(" ", 1)[1]: n for key, n in recorded["thread_masks"].items()}
    assert all(threads.parse_cpu_list(m) <= set(os.sched_getaffinity(0)) for m in masks)
    assert any(len(threads.parse_cpu_list(m)) == 1 for m in masks), masks


def test_entrypoint_without_torch_does_not_load_it(tmp_path):
    result = _run(tmp_path, "workflows.entrypoint", ["--target", "objectives:without_torch"])
    assert result["status"] == "ok" and result["metrics"]["torch_loaded"] == 0.0
    _check_recorded(result["threads"])
    assert result["threads"]["torch_intra_op_threads"] is None


def test_command_child_inherits_the_settings(tmp_path):
    script = ("import json, os, sys; json.dump({'objective': 0.5, "
              "'omp': int(os.environ['OMP_NUM_THREADS']), "
              "'places': os.environ['OMP_PLACES'].count('{'), "
              "'gomp': float('GOMP_CPU_AFFINITY' in os.environ), "
              "'cpus': len(os.sched_getaffinity(0))}, open(sys.argv[1], 'w'))")
    result = _run(tmp_path, "workflows.command",
                  ["--trial-dir", str(tmp_path), "--", sys.executable, "-c", script, "{out}"])
    assert result["status"] == "ok", result
    _check_recorded(result["threads"])
    metrics = result["metrics"]
    assert metrics["omp"] == 2 and metrics["gomp"] == 0.0
    assert metrics["places"] == metrics["cpus"] == len(os.sched_getaffinity(0))


@pytest.mark.slow
@needs_two_cpus
def test_throughput_trial_records_the_workers_cpus_under_binding(tmp_path):
    # Before: libgomp's pinning narrowed the recorded mask, and a worker with 2 CPUs
    # reported cpus_per_worker = 1.
    (tmp_path / "params.json").write_text(json.dumps(
        {"intra_op_threads": 2, "inter_op_threads": 1, "batch_size": 2}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "HPSEARCH_"))}
    env.update(OMP_PROC_BIND="true", PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-m", "workflows.throughput", "--params",
                    str(tmp_path / "params.json"), "--out", str(tmp_path / "result.json"),
                    "--size", "32", "--steps", "1", "--warmup", "0"],
                   env=env, check=True, timeout=300)
    recorded = json.loads((tmp_path / "result.json").read_text())["threads"]
    assert recorded["cpu_affinity"] == sorted(os.sched_getaffinity(0))
    assert recorded["bound"] and recorded["torch_intra_op_threads"] == 2
