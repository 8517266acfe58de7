"""Sparse networks for LArTPC images, their hyperparameters, metrics and event data."""

from __future__ import annotations

from .metrics import (
    PARTICLE_CLASSES,
    SEMANTIC_CLASSES,
    accuracy,
    classification_metrics,
    confusion_matrix,
    event_metrics,
    icpf_per_event,
    icpf_summary,
    metric_names,
    neutrino_counts,
    per_class_accuracy,
    per_class_iou,
    segmentation_metrics,
)
from .registry import (
    DEFAULT_METRIC,
    MODEL_DEFAULTS,
    MODEL_TASKS,
    build_model,
    default_metric,
    resolve_hparams,
)

__all__ = [
    "DEFAULT_METRIC", "MODEL_DEFAULTS", "MODEL_TASKS", "PARTICLE_CLASSES", "SEMANTIC_CLASSES",
    "accuracy", "build_model", "classification_metrics", "confusion_matrix", "default_metric",
    "event_metrics",
    "icpf_per_event", "icpf_summary", "metric_names", "neutrino_counts", "per_class_accuracy",
    "per_class_iou", "resolve_hparams", "segmentation_metrics",
]
