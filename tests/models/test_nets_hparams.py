from __future__ import annotations

import pytest

from models import MODEL_DEFAULTS, resolve_hparams


def test_defaults_resolve_unchanged():
    for name, defaults in MODEL_DEFAULTS.items():
        assert resolve_hparams(name, {}) == defaults


def test_integers_arrive_as_floats_from_json():
    assert resolve_hparams("uresnet2d", {"filters": 8.0})["filters"] == 8


@pytest.mark.parametrize("params, words", [
    ({"filterz": 8}, "unknown hyperparameter 'filterz'"),
    ({"filters": 8.5}, "filters must be an integer"),
    ({"kernel_size": 4}, "kernel_size must be odd"),
    ({"norm": "layer"}, "norm must be one of batch, none"),
    ({"lr": 0.0}, "lr must be in (0, 10]"),
    ({"dropout": 1.0}, "dropout must be in [0, 1)"),
    ({"batch_size": True}, "batch_size must be an integer"),
    ({"optimizer": "lamb"}, "optimizer must be one of adam, adamw, sgd"),
    ({"class_weights": "balanced"}, "class_weights must be one of none, sqrt, inverse"),
])
def test_bad_values_are_one_line_errors(params, words):
    with pytest.raises(ValueError) as info:
        resolve_hparams("uresnet2d", params)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model"):
        resolve_hparams("vgg", {})
