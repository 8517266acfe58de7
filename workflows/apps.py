"""Parsl apps that run one trial command in a fresh process on a worker.

The app is deliberately thin: it starts the command with the site's environment, sends
stdout and stderr to `trial_dir/trial.log`, and returns what the driver needs through the
future — `{"returncode", "result" (a `TrialResult`, or None without a result file),
"log_tail", "hostname", "worker"}`. It never opens the study database.
"""

from __future__ import annotations

from typing import Any

from parsl import python_app

from workflows.trial_io import EXECUTOR_LABEL, MPI_EXECUTOR_LABEL

LOG_TAIL_LINES = 30


def run_trial_command(command: list[str], trial_dir: str, env: dict[str, str],
                      result_path: str) -> dict[str, Any]:
    """Run `command` in `trial_dir`; the body runs on the worker, so it imports its own needs."""
    import ctypes
    import os
    import signal
    import socket
    import subprocess
    from collections import deque
    from pathlib import Path

    from workflows.launcher_identity import without_launcher_identity
    from workflows.trial_io import TrialTerminated, read_result

    def die_with_worker() -> None:
        # If the worker is killed (walltime, Ctrl-C, driver lost), the trial must not
        # live on as an orphan holding cores: ask the kernel to kill it with its parent.
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass

    os.umask(0o077)  # the trial's files are private on any node, whatever the user's umask
    directory = Path(trial_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    from workflows.placement import record_placement

    record_placement(directory)  # read back if this attempt is lost with its block
    full_env = without_launcher_identity(os.environ)  # the pool's rank is not the trial's
    full_env.update(env)
    log_path = directory / "trial.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=directory, env=full_env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=die_with_worker)
        returncode = process.wait()
    if returncode in (-signal.SIGTERM, -signal.SIGHUP):
        raise TrialTerminated(f"the trial process was ended by "
                              f"{signal.Signals(-returncode).name} on host {socket.gethostname()}")
    result = read_result(Path(result_path))
    with open(log_path, errors="replace") as text:
        tail = "".join(deque(text, maxlen=LOG_TAIL_LINES))
    hostname = socket.gethostname()
    rank = os.environ.get("PARSL_WORKER_RANK", "0")
    pool = os.environ.get("PARSL_WORKER_POOL_ID", "")
    return {
        "returncode": returncode,
        "result": result,
        "log_tail": tail,
        "hostname": hostname,
        "worker": f"{hostname}/{pool}/{rank}" if pool else f"{hostname}/{rank}",
    }


# The executor label comes from the site's Parsl config; see hpsearch.sites.
trial_app = python_app(run_trial_command, executors=[EXECUTOR_LABEL])


# ---- multi-rank trials ---------------------------------------------------------------------

def run_mpi_trial_command(command: list[str], trial_dir: str, env: dict[str, str],
                          result_path: str, *,
                          parsl_resource_specification: dict[str, Any]) -> dict[str, Any]:
    """Run `command` under the MPI launcher Parsl's MPIExecutor composed for this task.

    The executor sets $PARSL_MPI_PREFIX (e.g. `mpiexec -n 8 -ppn 4 -hosts a,b`) in the
    worker; only a shell expands it, so the command goes through `sh -c`.
    The resource specification (num_nodes, ranks_per_node, ...) is read by Parsl itself.
    """
    import os
    import shlex

    if not os.environ.get("PARSL_MPI_PREFIX"):
        raise RuntimeError("PARSL_MPI_PREFIX is not set: multi-rank trials must run on the "
                           f"'{MPI_EXECUTOR_LABEL}' executor with a resource specification")
    shell_command = "exec $PARSL_MPI_PREFIX " + shlex.join(command)
    return run_trial_command(["/bin/sh", "-c", shell_command], trial_dir, env, result_path)


mpi_trial_app = python_app(run_mpi_trial_command, executors=[MPI_EXECUTOR_LABEL])
