"""Cosmic-tagging event metrics: efficiency, background rejection, neutrino purity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import event_metrics, metric_names, neutrino_counts, segmentation_metrics
from models.data import ORIGIN_CLASSES, SEMANTIC_CLASSES

BG, COSMIC, NU = range(3)


def test_neutrino_counts_per_event():
    label = np.array([NU, NU, COSMIC, BG, -1, COSMIC, NU, NU])
    pred = np.array([NU, COSMIC, NU, BG, NU, COSMIC, NU, BG])
    event = np.array([0, 0, 0, 0, 0, 3, 3, 3])  # the unlabelled pixel does not count
    counts = neutrino_counts(pred, label, event, ORIGIN_CLASSES)
    assert counts.tolist() == [[2, 2, 1], [2, 1, 1]]
    assert neutrino_counts(pred, label, event, SEMANTIC_CLASSES).shape == (0, 3)
    with pytest.raises(ValueError, match="same length"):
        neutrino_counts(pred, label[:-1], event, ORIGIN_CLASSES)


def test_event_metrics_at_the_threshold():
    counts = [[500, 150, 120],  # neutrino event, kept
              [300, 20, 20],  # neutrino event, lost
              [0, 0, 0],  # background only, rejected
              [0, 120, 0],  # background only, kept by mistake
              [0, 99, 0]]  # just under the threshold: rejected
    metrics = event_metrics(counts, threshold=100)
    assert metrics["neutrino_efficiency"] == pytest.approx(1 / 2)
    assert metrics["background_rejection"] == pytest.approx(2 / 3)
    assert metrics["neutrino_purity"] == pytest.approx(120 / 270)
    assert event_metrics(counts, threshold=10)["neutrino_efficiency"] == 1.0


def test_undefined_event_metrics_are_nan():
    only_neutrino = event_metrics([[10, 200, 5]], threshold=100)
    assert only_neutrino["neutrino_efficiency"] == 1.0
    assert math.isnan(only_neutrino["background_rejection"])
    nothing_kept = event_metrics([[10, 0, 0], [0, 0, 0]], threshold=100)
    assert math.isnan(nothing_kept["neutrino_purity"])
    assert nothing_kept["background_rejection"] == 1.0
    assert all(math.isnan(v) for v in event_metrics([]).values())


def test_segmentation_metrics_add_event_metrics_for_cosmic_tagging():
    confusion = np.diag([5, 3, 2])
    tagged = segmentation_metrics(confusion, [0.1], ORIGIN_CLASSES, [[150, 150, 150]])
    assert tagged["iou_cosmic"] == 1.0 and tagged["iou_neutrino"] == 1.0
    assert tagged["neutrino_efficiency"] == 1.0 and tagged["neutrino_purity"] == 1.0
    plain = segmentation_metrics(np.eye(5, dtype=np.int64), [0.1], SEMANTIC_CLASSES,
                                 [[150, 150, 150]])
    assert "neutrino_efficiency" not in plain
    names = metric_names("segmentation", ORIGIN_CLASSES)
    assert {"iou_cosmic", "iou_neutrino", "neutrino_efficiency", "background_rejection",
            "neutrino_purity", "icpf_mean"} <= set(names)
    assert "iou_michel" not in names
    assert "background_rejection" not in metric_names("segmentation", SEMANTIC_CLASSES)


def test_tag_error_is_one_minus_the_mean_tagged_iou():
    # rows: true background / cosmic / neutrino; columns: predicted
    confusion = np.array([[50, 0, 0], [0, 30, 10], [0, 0, 10]])
    metrics = segmentation_metrics(confusion, [0.1], ORIGIN_CLASSES)
    assert metrics["iou_cosmic"] == 0.75 and metrics["iou_neutrino"] == 0.5
    assert metrics["tag_error"] == pytest.approx(1 - (0.75 + 0.5) / 2)
    # no neutrino pixel true or predicted: the cosmic IoU alone
    alone = segmentation_metrics(np.diag([5, 4, 0]), [0.0], ORIGIN_CLASSES)
    assert alone["tag_error"] == 0.0
    assert "tag_error" in metric_names("segmentation", ORIGIN_CLASSES)
    assert "tag_error" not in metric_names("segmentation", SEMANTIC_CLASSES)


def test_default_objective_of_the_cosmic_task():
    from models import default_metric

    assert default_metric("segmentation", "origin") == "tag_error"
    assert default_metric("segmentation", "semantic") == "icpf_mean"
    assert default_metric("segmentation") == "icpf_mean"
    assert default_metric("classification") == "error_rate"


def test_detector_presets_named_for_the_service_match_the_generator():
    from models.data._wire_detector import DETECTORS
    from models.tasks import DETECTOR_PRESETS

    assert DETECTOR_PRESETS == tuple(DETECTORS)
