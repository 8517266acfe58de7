"""Each worker and each rank of every shipped GPU site sees exactly one device, the one
nearest its cores, computed from the site file with fake device lists.

The environment of a trial is built as on the node: Parsl's per-worker variables (worker i
gets `[node].accelerators[i]` in CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES and
ZE_AFFINITY_MASK alike), then the site's trial environment, then the trial's own choice
(`workflows.threads.select_accelerator`, as `apply()` runs it). What the runtime then
exposes is modelled per kind below; which cores sit next to which device comes from the
facilities' documentation, not from the site files under test.
"""

from __future__ import annotations

import pytest

from hpsearch.sites import load_site
from hpsearch.sites.catalog import shipped_names
from workflows import threads


def _cpus(first: int, count: int, sibling_offset: int) -> set[int]:
    """`count` cores from `first` and their second hardware threads."""
    return set(range(first, first + count)) | set(
        range(first + sibling_offset, first + sibling_offset + count))


# Physical device -> the CPUs nearest it.
# Polaris (ALCF "Running jobs", GPU affinity): GPU 0 by cores 24-31, ..., GPU 3 by 0-7
# (the documented `gpu = 3 - local_rank` under depth binding); 32 cores, threads +32.
POLARIS = {str(g): _cpus(8 * (3 - g), 8, 32) for g in range(4)}
# Perlmutter (NERSC GPU node): GPU 0 by NUMA domain 3 (cores 48-63), ..., GPU 3 by 0-15.
PERLMUTTER = {str(g): _cpus(16 * (3 - g), 16, 64) for g in range(4)}
# Frontier (OLCF user guide node diagram): GCD g by L3 region r = cores 8r..8r+7.
FRONTIER_L3 = {0: 6, 1: 7, 2: 2, 3: 3, 4: 0, 5: 1, 6: 4, 7: 5}
FRONTIER = {str(g): _cpus(8 * r, 8, 64) for g, r in FRONTIER_L3.items()}
# Aurora (ALCF): 6 GPUs x 2 tiles; GPUs 0-2 on socket 0 (cores 0-51), 3-5 on socket 1
# (cores 52-103); second hardware threads +104.
AURORA_CARD = {c: _cpus(52 * (c // 3), 52, 104) for c in range(6)}
NEAREST_CPUS = {"polaris": POLARIS, "perlmutter": PERLMUTTER, "frontier": FRONTIER}


def visible(kind: str, env: dict[str, str]) -> list[str]:
    """The devices the runtime exposes, as physical names ("2"; Aurora: "card.tile" or
    "card" for a whole card), in the order it numbers them."""
    if kind == "xpu":
        return _visible_xpu(env)
    count = 8 if kind == "rocm" else 4
    devices = [str(i) for i in range(count)]
    if kind == "rocm" and "ROCR_VISIBLE_DEVICES" in env:
        devices = _select(devices, env["ROCR_VISIBLE_DEVICES"])
        # HIP and CUDA_VISIBLE_DEVICES index into what ROCR left visible.
    selector = env.get("HIP_VISIBLE_DEVICES", env.get("CUDA_VISIBLE_DEVICES"))
    return devices if selector is None else _select(devices, selector)


def _select(devices: list[str], selector: str) -> list[str]:
    chosen = []
    for entry in selector.split(","):
        if not entry.strip().isdigit() or int(entry) >= len(devices):
            break  # CUDA and HIP stop at the first invalid entry
        chosen.append(devices[int(entry)])
    return chosen


def _visible_xpu(env: dict[str, str]) -> list[str]:
    flat = env.get("ZE_FLAT_DEVICE_HIERARCHY", "FLAT").upper() == "FLAT"
    # FLAT: every tile is a device, numbered card * 2 + tile; COMPOSITE: every card is.
    roots = [f"{c}.{t}" for c in range(6) for t in range(2)] if flat else [
        str(c) for c in range(6)]
    mask = env.get("ZE_AFFINITY_MASK")
    if mask is None:
        return roots
    chosen = []
    for entry in mask.split(","):
        root, _, sub = entry.partition(".")
        if not root.isdigit() or int(root) >= len(roots):
            continue
        if not sub:
            chosen.append(roots[int(root)])
        elif not flat and sub in ("0", "1"):
            chosen.append(f"{root}.{sub}")  # one tile of a card
        # FLAT devices are tiles already: "c.t" names nothing there.
    return chosen


def nearest_cpus(site_name: str, device: str) -> set[int]:
    if site_name == "aurora":
        return AURORA_CARD[int(device.split(".")[0])]
    return NEAREST_CPUS[site_name][device]


GPU_SITES = [name for name in shipped_names()
             if load_site(name).settings["node"]["accelerators"]]


def test_every_gpu_site_has_topology_data():
    assert GPU_SITES, "no shipped site has accelerators"
    for name in GPU_SITES:
        assert name in (*NEAREST_CPUS, "aurora"), f"add {name}'s device/core map to this test"


def _parsl_worker_env(accelerator: str) -> dict[str, str]:
    # What Parsl's worker pool exports for worker i (process_worker_pool, accelerators).
    return {"CUDA_VISIBLE_DEVICES": accelerator, "ROCR_VISIBLE_DEVICES": accelerator,
            "ZE_AFFINITY_MASK": accelerator}


@pytest.mark.parametrize("name", GPU_SITES)
def test_each_worker_sees_one_device_next_to_its_cores(name):
    site = load_site(name)
    node, workers = site.settings["node"], site.settings["workers"]
    assert workers["cpu_affinity"] == "list", "a GPU site pins each worker next to its GPU"
    seen = []
    for i, cpu_list in enumerate(workers["cpu_lists"]):
        cpus = threads.parse_cpu_list(cpu_list)
        env = _parsl_worker_env(node["accelerators"][i])
        env.update(site.trial_env())
        threads.select_accelerator(cpus, env)
        devices = visible(node["accelerator_kind"], env)
        assert len(devices) == 1, f"worker {i} sees {devices or 'no device'} ({env})"
        assert cpus <= nearest_cpus(name, devices[0]), (
            f"worker {i} on CPUs {cpu_list} sees device {devices[0]}, which is not next to them")
        seen.append(devices[0])
    assert len(set(seen)) == len(seen), f"workers share devices: {seen}"


@pytest.mark.parametrize("name", GPU_SITES)
def test_each_rank_of_a_node_wide_trial_sees_one_device_next_to_its_cores(name):
    # A trial with one rank per accelerator on a node, its ranks bound by the MPI launcher
    # in core order (depth / core binding, or Aurora's explicit list): rank r runs on the
    # r-th worker-sized block of CPUs, counted from CPU 0.
    site = load_site(name, overrides={"ranks_per_trial": len(load_site(name).settings[
        "node"]["accelerators"])})
    assert site.mpi
    kind = site.settings["node"]["accelerator_kind"]
    blocks = sorted(site.settings["workers"]["cpu_lists"],
                    key=lambda text: min(threads.parse_cpu_list(text)))
    size = len(blocks)
    seen = []
    for rank, block in enumerate(blocks):
        cpus = threads.parse_cpu_list(block)
        env = site.trial_env()  # the MPI executor sets no per-worker device variable
        env.update({"PMI_RANK": str(rank), "MPI_LOCALRANKID": str(rank),
                    "MPI_LOCALNRANKS": str(size)})
        threads.select_accelerator(cpus, env)
        devices = visible(kind, env)
        # The trial then takes device local_rank % count of what it sees.
        assert len(devices) == 1, f"rank {rank} sees {devices or 'no device'}"
        assert cpus <= nearest_cpus(name, devices[0]), (
            f"rank {rank} on CPUs {block} sees device {devices[0]}, not next to them")
        seen.append(devices[0])
    assert len(set(seen)) == size, f"ranks share devices: {seen}"
    if name == "polaris":
        assert seen == ["3", "2", "1", "0"]  # ALCF's documented gpu = 3 - local_rank


@pytest.mark.parametrize("name", GPU_SITES)
def test_sites_show_names_the_device_variable_per_worker(name):
    from hpsearch.sites.render import DEVICE_VARS, render_site

    site = load_site(name)
    var = DEVICE_VARS[site.settings["node"]["accelerator_kind"]]
    text = render_site(site)
    for i, (cpus, accelerator) in enumerate(zip(site.settings["workers"]["cpu_lists"],
                                                site.settings["node"]["accelerators"],
                                                strict=False)):
        assert f"worker {i} (CPUs {cpus}): {var}={accelerator}" in text
