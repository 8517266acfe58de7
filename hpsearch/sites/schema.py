"""What a site file may say: every table, key, type and default, in one place.

`validate(table, where)` turns the parsed TOML into a complete, checked mapping (defaults
filled in, "auto" still unresolved); a mistake is a one-line `UserError` that names the field,
e.g. ``site file polaris.toml: [workers].per_node must be a positive integer``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from hpsearch.errors import UserError
from hpsearch.wall_time import format_wall_time, parse_wall_time

PROVIDERS = ("local", "pbspro", "slurm")
LAUNCHERS = ("single_node", "simple", "mpiexec", "srun", "aprun")
MPI_LAUNCHERS = ("mpiexec", "srun", "aprun")
AFFINITIES = ("none", "block", "block-reverse", "alternating", "list")
ACCELERATOR_KINDS = ("none", "cuda", "rocm", "xpu")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CPU_LIST = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")

Check = Callable[[str, Any], Any]  # (field name, value) -> normalised value, or raise


def _fail(field: str, what: str, value: Any) -> UserError:
    return UserError(f"{field} must be {what}, got {value!r}")


def text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(field, "a string", value)
    return value


def boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(field, "true or false", value)
    return value


def positive(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(field, "a positive integer", value)
    return value


def non_negative(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(field, "an integer >= 0", value)
    return value


def positive_or_auto(field: str, value: Any) -> int | str:
    if value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(field, 'a positive integer or "auto"', value)
    return value


def seconds(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(field, "a positive number of seconds", value)
    return float(value)


def walltime(field: str, value: Any) -> str:
    """A scheduler duration, given back as "HH:MM:SS": the form Parsl's providers read."""
    if isinstance(value, datetime.time):  # TOML reads an unquoted 00:30:00 as a time of day
        raise UserError(f'{field} must be a quoted duration: "{value:%H:%M:%S}"')
    try:
        return format_wall_time(parse_wall_time(value))
    except ValueError:
        raise _fail(field, 'a duration "HH:MM:SS"', value) from None


def walltime_seconds(value: str) -> int:
    return parse_wall_time(value)


def one_of(choices: tuple[str, ...]) -> Check:
    def check(field: str, value: Any) -> str:
        if value not in choices:
            raise _fail(field, "one of " + ", ".join(f'"{c}"' for c in choices), value)
        return value
    return check


def accelerators(field: str, value: Any) -> list[str]:
    # A count names them "0", "1", ...; a list gives the names Parsl hands to each worker
    # (Aurora's tiles are "0.0", "0.1", ...).
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return [str(i) for i in range(value)]
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        if len(set(value)) != len(value):
            raise _fail(field, "a list of distinct accelerator names", value)
        return list(value)
    raise _fail(field, 'a count or a list of accelerator names like ["0", "1"]', value)


def cpu_lists(field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(
            isinstance(v, str) and _CPU_LIST.match(v.replace(" ", "")) for v in value):
        raise _fail(field, 'a list of CPU lists, one per worker, like ["0-7", "8-15"]', value)
    return [v.replace(" ", "") for v in value]


def environment(field: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _fail(field, "a table of NAME = \"value\"", value)
    out: dict[str, str] = {}
    for name, item in value.items():
        if not _ENV_NAME.match(name):
            raise UserError(f"{field}.{name} is not a valid environment variable name")
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise _fail(f"{field}.{name}", "a string or a number", item)
        out[name] = str(item)
    return out


# table -> key -> (check, default). A default of REQUIRED means the key must be given.
REQUIRED = object()

# One [[queues]] entry: what a queue (PBS queue, Slurm partition) or a Slurm QOS takes, as
# the facility documents it. Several entries of one name are its bins (node count -> time).
QUEUE_KEYS: dict[str, tuple[Check, Any]] = {
    "name": (text, REQUIRED),
    "qos": (boolean, False),  # true: matched against [scheduler].qos, not .queue
    "min_nodes": (positive, 1),
    "max_nodes": (non_negative, 0),  # 0: no limit
    "max_walltime": (text, ""),  # "HH:MM:SS"; "": no limit
}


def queues(field: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _fail(field, "an array of tables ([[queues]] name = ..., max_nodes = ...)", value)
    out = []
    for index, entry in enumerate(value):
        where = f"{field}[{index}]"
        for key in entry:
            if key not in QUEUE_KEYS:
                raise UserError(f"{where}.{key} is not a known key; allowed: "
                                + ", ".join(QUEUE_KEYS))
        checked = {}
        for key, (check, default) in QUEUE_KEYS.items():
            if key not in entry and default is REQUIRED:
                raise UserError(f"{where}.{key} is required")
            checked[key] = check(f"{where}.{key}", entry.get(key, default))
        if checked["max_walltime"]:
            walltime(f"{where}.max_walltime", checked["max_walltime"])
        out.append(checked)
    return out

SCHEMA: dict[str, dict[str, tuple[Check, Any]]] = {
    "site": {
        "name": (text, ""),
        "description": (text, ""),
    },
    # How nodes are obtained (Parsl provider). queue is the PBS queue or the Slurm partition.
    "scheduler": {
        "provider": (one_of(PROVIDERS), REQUIRED),
        "account": (text, ""),
        "account_required": (boolean, True),  # false where the scheduler keeps no accounts
        "queue": (text, ""),
        "qos": (text, ""),
        "constraint": (text, ""),
        "walltime": (walltime, "01:00:00"),
        "nodes_per_block": (positive, 1),
        "init_blocks": (non_negative, 1),
        "min_blocks": (non_negative, 0),
        "max_blocks": (positive, 1),
        "select_options": (text, ""),
        "scheduler_options": (text, ""),
        "exclusive": (boolean, True),
        "worker_init": (text, ""),
        "poll_period": (seconds, 60.0),  # how often Parsl asks the scheduler about blocks
    },
    # What one node offers.
    "node": {
        "cores": (positive_or_auto, REQUIRED),
        "hardware_threads": (positive, 1),
        "accelerators": (accelerators, 0),
        "accelerator_kind": (one_of(ACCELERATOR_KINDS), "none"),
    },
    # How the worker pools start on a block's nodes (Parsl launcher).
    "launcher": {
        "kind": (one_of(LAUNCHERS), "single_node"),
        "bind_cmd": (text, "--cpu-bind"),
        "overrides": (text, ""),
    },
    # Trials in flight per node and how Parsl pins each worker process.
    "workers": {
        "per_node": (positive_or_auto, "auto"),
        "cpu_affinity": (one_of(AFFINITIES), "none"),
        "cpu_lists": (cpu_lists, []),
    },
    # Thread pools of one trial (torch intra-op = OpenMP threads, torch inter-op).
    "threads": {
        "intra_op": (positive_or_auto, "auto"),
        "inter_op": (positive, 1),
    },
    # Exported, as written, into every trial process.
    "environment": {},
    # The queues the facility documents, checked against [scheduler] (see QUEUE_KEYS).
    "queues": {},
    # Multi-node / multi-rank trials, launched through Parsl's MPIExecutor.
    "mpi": {
        "nodes_per_trial": (positive, 1),
        "ranks_per_trial": (positive_or_auto, "auto"),
        "launcher": (one_of(MPI_LAUNCHERS), "mpiexec"),
        "launcher_options": (text, ""),
    },
    "executor": {
        "encrypted": (boolean, True),
        "address": (text, ""),  # where workers reach the driver; or look it up:
        "interface": (text, ""),  # network interface of the login node, e.g. "bond0"
        "drain_margin": (walltime, "00:10:00"),
        "heartbeat_period": (positive, 30),
        "heartbeat_threshold": (positive, 120),
        "strategy_period": (seconds, 5.0),
        "max_idletime": (seconds, 120.0),
        # Trials in flight may wait this long with no worker connected and no block queued
        # before the driver stops (executor_watch.py): pools killed, blocks that cannot start.
        "no_worker_timeout": (seconds, 600.0),
    },
    # Infrastructure failures (lost worker, lost node, walltime) retried with the same
    # parameters; a block is only declared broken after `block_error_window` failed in a row.
    "retry": {
        "infrastructure_retries": (non_negative, 2),
        "block_error_window": (non_negative, 3),
        "walltime_reruns": (non_negative, 3),  # free re-runs of a trial cut by a walltime
    },
}


def validate(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Check every table and key; return all of them with defaults filled in."""
    out: dict[str, dict[str, Any]] = {}
    for name in table:
        if name not in SCHEMA:
            raise UserError(f"[{name}] is not a site table; allowed: "
                            + ", ".join(f"[{t}]" for t in SCHEMA))
    for name, keys in SCHEMA.items():
        if name == "queues":
            out[name] = queues("[[queues]]", table.get(name, []))  # type: ignore[assignment]
            continue
        given = table.get(name, {})
        if not isinstance(given, dict):
            raise UserError(f"[{name}] must be a table")
        if name == "environment":
            out[name] = environment("[environment]", given)
            continue
        section: dict[str, Any] = {}
        for key in given:
            if key not in keys:
                raise UserError(f"[{name}].{key} is not a known key; allowed: "
                                + ", ".join(keys))
        for key, (check, default) in keys.items():
            field = f"[{name}].{key}"
            if key in given:
                section[key] = check(field, given[key])
            elif default is REQUIRED:
                raise UserError(f"{field} is required")
            else:
                section[key] = check(field, default)
        out[name] = section
    return out
