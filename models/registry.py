"""``build_model``: the network a trial names, built from the architecture part of its
hyperparameters (the tables are in ``models.tasks``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .hparams import ARCHITECTURE_SPECS
from .tasks import DEFAULT_METRIC, MODEL_DEFAULTS, MODEL_TASKS, default_metric, resolve_hparams

__all__ = ["DEFAULT_METRIC", "MODEL_DEFAULTS", "MODEL_TASKS", "build_model", "default_metric",
           "resolve_hparams"]

if TYPE_CHECKING:
    from torch import nn


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
