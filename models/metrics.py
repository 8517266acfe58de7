"""Metrics of the two tasks, computed on integer predictions and labels.

Segmentation metrics count active (non-zero) pixels only: a sparse network never predicts
the empty background, so counting it would make every score near-perfect. ICPF, the
incorrectly labelled pixel fraction, is taken per event (one number per event, then its mean
and 90th percentile over events) because a few badly segmented events matter more to an
analysis than the pixel-weighted average shows.

Cosmic tagging (labels background / cosmic / neutrino) is also judged per event, as an
analysis uses it: an event is kept as a neutrino candidate when the network calls at least
NEUTRINO_PIXEL_THRESHOLD of its pixels (all planes together) neutrino. Neutrino-event
efficiency is the share of events with true neutrino pixels that are kept; background-only
rejection the share of events without any that are not; neutrino purity the share of the
pixels called neutrino in kept events that are neutrino. ``tag_error``, 1 - the mean of the
cosmic and neutrino IoU (of those defined), is the task's one number to minimise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEMANTIC_CLASSES = ("shower", "track", "michel", "delta", "low_energy")
PARTICLE_CLASSES = ("electron", "gamma", "muon", "pion", "proton")
NEUTRINO = "neutrino"  # the class whose presence makes an event a neutrino event
COSMIC = "cosmic"
NEUTRINO_PIXEL_THRESHOLD = 100
EVENT_METRICS = ("neutrino_efficiency", "background_rejection", "neutrino_purity")


def _as_int_array(values: object) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor; metrics stay torch-free otherwise
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.int64).ravel()


def confusion_matrix(pred: object, label: object, num_classes: int) -> np.ndarray:
    """Counts [true class, predicted class]; rows sum to the number of each true label."""
    pred, label = _as_int_array(pred), _as_int_array(label)
    if pred.shape != label.shape:
        raise ValueError(f"pred and label differ in length: {pred.size} != {label.size}")
    keep = (label >= 0) & (label < num_classes)  # negative labels mark "no label"
    flat = label[keep] * num_classes + pred[keep]
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def accuracy(confusion: np.ndarray) -> float:
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else float("nan")


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each true class; NaN for a class absent from the labels."""
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)


def per_class_iou(confusion: np.ndarray) -> np.ndarray:
    """Intersection over union of each class; NaN where the class is neither true nor predicted."""
    hits = np.diag(confusion).astype(np.float64)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, hits / np.maximum(union, 1), np.nan)


def icpf_per_event(pred: object, label: object, event: object) -> np.ndarray:
    """Fraction of each event's active pixels whose predicted class is wrong.

    ``event`` gives the event index of every pixel; unlabelled pixels (label < 0) are left
    out, and events without labelled pixels are skipped.
    """
    pred, label, event = _as_int_array(pred), _as_int_array(label), _as_int_array(event)
    if not (pred.shape == label.shape == event.shape):
        raise ValueError("pred, label and event must have the same length")
    keep = label >= 0
    pred, label, event = pred[keep], label[keep], event[keep]
    if event.size == 0:
        return np.zeros(0)
    _, slot = np.unique(event, return_inverse=True)
    pixels = np.bincount(slot)
    wrong = np.bincount(slot, weights=(pred != label).astype(np.float64), minlength=pixels.size)
    return wrong / pixels


def icpf_summary(per_event: Sequence[float] | np.ndarray) -> dict[str, float]:
    values = np.asarray(per_event, dtype=np.float64)
    if values.size == 0:
        return {"icpf_mean": float("nan"), "icpf_p90": float("nan")}
    return {"icpf_mean": float(values.mean()), "icpf_p90": float(np.percentile(values, 90))}


def neutrino_counts(pred: object, label: object, event: object,
                    classes: Sequence[str]) -> np.ndarray:
    """Per event [true neutrino pixels, pixels called neutrino, both], over labelled pixels;
    rows for the distinct ``event`` values in increasing order; [0, 3] when ``classes`` has
    no neutrino class."""
    if NEUTRINO not in classes:
        return np.zeros((0, 3), np.int64)
    nu = list(classes).index(NEUTRINO)
    called, true, events = _as_int_array(pred), _as_int_array(label), _as_int_array(event)
    if not (called.shape == true.shape == events.shape):
        raise ValueError("pred, label and event must have the same length")
    keep = true >= 0
    is_called, is_nu = called[keep] == nu, true[keep] == nu
    _, slot = np.unique(events[keep], return_inverse=True)
    size = int(slot.max()) + 1 if slot.size else 0
    return np.stack([np.bincount(slot, is_nu, size), np.bincount(slot, is_called, size),
                     np.bincount(slot, is_called & is_nu, size)], 1).astype(np.int64)


def event_metrics(counts: Sequence[Sequence[int]] | np.ndarray,
                  threshold: int = NEUTRINO_PIXEL_THRESHOLD) -> dict[str, float]:
    """Neutrino-event efficiency, background-only rejection and neutrino pixel purity of
    per-event ``neutrino_counts``; NaN where no event defines one."""
    counts = np.asarray(counts, np.int64).reshape(-1, 3)
    true_nu, called, both = counts.T
    kept = called >= threshold
    has_nu = true_nu > 0

    def share(part: np.ndarray, whole: np.ndarray) -> float:
        return float(part.sum() / whole.sum()) if whole.sum() else float("nan")

    return {"neutrino_efficiency": share(kept & has_nu, has_nu),
            "background_rejection": share(~kept & ~has_nu, ~has_nu),
            "neutrino_purity": share(both * kept, called * kept)}


def segmentation_metrics(confusion: np.ndarray, icpf_values: Sequence[float] | np.ndarray,
                         classes: Sequence[str] = SEMANTIC_CLASSES,
                         event_counts: Sequence[Sequence[int]] | np.ndarray | None = None,
                         ) -> dict[str, float]:
    """Flat name -> float: accuracy, per-class accuracy and IoU, mean IoU, ICPF mean and p90;
    with per-event ``neutrino_counts`` of a class set holding neutrino, the event metrics."""
    iou = per_class_iou(confusion)
    recall = per_class_accuracy(confusion)
    metrics = {"accuracy": accuracy(confusion)}
    metrics["error_rate"] = 1.0 - metrics["accuracy"]
    metrics["mean_iou"] = float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")
    metrics.update(icpf_summary(icpf_values))
    for name, value in zip(classes, iou, strict=True):
        metrics[f"iou_{name}"] = float(value)
    for name, value in zip(classes, recall, strict=True):
        metrics[f"accuracy_{name}"] = float(value)
    if event_counts is not None and NEUTRINO in classes:
        metrics.update(event_metrics(event_counts))
    if COSMIC in classes and NEUTRINO in classes:
        tagged = [metrics[f"iou_{name}"] for name in (COSMIC, NEUTRINO)]
        metrics["tag_error"] = (1.0 - float(np.nanmean(tagged)) if np.isfinite(tagged).any()
                                else float("nan"))
    return metrics


def classification_metrics(confusion: np.ndarray,
                           classes: Sequence[str] = PARTICLE_CLASSES) -> dict[str, float]:
    """Flat name -> float: accuracy, error rate, mean per-class accuracy, per-class accuracy."""
    recall = per_class_accuracy(confusion)
    metrics = {"accuracy": accuracy(confusion)}
    metrics["error_rate"] = 1.0 - metrics["accuracy"]
    metrics["mean_class_accuracy"] = (
        float(np.nanmean(recall)) if np.isfinite(recall).any() else float("nan"))
    for name, value in zip(classes, recall, strict=True):
        metrics[f"accuracy_{name}"] = float(value)
    return metrics


def metric_names(task: str, classes: Sequence[str]) -> list[str]:
    """Names of the metrics a trial of ``task`` reports for labels with ``classes``."""
    confusion = np.eye(len(classes), dtype=np.int64)
    names = (segmentation_metrics(confusion, [0.0], classes, [[1, 1, 1]])
             if task == "segmentation" else classification_metrics(confusion, classes))
    return sorted(names)
