"""Seeded synthetic LArTPC events: ``generate_event`` and its batched form.

Segmentation events are a neutrino interaction overlaid with 1-3 cosmic muons and
radiological background; classification events hold one particle. Everything is stepped
through a cube of liquid argon in two vectorised passes (primaries, then secondaries
born on them), cut to the occupancy budget, then voxelised (3D) or projected onto three
wire planes (2D). A batch of events shares every numpy call, which is what makes the
generator fast; the same ``rng`` state and count always give the same events.
``detector="sbnd-wire"`` simulates a surface wire detector instead of the cube (see
``_wire_detector``): larger non-square planes, ADC-like charge, noise and a threshold.
"""

from __future__ import annotations

import numpy as np

from ._aggregate import aggregate
from ._blips import blip_energies
from ._cosmics import add_cosmics
from ._deposits import MAX_RANK, ORIGINS, Deposits
from ._detector import DEFAULT_SIZE, Detector
from ._neutrino import add_neutrino_interactions
from ._projection import plane_keys, unravel
from ._scene import Scene
from ._secondaries import add_secondaries
from ._showers import add_fragments, plan_showers
from ._single_particle import add_single_particles
from ._track_list import TrackList
from ._walker import walk
from ._wire_detector import digitise, wire_preset
from .event import BACKGROUND, KINDS, LOW_ENERGY, NEUTRINO, NUM_PLANES, TASKS, Event

BACKGROUND_RANK = MAX_RANK - 1  # ranks: 0 the interaction, then cosmics, then background
RADIOLOGICAL_PER_SIDE = 12.0 / 512.0  # blips per event per voxel of cube side


def generate_event(
    kind: str, rng: np.random.Generator, size: int | None = None, task: str = "segmentation",
    detector: str = "cube",
) -> Event:
    return generate_events(kind, rng, 1, size=size, task=task, detector=detector)[0]


def generate_events(
    kind: str, rng: np.random.Generator, count: int, size: int | None = None,
    task: str = "segmentation", detector: str = "cube", neutrino_fraction: float = 1.0,
) -> list[Event]:
    """``count`` events generated together from one rng stream; with ``neutrino_fraction``
    below 1, segmentation events lack the neutrino interaction at random (background-only
    events: cosmics and noise, what a cosmic tagger must reject)."""
    if not 0.0 <= neutrino_fraction <= 1.0:
        raise ValueError(f"neutrino_fraction must be in [0, 1], not {neutrino_fraction}")
    wire = wire_preset(detector, size)
    if wire is not None:
        if kind != "2d" or task != "segmentation":
            raise ValueError(f"detector {detector} makes 2d segmentation events of "
                             f"{wire.rows} x {wire.cols} pixels; drop --kind/--task")
        size = wire.cols
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    size = DEFAULT_SIZE if size is None else int(size)
    if size < 16:
        raise ValueError(f"size must be at least 16 voxels, not {size}")
    if count < 1:
        return []
    det = Detector(kind, size) if wire is None else wire.detector
    scene = Scene(det, rng, count)
    if task == "segmentation":
        if wire is None:
            add_neutrino_interactions(scene)
        else:
            add_neutrino_interactions(scene, wire.vertex_margin, wire.neutrino_energy_scale)
        cosmics = (1 + np.minimum(rng.poisson(0.7, count), 2) if wire is None
                   else rng.poisson(wire.cosmics_mean, count))
        add_cosmics(scene, cosmics)
        scene.info["cosmics"] = cosmics
        particle = np.full(count, -1)
    else:
        particle = add_single_particles(scene)
    ev = np.repeat(np.arange(count), rng.poisson(RADIOLOGICAL_PER_SIDE * size, count))
    scene.add_blips(rng.uniform(0, size, (ev.size, 3)), blip_energies(rng, ev.size, 0.3),
                    LOW_ENERGY, BACKGROUND, BACKGROUND_RANK, ev)

    plan = plan_showers(scene)
    primaries = scene.tracks.freeze()
    first_pass = walk(primaries, rng, det.pitch_cm)
    secondary = TrackList()
    add_secondaries(scene, first_pass, primaries, secondary)
    if plan is not None:
        add_fragments(plan, first_pass, primaries, secondary, rng, det.pitch_cm)
    second_pass = walk(secondary.freeze(), rng, det.pitch_cm)

    deposits = Deposits.concat([first_pass.deposits, second_pass.deposits, *scene.deposits])
    if task == "segmentation" and neutrino_fraction < 1.0:
        # drawn only when asked for, so the default events stay the same bit for bit
        neutrino = rng.random(count) < neutrino_fraction
        scene.info["neutrino"] = neutrino
        deposits = deposits.select((deposits.label % ORIGINS != NEUTRINO)
                                   | neutrino[deposits.event])
    inside = _inside(deposits, det.extent)
    deposits = deposits.select(_within_budget(deposits, inside, det.point_budget, count))
    events = _to_events(deposits, det, count, particle, task, scene.info)
    return events if wire is None else digitise(events, wire, rng)


def _inside(deposits: Deposits, extent: np.ndarray) -> np.ndarray:
    p = deposits.points
    return ((p >= 0.0) & (p < extent)).all(axis=1) & (deposits.charge > 0)


def _within_budget(deposits: Deposits, inside: np.ndarray, budget: int, count: int) -> np.ndarray:
    """Keep deposits in priority order (the neutrino interaction or single particle, then
    each cosmic muon with its secondaries, then radiological background), dropping whole
    groups once an event's budget is spent. Each deposit fills at most one voxel (one
    pixel per plane), so this bounds occupancy. Only deposits ``inside`` the cube count."""
    slot = np.where(inside, deposits.slot, count * MAX_RANK)
    per_rank = np.bincount(slot, minlength=count * MAX_RANK + 1)[:-1].reshape(count, MAX_RANK)
    keep = np.cumsum(per_rank, axis=1) <= budget
    mask = np.append(keep.reshape(-1), False)[slot]
    overflow = ~keep[:, 0]
    if overflow.any():
        # even the interaction alone overflows: keep its first deposits only
        event = deposits.event
        top = np.flatnonzero(inside & (deposits.slot % MAX_RANK == 0) & overflow[event])
        order = top[np.argsort(event[top], kind="stable")]
        ev = event[order]
        first = np.searchsorted(ev, ev, side="left")
        mask[order[np.arange(order.size) - first < budget]] = True
    return mask


def _to_events(deposits: Deposits, det: Detector, count: int, particle: np.ndarray,
               task: str, info: dict[str, np.ndarray]) -> list[Event]:
    size = det.size
    event = deposits.event
    label = deposits.label
    if det.kind == "3d":
        v = deposits.points.astype(np.int64)
        span = size**3
        keys = ((event * size + v[:, 0]) * size + v[:, 1]) * size + v[:, 2]
        charge = deposits.charge
    else:
        span = NUM_PLANES * size * size
        keys = np.tile(event * span, NUM_PLANES) + plane_keys(deposits.points, size)
        label = np.tile(label, NUM_PLANES)
        charge = np.tile(deposits.charge, NUM_PLANES)
    keys, values, label = aggregate(keys, charge, label)
    bounds = np.searchsorted(keys, np.arange(count + 1) * span)
    coords = unravel(keys % span, size, 3)
    values = values.astype(np.float32)
    semantic, origin = label // ORIGINS, label % ORIGINS
    events = []
    for i in range(count):
        lo, hi = bounds[i], bounds[i + 1]
        meta = {"kind": det.kind, "task": task, "size": size}
        for name, column in info.items():
            value = column[i]
            meta[name] = value.tolist() if isinstance(value, np.ndarray) else value.item()
        events.append(Event(coords[lo:hi], values[lo:hi], semantic[lo:hi], origin[lo:hi],
                            int(particle[i]), meta))
    return events
