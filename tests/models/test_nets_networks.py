from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models import MODEL_DEFAULTS, build_model
from models.data import collate, generate_event

SMALL = {"depth": 3, "filters": 8, "reps": 1}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine, a second spinning thread only waits."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def batch_of(kind: str, task: str, events: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    sample = [generate_event(kind, rng, size=size, task=task) for _ in range(events)]
    return collate(sample, range(events), kind, (size,) * (2 if kind == "2d" else 3))


def inputs(batch):
    tensor = batch.tensor
    return tensor.replace(torch.log1p(tensor.feats.clamp(min=0.0)))


def fit(model, x, labels, steps: int, lr: float) -> list[float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_uresnet2d_learns_a_fixed_set():
    torch.manual_seed(0)
    batch = batch_of("2d", "segmentation", events=2, size=64)
    model = build_model("uresnet2d", SMALL)
    losses = fit(model, inputs(batch), batch.semantic, steps=30, lr=0.01)
    assert losses[-1] < 0.5 * losses[0]


def test_resnet3d_classifier_learns_a_fixed_set():
    torch.manual_seed(0)
    batch = batch_of("3d", "classification", events=8, size=32)
    assert set(batch.particle.tolist()) != {batch.particle[0].item()}  # several classes
    model = build_model("resnet3d", SMALL)
    losses = fit(model, inputs(batch), batch.particle, steps=30, lr=0.01)
    assert losses[-1] < 0.3 * losses[0]


def test_output_shapes():
    seg = batch_of("2d", "segmentation", events=2, size=32)
    assert build_model("uresnet2d", SMALL)(inputs(seg)).shape == (len(seg.semantic), 5)
    cls2 = batch_of("2d", "classification", events=3, size=32)
    assert build_model("resnet2d", SMALL)(inputs(cls2)).shape == (3, 5)  # one row per event
    seg3 = batch_of("3d", "segmentation", events=1, size=32)
    assert build_model("uresnet3d", SMALL)(inputs(seg3)).shape == (len(seg3.semantic), 5)


@pytest.mark.parametrize("override", [
    {"norm": "none", "activation": "gelu", "dropout": 0.2},
    {"activation": "leaky_relu", "kernel_size": 5, "reps": 2},
    {"activation": "silu", "depth": 1},
])
def test_every_option_builds_and_runs_backward(override):
    batch = batch_of("2d", "segmentation", events=1, size=32)
    model = build_model("uresnet2d", {**SMALL, **override})
    model(inputs(batch)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_defaults_are_stated_once_and_build():
    for name in MODEL_DEFAULTS:
        assert sum(p.numel() for p in build_model(name, {}).parameters()) > 0
