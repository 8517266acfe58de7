"""Campaigns whose blocks are real sbatch jobs and whose workers start with srun."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from optuna.trial import TrialState
from slurm_helpers import attempts, job_ids, params_file, queued, write_campaign
from spine_helpers import cli, load, wait_for

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "slurm.toml"


def test_the_slurm_example_completes_its_budget(slurm: str, tmp_path: Path) -> None:
    run = cli("launch", str(EXAMPLE), "--dir", str(tmp_path / "run"), timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    directory = tmp_path / "run"
    trials = load(directory).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 8  # [budget] trials
    jobs = job_ids(directory)
    assert jobs, "no block was recorded in blocks.json"
    for trial in trials:
        placed = attempts(directory, trial.number)
        assert len(placed) == 1 and placed[0]["job_id"] in jobs  # ran inside a recorded job
        assert params_file(directory, trial.number) == trial.params
    scripts = list((directory / "parsl").rglob("submit_scripts/parsl.trials.block-*"))
    script = next(p for p in scripts if p.suffix not in (".stdout", ".stderr")).read_text()
    assert f"#SBATCH --partition={slurm}" in script and "\nsrun --ntasks 1" in script
    wait_for(lambda: not queued() & set(jobs), 60, "the campaign's blocks to leave squeue")


def test_two_rank_trial_launched_by_srun(slurm: str, tmp_path: Path) -> None:
    # Parsl's MPIExecutor composes `srun --ntasks 2 ...` ($PARSL_MPI_PREFIX); the mpich
    # wheel's mpi4py gets its ranks from srun's PMI-2.
    campaign = write_campaign(tmp_path, "ranks", trials=2,
                              site='ranks_per_trial = 2\n"scheduler.exclusive" = true')
    run = cli("launch", str(campaign), "--dir", str(tmp_path / "run"), timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    trials = load(tmp_path / "run").trials
    assert [(t.state, t.value) for t in trials] == [(TrialState.COMPLETE, 2.0)] * 2
    for trial in trials:
        ranks = json.loads(trial.user_attrs["metrics"]["ranks"])
        assert sorted(r["rank"] for r in ranks) == [0, 1]
        assert sorted(r["procid"] for r in ranks) == ["0", "1"]  # both started by srun
        assert len({r["pid"] for r in ranks}) == 2
