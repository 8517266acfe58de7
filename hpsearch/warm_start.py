"""Warm start: the finished trials of earlier campaigns as prior trials of a new one.

`warm_start = ["../earlier", "postgresql://host/db"]` in a campaign file. A COMPLETE trial of
an earlier campaign that has exactly the new space's parameters, each inside its new range,
is added to the new study as a finished trial with user_attrs source="warm_start" (and where
it came from). Prior trials are not run again and do not count toward budget.trials; the
sampler sees them like any finished trial, so they also count toward its start-up.

The Latin-hypercube design then covers only what the priors leave empty: of its n_init
points, the one nearest to each prior (in the unit cube of the space) is dropped, and none is
left once the priors alone reach n_init. The dropped indices are stored in the study, so a
resume enqueues exactly the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hpsearch._optuna_internals import constraint_attr
from hpsearch.campaign import Campaign
from hpsearch.constraints import by_name, evaluate
from hpsearch.errors import UserError
from hpsearch.space import CategoricalParam, FloatParam, IntParam, Param, SearchSpace
from hpsearch.storage import open_campaign

SOURCE = "warm_start"
SKIPPED_ATTR = "design_skipped"  # study attribute: LHS indices the priors stand in for


@dataclass(frozen=True)
class Prior:
    source: str
    number: int
    params: dict[str, Any]
    values: tuple[float, ...]
    attrs: dict[str, Any]  # what it reported (metrics, peak memory...): for the constraints


def load_priors(campaign: Campaign) -> list[Prior]:
    """The fitting finished trials of every earlier campaign; UserError if one cannot be read."""
    priors: list[Prior] = []
    for source in campaign.warm_start:
        target = source
        if "://" not in source:
            path = Path(source).expanduser()
            target = str(path if path.is_absolute() else Path(campaign.source_dir) / path)
        try:
            study, _ = open_campaign(target, read_only=True)
        except UserError as err:
            raise UserError(f"warm_start: {source}: {err}") from err
        earlier = study.user_attrs["campaign"]["objective"]
        goal = campaign.objective.to_dict()
        if (earlier["metric"], earlier.get("direction")) != (goal["metric"], goal["direction"]):
            raise UserError(f"warm_start: {source} is to {earlier.get('direction')} "
                            f"{earlier['metric']}, this campaign to {goal['direction']} "
                            f"{goal['metric']}; warm-start from the same objectives")
        n_values = len(campaign.objective.metrics)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            values = tuple(trial.values or ())
            if (len(values) == n_values and all(math.isfinite(v) for v in values)
                    and fits(campaign.space, trial.params)):
                priors.append(Prior(source, trial.number, dict(trial.params), values,
                                    dict(trial.user_attrs)))
    return priors


def fits(space: SearchSpace, params: dict[str, Any]) -> bool:
    """The parameters the new space makes active, every value one it can take."""
    if not set(params) <= set(space.names) or space.active(params) != params:
        return False  # a name the space lacks, or one its conditions switch off
    active = [p for p in space.params if space.is_active(p, params)]
    return all(p.name in params and _takes(p, params[p.name]) for p in active)


def _takes(param: Param, value: Any) -> bool:
    if isinstance(param, CategoricalParam):
        return any(value == c and type(value) is type(c) for c in param.choices)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(param, IntParam) and not float(value).is_integer():
        return False
    if not param.low <= value <= param.high:
        return False
    if param.step is None:
        return True
    steps = (value - param.low) / param.step
    return abs(steps - round(steps)) < 1e-8 * max(1.0, abs(steps))


def start_from(study: optuna.Study, campaign: Campaign, priors: list[Prior]) -> set[int]:
    """Add the priors to a new study; returns the design indices they stand in for."""
    from hpsearch.lhs import latin_hypercube  # scipy: only when a campaign is created

    distributions = campaign.space.distributions()
    for prior in priors:
        attrs: dict[str, Any] = {"source": SOURCE, "warm_start_from": prior.source,
                                 "warm_start_trial": prior.number}
        system: dict[str, Any] = {}
        if campaign.constraints:  # judged by this campaign's constraints
            attrs.update(evaluate(campaign.constraints, prior.attrs))
            system = {constraint_attr(name): value
                      for name, value in by_name(campaign.constraints, prior.attrs).items()}
        study.add_trial(optuna.trial.create_trial(
            params=prior.params, distributions=distributions, values=list(prior.values),
            user_attrs=attrs, system_attrs=system))
    design = latin_hypercube(campaign.space, campaign.n_init, campaign.seed)
    skipped = design_skipped(campaign.space, design, priors)
    study.set_user_attr(SKIPPED_ATTR, sorted(skipped))
    return skipped


def design_skipped(space: SearchSpace, design: list[dict[str, Any]],
                   priors: list[Prior]) -> set[int]:
    """Indices of the design points the priors stand in for: each prior drops its nearest."""
    left = {index: unit_point(space, params) for index, params in enumerate(design)}
    skipped: set[int] = set()
    for prior in priors:
        if not left:
            break
        point = unit_point(space, prior.params)
        nearest = min(left, key=lambda i: math.dist(left[i], point))
        skipped.add(nearest)
        del left[nearest]
    return skipped


def unit_point(space: SearchSpace, params: dict[str, Any]) -> list[float]:
    # An inactive conditional parameter sits in the middle of its range.
    return [_unit(param, params[param.name]) if param.name in params else 0.5
            for param in space.params]


def _unit(param: Param, value: Any) -> float:
    """Where `value` lies in [0, 1], the same scale the Latin hypercube stratifies."""
    if isinstance(param, CategoricalParam):
        index = next(i for i, c in enumerate(param.choices) if c == value)
        return (index + 0.5) / len(param.choices)
    assert isinstance(param, FloatParam | IntParam)
    low, high, number = float(param.low), float(param.high), float(value)
    if isinstance(param, IntParam):
        high += 1  # the LHS maps [0, 1) onto [low, high + 1) and floors
        number += 0.5
    if param.log:
        low, high, number = math.log(low), math.log(high), math.log(number)
    return (number - low) / (high - low)
