"""Detector presets: the default cube, and a surface wire detector shaped like SBND.

``sbnd-wire`` images are three wire planes of 1280 drift ticks (rows) by 2048 wires
(columns), 3 mm pixels, as in the CosmicTagger files. The argon seen is a box of 2048 x
2048 x 1280 voxels (z along the beam, y vertical, x the drift). Charge is in ADC-like
units: the deposited energy times a gain, plus incoherent noise of every channel, then a
5 ADC threshold; noise alone also crosses the threshold, on single pixels (incoherent)
and in bands over a group of neighbouring wires for a stretch of ticks (coherent noise,
shared by the wires of one readout board). Those near-threshold pixels are labelled
background (semantic: low energy). The numbers aim at a real SBND file's statistics:
about 0.9 % of a plane's pixels above threshold, about half of them noise, median 5.65
ADC, and neutrino ~9 % of the labelled pixels, with a cosmic-muon pile-up as at the
surface (a Poisson number per readout window) and neutrino vertices uniform in the
active volume.

A reduced plane size (``wire_preset("sbnd-wire", 512)``: 512 wires by 320 ticks) keeps the
3 mm pitch, the noise and the threshold and shrinks the box: ticks, readout boards, noise
bands and the deposit budget scale with the side, and the cosmic rate with it too, so the
cosmic and noise shares of a plane stay those of the full size (neutrino interactions keep
their size, so they hold a larger share of a smaller image). It is for training within a
short budget, not for comparing with a real file's statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ._detector import Detector
from .event import BACKGROUND, LOW_ENERGY, NUM_PLANES, Event


@dataclass(frozen=True)
class WireDetector:
    name: str
    rows: int  # drift ticks of one image
    cols: int  # wires of one image
    pitch_cm: float
    cosmics_mean: float  # cosmic muons per readout window (Poisson)
    vertex_margin: float  # neutrino vertices this share of each side away from its faces
    neutrino_energy_scale: float  # the generator's neutrino energies times this
    budget: int  # deposits kept per event
    adc_per_mev: float
    threshold_adc: float
    noise_adc: float  # incoherent noise per pixel (Gaussian sigma)
    diffusion: tuple[float, float]  # range of the charge share a pixel gives a neighbour tick
    lone_noise: float  # share of a plane's pixels above threshold on incoherent noise alone
    bands_mean: float  # coherent-noise bands per plane (Poisson)
    band_wires: int  # wires of one readout board
    band_ticks: tuple[int, int]  # range of a band's length in ticks
    band_fill: tuple[float, float]  # range of the share of a band's pixels above threshold

    @property
    def detector(self) -> Detector:
        return Detector("2d", self.cols, side_cm=self.cols * self.pitch_cm, budget=self.budget,
                        drift=self.rows)

    @property
    def image_shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)


SBND_WIRE = WireDetector(
    name="sbnd-wire", rows=1280, cols=2048, pitch_cm=0.3, cosmics_mean=8.0,
    vertex_margin=0.05, neutrino_energy_scale=3.0, budget=200_000, adc_per_mev=60.0,
    threshold_adc=5.0, noise_adc=1.1, diffusion=(0.01, 0.1), lone_noise=0.0024,
    bands_mean=3.5, band_wires=48, band_ticks=(80, 400), band_fill=(0.05, 0.25))

DETECTORS: dict[str, WireDetector | None] = {"cube": None, "sbnd-wire": SBND_WIRE}
REDUCTIONS = (1, 2, 4, 8)  # a reduced preset's wires: the full count over one of these


def wire_preset(name: str, size: int | None = None) -> WireDetector | None:
    """The preset ``name`` (None for the cube), reduced to ``size`` wires per plane when
    given; ValueError (one line) for an unknown name or a size the preset cannot take."""
    if name not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, not {name!r}")
    wire = DETECTORS[name]
    if wire is None or size is None or size == wire.cols:
        return wire
    sizes = [wire.cols // f for f in REDUCTIONS]
    if size not in sizes:
        raise ValueError(f"detector {name} takes a size of {', '.join(map(str, sizes))} wires "
                         f"per plane, not {size}")
    f = wire.cols // size
    return replace(wire, rows=wire.rows // f, cols=size, cosmics_mean=wire.cosmics_mean / f,
                   budget=wire.budget // f, band_wires=wire.band_wires // f,
                   band_ticks=(wire.band_ticks[0] // f, wire.band_ticks[1] // f))


def digitise(events: list[Event], wire: WireDetector, rng: np.random.Generator) -> list[Event]:
    """MeV pixels -> ADC with noise and threshold, plus noise-only pixels, per event."""
    return [_digitise_one(event, wire, rng) for event in events]


def _digitise_one(event: Event, wire: WireDetector, rng: np.random.Generator) -> Event:
    rows, cols = wire.image_shape
    plane, row, col = (event.coords[:, i].astype(np.int64) for i in range(3))
    keys = (plane * rows + row) * cols + col
    adc = event.values * wire.adc_per_mev
    semantic, origin = event.semantic, event.origin
    # diffusion: a small share of a pixel's charge reaches the ticks before and after it
    step = np.repeat([[-cols, cols]], keys.size, 0).ravel()
    source = np.repeat(np.arange(keys.size), 2)
    ok = (row[source] + step // cols >= 0) & (row[source] + step // cols < rows)
    halo, first = np.unique((keys[source] + step)[ok], return_index=True)
    fresh = ~np.isin(halo, keys, assume_unique=True)
    halo, parent = halo[fresh], source[np.flatnonzero(ok)[first[fresh]]]
    keys = np.concatenate([keys, halo])
    adc = np.concatenate([adc, adc[parent] * rng.uniform(*wire.diffusion, parent.size)])
    semantic = np.concatenate([semantic, semantic[parent]])
    origin = np.concatenate([origin, origin[parent]])
    adc += rng.normal(0.0, wire.noise_adc, keys.size)
    seen = adc >= wire.threshold_adc
    signal_keys, adc, semantic, origin = keys[seen], adc[seen], semantic[seen], origin[seen]
    noise_keys = _noise_keys(wire, rng)
    noise_keys = np.unique(noise_keys)
    noise_keys = noise_keys[~np.isin(noise_keys, signal_keys, assume_unique=True)]
    # a Gaussian's tail just above threshold t falls off like exp(-t x / sigma^2)
    noise_adc = wire.threshold_adc + rng.exponential(wire.noise_adc**2 / wire.threshold_adc,
                                                     noise_keys.size)
    keys = np.concatenate([signal_keys, noise_keys])
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    coords = np.stack([keys // (rows * cols), keys // cols % rows, keys % cols], 1)
    n = noise_keys.size
    values = np.concatenate([adc, noise_adc])[order].astype(np.float32)
    semantic = np.concatenate([semantic, np.full(n, LOW_ENERGY)])[order]
    origin = np.concatenate([origin, np.full(n, BACKGROUND)])[order]
    meta = {**event.meta, "detector": wire.name, "noise_pixels": int(n)}
    return Event(coords.astype(np.int32), values, semantic.astype(np.int64),
                 origin.astype(np.int64), event.particle, meta)


def _noise_keys(wire: WireDetector, rng: np.random.Generator) -> np.ndarray:
    """Flat (plane, row, col) keys of pixels that noise alone lifts above threshold."""
    rows, cols = wire.image_shape
    plane_pixels = rows * cols
    lone = rng.integers(0, NUM_PLANES * plane_pixels, rng.poisson(
        wire.lone_noise * NUM_PLANES * plane_pixels))
    parts = [lone]
    for plane in range(NUM_PLANES):
        for _ in range(rng.poisson(wire.bands_mean)):
            first_wire = rng.integers(0, cols // wire.band_wires) * wire.band_wires
            ticks = int(rng.integers(*wire.band_ticks))
            start = int(rng.integers(0, rows - ticks))
            fill = rng.uniform(*wire.band_fill)
            hits = rng.random((ticks, wire.band_wires)) < fill
            r, c = np.nonzero(hits)
            parts.append((plane * rows + start + r) * cols + first_wire + c)
    return np.concatenate(parts).astype(np.int64)
