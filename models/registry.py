"""The networks a trial can name, their hyperparameter defaults, and ``build_model``.

A model's hyperparameters are its architecture and its training recipe together, because a
search explores both at once; ``build_model`` uses the architecture part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .hparams import ARCHITECTURE_SPECS, resolve

if TYPE_CHECKING:
    from torch import nn

_SEGMENTER_TRAINING = {
    "optimizer": "adam", "lr": 0.003, "weight_decay": 0.0, "batch_size": 4, "momentum": 0.9,
    "beta1": 0.9, "beta2": 0.999, "warmup_steps": 20, "schedule": "cosine",
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


def resolve_hparams(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """All hyperparameters of ``name``: defaults overlaid with ``params``, each checked."""
    if name not in MODEL_DEFAULTS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_DEFAULTS)}")
    return resolve(MODEL_DEFAULTS[name], params, name)


def build_model(name: str, hparams: Mapping[str, Any], num_classes: int = 5) -> nn.Module:
    """The network ``name`` with ``hparams`` (missing ones take ``MODEL_DEFAULTS[name]``) and
    a head of ``num_classes`` scores (the classes of the file's labels)."""
    from .resnet import ResNet
    from .uresnet import UResNet

    resolved = resolve_hparams(name, hparams)
    architecture = {key: resolved[key] for key in ARCHITECTURE_SPECS}
    shape = MODEL_TASKS[name]
    if shape["task"] == "segmentation":
        return UResNet(shape["dim"], num_classes=num_classes, **architecture)
    return ResNet(shape["dim"], views=shape["views"], num_classes=num_classes, **architecture)
