"""A resolved site as text for `hpsearch sites show`: settings (as TOML), derived numbers,
trial environment, the Parsl Config and the batch-script header."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from hpsearch.sites.site import Site


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def settings_toml(settings: dict[str, dict[str, Any]]) -> str:
    blocks = []
    for table, keys in settings.items():
        if table == "queues":  # an array of tables
            entries = cast(list[dict[str, Any]], keys)  # the schema keeps queues as a list
            blocks += ["[[queues]]\n" + "\n".join(f"{k} = {toml_value(v)}" for k, v in q.items())
                       for q in entries]
            continue
        lines = [f"[{table}]"]
        lines += [f"{key} = {toml_value(value)}" for key, value in keys.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


# The variable each accelerator kind's runtime reads. Parsl sets all three to worker i's
# accelerator; the trial keeps the one of its kind (workflows.threads).
DEVICE_VARS = {"cuda": "CUDA_VISIBLE_DEVICES", "rocm": "ROCR_VISIBLE_DEVICES",
               "xpu": "ZE_AFFINITY_MASK"}


def device_line(site: Site) -> str:
    """Which variable gives each worker its accelerator, and the values, worker by worker."""
    node = site.settings["node"]
    if not node["accelerators"]:
        return "none (no [node].accelerators)"
    var = DEVICE_VARS.get(node["accelerator_kind"], "CUDA_VISIBLE_DEVICES")
    names = node["accelerators"][:site.workers_per_node]
    lists = site.settings["workers"]["cpu_lists"] or [""] * len(names)
    if site.mpi:
        pairs = ", ".join(f"CPUs {cpus}: {var}={name}" for cpus, name in zip(
            lists, names, strict=False) if cpus)
        return (f"{var} per rank: each rank keeps the accelerator paired with the CPUs it "
                f"runs on ({pairs or 'no [workers].cpu_lists: local rank order'})")
    values = ", ".join(f"worker {i}{f' (CPUs {cpus})' if cpus else ''}: {var}={name}"
                       for i, (cpus, name) in enumerate(zip(lists, names, strict=False)))
    return f"{var}, set by Parsl per worker: {values}"


def derived(site: Site) -> str:
    sched = site.settings["scheduler"]
    lines = [
        f"executor label     {site.executor_label}",
        f"workers per node   {site.workers_per_node}",
        f"trials per block   {site.trials_per_block}",
        f"blocks at most     {sched['max_blocks']}",
        f"slots              {site.slots}  (trials in flight at most)",
        f"threads per trial  intra-op {site.intra_op_threads}, inter-op "
        f"{site.inter_op_threads}",
        f"accelerator        {device_line(site)}",
    ]
    if site.mpi:
        spec = site.resource_specification()
        lines.append(f"MPI per trial      {spec['num_nodes']} node(s), {spec['num_ranks']} ranks"
                     f" ({spec['ranks_per_node']} per node) via {site.settings['mpi']['launcher']}"
                     f"; command run as: {site.launch_prefix} python -m workflows.<entry> ...")
    return "\n".join(lines) + "\n"


def parsl_config_text(site: Site) -> str:
    from hpsearch.sites.parsl_config import build_config

    # The run directory is the campaign's parsl/ folder at launch; a placeholder here.
    with tempfile.TemporaryDirectory() as scratch:
        config = build_config(site, Path(scratch), for_display=True)
        text = repr(config).replace(scratch, "<campaign>/parsl")
    return text + "\n"


def render_site(site: Site) -> str:
    from hpsearch.sites.batch_header import batch_header

    env = "".join(f"{k}={v}\n" for k, v in site.trial_env().items())
    interface = site.settings["executor"]["interface"]
    notes = []
    if interface:
        notes.append(f"# address: of network interface {interface!r}, looked up at launch\n")
    if not site.settings["scheduler"]["account"] and \
            site.settings["scheduler"]["provider"] != "local":
        notes.append("# [scheduler].account is empty: required at launch (campaign [site] "
                     "account = ...)\n")
    parts = [
        f"site {site.name}" + (f"  ({site.source})" if site.source else "") + "\n",
        f"{site.settings['site']['description']}\n" if site.settings["site"]["description"]
        else "",
        "\n== resolved settings ==\n", settings_toml(site.settings),
        "\n== derived ==\n", derived(site),
        "\n== trial environment (set in each trial process) ==\n", env,
        "\n== Parsl Config ==\n", *notes, parsl_config_text(site),
        "\n== batch script header (not submitted) ==\n", batch_header(site),
    ]
    return "".join(parts)
