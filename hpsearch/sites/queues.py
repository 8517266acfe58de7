"""A block checked against the queues its site documents, before anything is submitted.

A site file lists what each queue takes (`[[queues]]`: name, node range, longest walltime;
several entries of one name are bins, e.g. Frontier's walltime by node count). The queue a
block goes to is `[scheduler].qos` when the site lists QOS entries and one is set (Slurm
sites where the QOS selects, e.g. Perlmutter's debug/regular), otherwise `[scheduler].queue`.
A name the site does not list, or a block no entry of that name takes, is one line naming
what would fit. A site without `[[queues]]` is not checked.
"""

from __future__ import annotations

from typing import Any

from hpsearch.errors import UserError
from hpsearch.sites.schema import walltime_seconds


def _describe(entry: dict[str, Any]) -> str:
    if entry["max_nodes"]:
        nodes = f"{entry['min_nodes']}-{entry['max_nodes']}"
    else:
        nodes = f">= {entry['min_nodes']}" if entry["min_nodes"] > 1 else "any number of"
    time = f", up to {entry['max_walltime']}" if entry["max_walltime"] else ""
    return f"{nodes} nodes{time}"


def _takes(entry: dict[str, Any], nodes: int, seconds: int) -> bool:
    if nodes < entry["min_nodes"] or (entry["max_nodes"] and nodes > entry["max_nodes"]):
        return False
    return not entry["max_walltime"] or seconds <= walltime_seconds(entry["max_walltime"])


def check_queue(settings: dict[str, Any]) -> None:
    listed = settings["queues"]
    sched = settings["scheduler"]
    by_qos = bool(sched["qos"]) and any(q["qos"] for q in listed)
    key, name = ("qos", sched["qos"]) if by_qos else ("queue", sched["queue"])
    entries = [q for q in listed if q["qos"] == by_qos]
    if not entries or not name:
        return
    matching = [q for q in entries if q["name"] == name]
    if not matching:
        known = sorted({q["name"] for q in entries})
        other = "qos" if key == "queue" else "queue"
        if any(q["name"] == name for q in listed):  # e.g. Frontier's debug is a QOS
            raise UserError(f"[scheduler].{key} {name!r} is a {other} on this site: set "
                            f"{other} = {name!r} instead")
        raise UserError(f"[scheduler].{key} {name!r} is not one this site lists; use one of "
                        f"{', '.join(known)} (or add it to [[queues]] in your site file)")
    nodes, walltime = sched["nodes_per_block"], sched["walltime"]
    if not any(_takes(q, nodes, walltime_seconds(walltime)) for q in matching):
        fits = sorted({q["name"] for q in entries
                       if _takes(q, nodes, walltime_seconds(walltime))})
        hint = f"; {', '.join(fits)} would" if fits else ""
        raise UserError(
            f"[scheduler].{key} {name!r} takes {' or '.join(map(_describe, matching))}, but a "
            f"block asks for {nodes} nodes for {walltime}: change nodes or walltime{hint}")
