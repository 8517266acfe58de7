from __future__ import annotations

import pytest

from workflows._optim import LearningRate


def test_warmup_reaches_scaled_rate_then_cosine_decays():
    rate = LearningRate(0.01, world_size=4, warmup_steps=3, total_steps=13, schedule="cosine")
    assert [rate.at(s) for s in range(3)] == pytest.approx([0.01, 0.02, 0.03])
    assert rate.at(3) == pytest.approx(0.04)
    assert rate.at(8) == pytest.approx(0.02)
    assert rate.at(13) == pytest.approx(0.0, abs=1e-12)


def test_schedule_does_not_depend_on_how_the_target_was_reached():
    # one rank at 2*lr and two ranks at lr follow the same rates
    one = LearningRate(0.02, 1, 5, 20, "constant")
    two = LearningRate(0.01, 2, 5, 20, "constant")
    assert [one.at(s) for s in range(20)] == pytest.approx([two.at(s) for s in range(20)])
