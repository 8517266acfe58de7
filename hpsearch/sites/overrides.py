"""A campaign's `[site]` table (or `--site` options) overriding parts of a site file.

Short names cover what users change per allocation (account, queue, nodes, walltime,
workers, ...); any other key is given as a sub-table, e.g. `[site.threads] intra_op = 4`, or
dotted, e.g. `"threads.intra_op" = 4`.
"""

from __future__ import annotations

import copy
from typing import Any

from hpsearch.errors import UserError
from hpsearch.sites.schema import SCHEMA, environment

SHORT_NAMES: dict[str, tuple[str, str]] = {
    "account": ("scheduler", "account"),
    "queue": ("scheduler", "queue"),
    "partition": ("scheduler", "queue"),
    "qos": ("scheduler", "qos"),
    "walltime": ("scheduler", "walltime"),
    "nodes": ("scheduler", "nodes_per_block"),
    "blocks": ("scheduler", "max_blocks"),
    "max_blocks": ("scheduler", "max_blocks"),
    "worker_init": ("scheduler", "worker_init"),
    "workers": ("workers", "per_node"),
    "threads": ("threads", "intra_op"),
    "inter_op_threads": ("threads", "inter_op"),
    "nodes_per_trial": ("mpi", "nodes_per_trial"),
    "ranks_per_trial": ("mpi", "ranks_per_trial"),
    "encrypted": ("executor", "encrypted"),
}


def apply_overrides(table: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Return a copy of the raw site table with the overrides applied (checked later)."""
    out = copy.deepcopy(table)
    for key, value in (overrides or {}).items():
        if key in SCHEMA and isinstance(value, dict):
            for name, item in value.items():
                _set(out, key, name, item, f"[site.{key}].{name}")
        elif key in SHORT_NAMES:
            section, name = SHORT_NAMES[key]
            _set(out, section, name, value, f"[site].{key}")
        elif "." in key:
            section, name = key.split(".", 1)
            _set(out, section, name, value, f'[site]."{key}"')
        else:
            raise UserError(
                f"[site].{key} is not a site override; use one of {', '.join(SHORT_NAMES)}, "
                "or a sub-table like [site.threads]")
    return out


def _set(table: dict[str, Any], section: str, name: str, value: Any, field: str) -> None:
    """Check the value under the name the user wrote, then put it in place."""
    if section not in SCHEMA:
        raise UserError(f"{field}: [{section}] is not a site table")
    if section == "environment":
        environment(field.rsplit(".", 1)[0], {name: value})
    elif name not in SCHEMA[section]:
        raise UserError(f"{field}: [{section}].{name} is not a site setting")
    else:
        check, _default = SCHEMA[section][name]
        check(field, value)
    table.setdefault(section, {})
    if not isinstance(table[section], dict):
        raise UserError(f"[{section}] must be a table")
    table[section][name] = value
