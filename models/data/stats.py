"""Summary statistics of a data file (generated or larcv3), to set beside a real file's:
occupancy, charge quantiles and label shares (``python -m models.data --stats FILE``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .event import BACKGROUND, NEUTRINO, UNLABELLED

QUANTILES = (1, 10, 25, 50, 75, 90, 99)


def file_stats(dataset: Any, max_events: int | None = None) -> dict[str, Any]:
    """Statistics over the first ``max_events`` events (all when None)."""
    n = len(dataset) if max_events is None else min(len(dataset), max_events)
    events = [dataset[i] for i in range(n)]
    values = np.concatenate([e.values for e in events]).astype(np.float64)
    planes = int(getattr(dataset, "num_planes", 1)) if dataset.kind == "2d" else 1
    image = int(np.prod(dataset.spatial_shape)) * planes
    pixels = np.array([len(e) for e in events], np.float64)
    out: dict[str, Any] = {
        "events": n, "kind": dataset.kind, "planes": planes,
        "image_shape": list(dataset.spatial_shape),
        "pixels_per_event": float(pixels.mean()),
        "occupancy": float(pixels.mean() / image),
        "charge_quantiles": {q: float(v) for q, v in zip(
            QUANTILES, np.percentile(values, QUANTILES) if values.size else [np.nan] * 7,
            strict=True)},
        "log1p_charge_range": ([float(np.log1p(values.min())), float(np.log1p(values.max()))]
                               if values.size else [np.nan, np.nan]),
    }
    for labels, classes in getattr(dataset, "label_classes", {}).items():
        tags = np.concatenate([getattr(e, labels) for e in events])
        tags = tags[tags != UNLABELLED]
        counts = np.bincount(tags, minlength=len(classes))[:len(classes)]
        total = max(int(counts.sum()), 1)
        out[f"{labels}_shares"] = {name: counts[i] / total for i, name in enumerate(classes)}
        if labels == "origin" and len(classes) > NEUTRINO:
            tagged = max(int(counts.sum() - counts[BACKGROUND]), 1)
            out["neutrino_share_of_tagged"] = counts[NEUTRINO] / tagged
    return out


def format_stats(path: str, stats: dict[str, Any]) -> str:
    shape = " x ".join(str(s) for s in stats["image_shape"])
    quantiles = "  ".join(f"p{q} {v:.3g}" for q, v in stats["charge_quantiles"].items())
    low, high = stats["log1p_charge_range"]
    lines = [
        f"{path}: {stats['events']} events, {stats['planes']} plane(s) of {shape}",
        f"  active pixels per event  {stats['pixels_per_event']:.0f}",
        f"  occupancy                {100 * stats['occupancy']:.3f} % of the image",
        f"  charge quantiles         {quantiles}",
        f"  log1p(charge) range      {low:.2f} .. {high:.2f}",
    ]
    for key, shares in stats.items():
        if key.endswith("_shares"):
            text = "  ".join(f"{name} {100 * share:.1f} %" for name, share in shares.items())
            lines.append(f"  {key[:-7]} label shares{' ' * max(1, 11 - len(key[:-7]))}{text}"
                         "  (of all labelled active pixels)")
    if "neutrino_share_of_tagged" in stats:
        # a cosmic-tag product stores tagged pixels only: its "labelled" pixels are these
        lines.append(f"  neutrino share of tagged (cosmic + neutrino) pixels  "
                     f"{100 * stats['neutrino_share_of_tagged']:.1f} %")
    return "\n".join(lines)
