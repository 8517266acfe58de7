"""Campaigns on the local Slurm cluster: objectives, campaign files, and what squeue shows."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from spine_helpers import campaign_text

from hpsearch.blocks import recorded
from workflows.placement import placements

JOBCOMP_LOG = Path("/var/log/slurm-local/jobcomp.log")  # scripts/slurm-local's JobCompLoc

# Written next to each campaign file; trials import it (the campaign's folder is on their
# PYTHONPATH) and run in their trial directory.
OBJECTIVES = '''
import json, os, pathlib, socket, time

HERE = pathlib.Path(__file__).parent


def sleepy(params):
    time.sleep(params["sleep"])
    return params["x"] ** 2


def held(params):
    """Runs while HOLD exists next to this file, then like sleepy."""
    while (HERE / "HOLD").exists():
        time.sleep(0.2)
    return sleepy(params)


def long_once(params):
    """The first trial to get here outlives its block's walltime once; its re-run is short."""
    first_attempt = not pathlib.Path("attempted").exists()
    pathlib.Path("attempted").touch()
    if first_attempt:
        try:
            os.close(os.open(HERE / "long-taken", os.O_CREAT | os.O_EXCL))
            time.sleep(600)
        except FileExistsError:
            pass
    return sleepy(params)


def ranks(params):
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    seen = comm.allgather({"rank": comm.rank, "procid": os.environ.get("SLURM_PROCID"),
                           "pid": os.getpid(), "host": socket.gethostname()})
    # Metrics are numbers or strings (the result reader refuses nested values): JSON text.
    return {"objective": float(comm.size), "size": comm.size, "ranks": json.dumps(seen)}
'''


def write_campaign(folder: Path, objective: str, trials: int, site: str = "",
                   sleep: tuple[float, float] = (2.0, 4.0), workers: int = 2) -> Path:
    """A campaign on slurm-local: x in [-1, 1] and a trial length `sleep` in seconds."""
    (folder / "objectives.py").write_text(OBJECTIVES)
    path = folder / "campaign.toml"
    path.write_text(campaign_text(f"""
name = "s"
seed = 5
n_init = 2
[objective]
entrypoint = "objectives:{objective}"
[search_space]
x = {{ type = "float", low = -1.0, high = 1.0 }}
sleep = {{ type = "float", low = {sleep[0]}, high = {sleep[1]} }}
[budget]
trials = {trials}
[site]
name = "slurm-local"
workers = {workers}
{site}
"""))
    return path


def queued() -> set[str]:
    """Ids of this user's jobs squeue still lists (any state, completing included)."""
    out = subprocess.run(["squeue", "--me", "--noheader", "--format=%i"], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    return set(out.split())


def ended_as(job_id: str) -> str | None:
    """The final state slurmctld logged for a job (JobCompType=jobcomp/filetxt)."""
    try:
        lines = JOBCOMP_LOG.read_text().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if fields.get("JobId") == job_id:
            return fields.get("JobState")
    return None


def job_ids(directory: Path) -> list[str]:
    return [job["job_id"] for job in recorded(directory)]


def attempts(directory: Path, number: int) -> list[dict]:
    return placements(directory / "trials" / str(number))


def params_file(directory: Path, number: int) -> dict:
    return json.loads((directory / "trials" / str(number) / "params.json").read_text())
