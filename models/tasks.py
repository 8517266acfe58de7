"""The networks a trial can name: their task, data shape, hyperparameter defaults and metric.

Plain tables, no torch: the search service reads them to validate a campaign file while the
networks themselves (`models.registry.build_model`) are built only inside a trial.
A model's hyperparameters are its architecture and its training recipe together, because a
search explores both at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .hparams import resolve

_SEGMENTER_TRAINING = {
    "optimizer": "adam", "lr": 0.003, "weight_decay": 0.0, "batch_size": 4, "momentum": 0.9,
    "beta1": 0.9, "beta2": 0.999, "warmup_steps": 20, "schedule": "cosine",
    "class_weights": "none",
}
_CLASSIFIER_TRAINING = {**_SEGMENTER_TRAINING, "batch_size": 16}
_ARCHITECTURE = {
    "depth": 5, "filters": 16, "reps": 1, "kernel_size": 3, "norm": "batch",
    "activation": "relu", "dropout": 0.0,
}

MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "uresnet2d": {**_ARCHITECTURE, **_SEGMENTER_TRAINING},
    "uresnet3d": {**_ARCHITECTURE, "depth": 4, **_SEGMENTER_TRAINING, "batch_size": 2},
    "resnet2d": {**_ARCHITECTURE, **_CLASSIFIER_TRAINING},
    "resnet3d": {**_ARCHITECTURE, "depth": 4, **_CLASSIFIER_TRAINING},
}

# What each name means to the trainer: task, data dimensionality, views per event.
MODEL_TASKS: dict[str, dict[str, Any]] = {
    "uresnet2d": {"task": "segmentation", "kind": "2d", "dim": 2, "views": 3},
    "uresnet3d": {"task": "segmentation", "kind": "3d", "dim": 3, "views": 1},
    "resnet2d": {"task": "classification", "kind": "2d", "dim": 2, "views": 3},
    "resnet3d": {"task": "classification", "kind": "3d", "dim": 3, "views": 1},
}

# The objective a trial reports unless --metric names another; both are minimised.
DEFAULT_METRIC = {"segmentation": "icpf_mean", "classification": "error_rate"}
# Cosmic tagging (origin labels: background / cosmic / neutrino): 1 - the mean of the cosmic
# and neutrino IoU, the two figures its benchmark sets targets on; minimised.
COSMIC_TAG_METRIC = "tag_error"

# The generator's detector presets (``models.data`` holds them); named here, free of h5py,
# for the service to check a campaign file with. "cube" takes any model, the others make
# 2D segmentation events.
DETECTOR_PRESETS = ("cube", "sbnd-wire")


def default_metric(task: str, labels: str | None = None) -> str:
    """The objective of a ``task`` model learning ``labels`` (None: the task's own)."""
    if task == "segmentation" and labels == "origin":
        return COSMIC_TAG_METRIC
    return DEFAULT_METRIC[task]


def resolve_hparams(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """All hyperparameters of ``name``: defaults overlaid with ``params``, each checked."""
    if name not in MODEL_DEFAULTS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_DEFAULTS)}")
    return resolve(MODEL_DEFAULTS[name], params, name)
