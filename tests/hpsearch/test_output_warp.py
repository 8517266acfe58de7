"""The GP's value warp: order kept, tails pulled in, and the sampler fits on the warped
values exactly as Optuna's GP would on a study holding them."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from scipy import stats

from hpsearch.output_warp import WarpedGPSampler, warp_values
from hpsearch.samplers import make_sampler


def test_warp_keeps_the_order_and_pulls_in_a_heavy_tail():
    values = np.exp(np.random.default_rng(0).normal(0.0, 2.0, size=60))  # log-normal losses
    warped = warp_values(values)
    assert np.array_equal(np.argsort(warped), np.argsort(values))
    assert abs(stats.skew(values)) > 3.0
    assert abs(stats.skew(warped)) < abs(stats.skew(values)) / 4


@pytest.mark.parametrize("values", [[3.0, 1.0], [2.0, 2.0, 2.0], [1.0, np.inf, 0.0]])
def test_too_few_equal_or_infinite_values_are_left_alone(values):
    assert np.array_equal(warp_values(np.array(values)), np.array(values))


def _study(values, params, sampler):
    study = optuna.create_study(sampler=sampler)
    dists = {"x": optuna.distributions.FloatDistribution(-5.0, 10.0),
             "y": optuna.distributions.FloatDistribution(0.0, 15.0)}
    for value, point in zip(values, params, strict=True):
        study.add_trial(optuna.trial.create_trial(params=point, distributions=dists, value=value))
    return study, dists


def test_campaign_gp_fits_on_warped_values():
    rng = np.random.default_rng(1)
    params = [{"x": float(a), "y": float(b)}
              for a, b in zip(rng.uniform(-5, 10, 12), rng.uniform(0, 15, 12), strict=True)]
    values = [(p["x"] - 2) ** 4 + (p["y"] - 3) ** 4 for p in params]  # a few huge values
    assert isinstance(make_sampler("gp", 0, 5), WarpedGPSampler)
    warped, dists = _study(values, params, WarpedGPSampler(seed=3))
    plain_on_warped, _ = _study(list(warp_values(np.array(values))), params,
                                optuna.samplers.GPSampler(seed=3))
    plain, _ = _study(values, params, optuna.samplers.GPSampler(seed=3))
    asked = warped.ask(dists).params
    assert asked == plain_on_warped.ask(dists).params
    assert asked != plain.ask(dists).params  # the warp changed what the GP proposes
