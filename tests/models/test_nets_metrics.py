from __future__ import annotations

import math

import numpy as np
import pytest

from models.metrics import (
    classification_metrics,
    confusion_matrix,
    icpf_per_event,
    icpf_summary,
    per_class_accuracy,
    per_class_iou,
    segmentation_metrics,
)


def test_confusion_matrix_counts_true_rows_predicted_columns():
    label = [0, 0, 1, 1, 1, 2]
    pred = [0, 1, 1, 1, 0, 2]
    confusion = confusion_matrix(pred, label, 3)
    assert confusion.tolist() == [[1, 1, 0], [1, 2, 0], [0, 0, 1]]


def test_negative_labels_are_ignored():
    assert confusion_matrix([0, 1], [-1, 1], 2).tolist() == [[0, 0], [0, 1]]


def test_iou_by_hand():
    # class 0: hits 1, predicted 2, true 2 -> 1 / 3; class 1: hits 2, pred 3, true 3 -> 2 / 4
    label = [0, 0, 1, 1, 1, 2]
    pred = [0, 1, 1, 1, 0, 2]
    iou = per_class_iou(confusion_matrix(pred, label, 4))
    assert iou[:3] == pytest.approx([1 / 3, 2 / 4, 1.0])
    assert math.isnan(iou[3])  # neither true nor predicted


def test_per_class_accuracy_is_recall_and_nan_when_absent():
    recall = per_class_accuracy(confusion_matrix([0, 1, 1, 1], [0, 0, 1, 1], 3))
    assert recall[:2] == pytest.approx([0.5, 1.0])
    assert math.isnan(recall[2])


def test_icpf_per_event_and_summary():
    # event 7: 1 wrong of 4; event 3: 0 wrong of 2; event 9: 2 of 2 wrong
    event = [7, 7, 7, 7, 3, 3, 9, 9]
    label = [0, 1, 2, 3, 4, 4, 1, 1]
    pred = [0, 1, 2, 0, 4, 4, 0, 2]
    per_event = icpf_per_event(pred, label, event)
    assert sorted(per_event.tolist()) == pytest.approx([0.0, 0.25, 1.0])
    summary = icpf_summary(per_event)
    assert summary["icpf_mean"] == pytest.approx(1.25 / 3)
    assert summary["icpf_p90"] == pytest.approx(np.percentile([0.0, 0.25, 1.0], 90))


def test_icpf_leaves_out_unlabelled_pixels():
    assert icpf_per_event([0, 1, 1], [0, -1, 0], [0, 0, 0]).tolist() == [0.5]


def test_icpf_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    out = icpf_per_event(torch.tensor([1, 1]), torch.tensor([1, 0]), torch.tensor([0, 0]))
    assert out.tolist() == [0.5]


def test_segmentation_metrics_names_every_class():
    confusion = np.diag([5, 4, 3, 2, 1])
    metrics = segmentation_metrics(confusion, [0.0, 0.1])
    assert metrics["accuracy"] == 1.0 and metrics["error_rate"] == 0.0
    assert metrics["iou_michel"] == 1.0 and metrics["mean_iou"] == 1.0
    assert metrics["icpf_mean"] == pytest.approx(0.05)
    assert all(isinstance(value, float) for value in metrics.values())


def test_classification_metrics():
    confusion = confusion_matrix([0, 0, 1, 4], [0, 1, 1, 4], 5)
    metrics = classification_metrics(confusion)
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["error_rate"] == pytest.approx(0.25)
    assert metrics["accuracy_gamma"] == pytest.approx(0.5)
    assert math.isnan(metrics["accuracy_muon"])
    assert metrics["mean_class_accuracy"] == pytest.approx((1 + 0.5 + 1) / 3)


def test_class_names_follow_the_data_labels():
    from models import data
    from models.metrics import PARTICLE_CLASSES, SEMANTIC_CLASSES

    assert SEMANTIC_CLASSES == data.SEMANTIC_CLASSES
    assert PARTICLE_CLASSES == data.PARTICLE_CLASSES
