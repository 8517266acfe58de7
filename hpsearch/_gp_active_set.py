"""GP proposals at a bounded cost: the GP is fitted on an active set, not the whole study.

Optuna's GPSampler fits on every complete trial and conditions on every running one, so an
ask costs O(n^3) and a campaign of thousands of trials stalls its driver. Two bounds:

- `gp_proposal`: one proposal from `GPSampler.sample_relative` on a small in-memory study
  holding at most MAX_COMPLETE complete trials (the best half and the most recent half) and
  the MAX_RUNNING most recent running ones. Below those sizes the active set is the whole
  study and the proposal is the plain ask's; above, an ask costs the same however large the
  campaign grows. This is the path while few trials run at once.
- `GPBatch`: once more than BATCH_RUNNING trials run at once, even that (~0.4 s of CPU per
  proposal, mostly the acquisition's multi-start optimisation) is far too slow: 1,024
  one-minute trials leave the driver ~60 ms per trial. Then one kernel fit on the same active
  set serves many proposals (a Kriging believer): the GP is conditioned on the most recent
  running trials at its own predictions, the log expected improvement is scored on a fixed
  candidate set (Sobol points plus perturbations of the best trials), and after each pick the
  posterior variance is updated by one rank-one step, as if the pick had returned its
  predicted mean, so the next pick goes elsewhere. The fit is kept until new results reach
  one per REFIT_PER_RUNNING running trials, or it handed out MAX_PICKS proposals.

The same batch, with its candidates only around the best trial, is the endgame
(`endgame_trials`): the last tenth of a trial budget refines the best point found instead
of exploring, since what a campaign reports is its best trial (the search-quality benchmark
decided it: README).
"""

from __future__ import annotations

import contextlib
import datetime
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import InMemoryStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpsearch import _optuna_internals as internals
from hpsearch._tpe_batch import single_value
from hpsearch.output_warp import warp_values

if TYPE_CHECKING:
    import torch  # imported where used: the driver itself never loads torch for TPE

MAX_COMPLETE = 128
MAX_RUNNING = 32
BATCH_RUNNING = 64  # running trials above which proposals come in batches from one fit
PENDING = 128  # running trials the batch's GP is conditioned on (the most recent ones)
REFIT_PER_RUNNING = 64  # one new result per this many running trials makes a refit
MAX_PICKS = 256  # proposals one fit hands out at most
N_SOBOL = 2048  # candidates spread over the whole space
N_LOCAL = 1024  # candidates around the best trials, at several scales
LOCAL_CENTRES = 8
LOCAL_SCALES = (0.1, 0.03, 0.01)  # standard deviations in the normalised [0, 1] space
# Refining rounds: how many of the best candidates so far are centres, at which scales.
REFINE = ((32, (0.03, 0.01, 0.003)), (16, (0.003, 0.001)))
ENDGAME_FRACTION = 0.1  # the last tenth of a trial budget refines the best trial
ENDGAME_SPREAD = 0.5  # posterior standard deviations added to the mean when exploiting


def endgame_trials(budget_trials: int | None) -> int:
    """How many of the budget's last trials are local refinements of the best one."""
    return 0 if budget_trials is None else math.ceil(ENDGAME_FRACTION * budget_trials)


def gp_proposal(study: optuna.Study,
                distributions: Mapping[str, BaseDistribution]) -> dict[str, Any] | None:
    """One parameter set from the GP on the active set; None when the plain ask applies
    (another sampler, a small study, or the GP's own random start-up)."""
    sampler = study.sampler
    if not isinstance(sampler, optuna.samplers.GPSampler) or study._is_multi_objective():
        return None
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    limit = max(MAX_COMPLETE, internals.gp_startup_trials(sampler))
    if len(complete) <= limit and len(running) <= MAX_RUNNING:
        return None  # the whole study is small: the plain ask sees the same trials
    active = _active(complete, study.direction, limit) + running[-MAX_RUNNING:]
    varying = {name: d for name, d in distributions.items() if not d.single()}

    storage = InMemoryStorage()
    study_id = storage.create_new_study([study.direction], "active-set")
    for trial in active:
        storage.create_new_trial(study_id, template_trial=trial)
    trial_id = storage.create_new_trial(study_id, template_trial=_blank_running())
    sub = optuna.Study(study_name="active-set", storage=storage, sampler=sampler)
    params = sampler.sample_relative(sub, storage.get_trial(trial_id), varying)
    if set(params) != set(varying):
        return None
    return {name: params.get(name, single_value(dist)) for name, dist in distributions.items()}


def _active(complete: list[FrozenTrial], direction: StudyDirection,
            limit: int) -> list[FrozenTrial]:
    """At most `limit` complete trials: the best half and the most recent others."""
    if len(complete) <= limit:
        return complete
    sign = 1.0 if direction == StudyDirection.MINIMIZE else -1.0
    best = sorted(complete, key=lambda t: (sign * t.values[0], t.number))[: limit // 2]
    chosen = {t.number for t in best}
    recent = [t for t in reversed(complete) if t.number not in chosen][: limit - len(best)]
    return sorted(best + recent, key=lambda t: t.number)


@dataclass
class _Fit:
    space: dict[str, BaseDistribution]
    n_complete: int
    local: bool  # candidates only around the best trial (the endgame)
    exploit: bool  # scored by the optimistic mean, not log EI (see `_score`)
    candidates: np.ndarray  # (m, d), normalised
    mean: torch.Tensor  # (m,) posterior mean, standardised (larger is better)
    var: torch.Tensor  # (m,) posterior variance given the data, the pending trials and picks
    v: torch.Tensor  # (n, m): L^-1 k(conditioning points, candidates)
    threshold: float  # the best standardised value seen
    gpr: Any
    updates: list[torch.Tensor] = field(default_factory=list)  # one (m,) vector per pick
    picked: list[int] = field(default_factory=list)

    def pick(self) -> np.ndarray:
        """The candidate of best score (`_score`); its believed result then shrinks the variance."""
        import torch

        score = _score(self.mean, self.var, self.threshold, self.exploit)
        score[self.picked] = -torch.inf
        best = int(torch.argmax(score))
        point = torch.from_numpy(self.candidates[best: best + 1])
        cov = (self.gpr.kernel(torch.from_numpy(self.candidates), point)[:, 0]
               - self.v.T @ self.v[:, best])
        for update in self.updates:
            cov -= update * update[best]
        update = cov / torch.sqrt(self.var[best] + self.gpr.noise_var)
        self.var = (self.var - update.square()).clamp_min(0.0)
        self.updates.append(update)
        self.picked.append(best)
        # The believed result counts as seen: the next pick must improve on it.
        self.threshold = max(self.threshold, float(self.mean[best]))
        return self.candidates[best]


class GPBatch:
    """Many GP proposals per kernel fit while thousands of trials run (see the module)."""

    def __init__(self) -> None:
        self._fit: _Fit | None = None
        self._gpr: Any = None  # the last kernel fit, which warm-starts the next

    def proposals(self, study: optuna.Study, distributions: Mapping[str, BaseDistribution],
                  limit: int, n_complete: int, n_running: int,
                  local: bool = False) -> list[dict[str, Any]]:
        """Up to `limit` parameter sets; [] when the batch does not apply (another sampler,
        few running trials, the random start-up, constraints, conditional parameters).
        `local`: the endgame, candidates only around the best trial, however few run."""
        sampler = study.sampler
        if (not isinstance(sampler, optuna.samplers.GPSampler) or study._is_multi_objective()
                or (n_running <= BATCH_RUNNING and not local)
                or n_complete < max(1, internals.gp_startup_trials(sampler))):
            return []
        assert isinstance(sampler, optuna.samplers.GPSampler)
        import torch

        varying = {name: d for name, d in distributions.items() if not d.single()}
        with _one_thread():
            fit = self._fit
            if (fit is None or fit.space != varying or fit.local != local
                    or len(fit.picked) >= MAX_PICKS
                    or n_complete - fit.n_complete >= max(1, n_running // REFIT_PER_RUNNING)):
                fit = self._fit = self._refit(study, sampler, varying, n_complete, local)
            if fit is None:
                return []
            count = min(limit, MAX_PICKS - len(fit.picked))
            with torch.no_grad():
                picks = [fit.pick() for _ in range(count)]
        space = internals.gp_search_space(varying)
        fixed = {name: single_value(d) for name, d in distributions.items() if d.single()}
        return [{name: {**space.get_unnormalized_param(point), **fixed}[name]
                 for name in distributions} for point in picks]

    def _refit(self, study: optuna.Study, sampler: optuna.samplers.GPSampler,
               varying: dict[str, BaseDistribution], n_complete: int,
               local: bool) -> _Fit | None:
        import torch

        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        usable = [t for t in running if varying.keys() <= t.params.keys()]
        if not varying or any(varying.keys() - t.params.keys() or _constrained(t)
                              for t in complete):
            return None  # conditional parameters or constraints: the plain path models them
        limit = max(MAX_COMPLETE, internals.gp_startup_trials(sampler))
        active = _active(complete, study.direction, limit)
        space = internals.gp_search_space(varying)
        sign = -1.0 if study.direction == StudyDirection.MINIMIZE else 1.0
        values = sign * np.array([t.values[0] for t in active])
        if not np.all(np.isfinite(values)):
            return None
        values = warp_values(values)  # as the sampler's own fit (`output_warp`)
        y = (values - values.mean()) / max(values.std(), 1e-10)
        x = space.get_normalized_params(active)
        if self._gpr is not None and len(self._gpr.inverse_squared_lengthscales) != x.shape[1]:
            self._gpr = None
        with torch.device("cpu"), torch.no_grad():
            gpr = internals.gp_fit(sampler, x, y, space.is_categorical, self._gpr)
            self._gpr = gpr
            rng = internals.gp_rng(sampler)
            pending = usable[-PENDING:]
            points = np.concatenate(
                [x, space.get_normalized_params(pending, [t.params for t in pending])]
                if pending else [x])
            conditioning = torch.from_numpy(points)
            cov = gpr.kernel(conditioning, conditioning)
            cov.diagonal().add_(gpr.noise_var)
            lower = torch.linalg.cholesky(cov)
            threshold = float(y.max())
            # The factor's leading block is the data's own, so the believer's mean (the data's
            # posterior mean, the pending trials adding nothing to it) comes from the same solve.
            weights = torch.linalg.solve_triangular(
                lower[: len(x), : len(x)], torch.from_numpy(y)[:, None], upper=False)[:, 0]

            def posterior(candidates: np.ndarray) -> tuple[torch.Tensor, ...]:
                v = torch.linalg.solve_triangular(
                    lower, gpr.kernel(conditioning, torch.from_numpy(candidates)), upper=False)
                mean = v[: len(x)].T @ weights
                return mean, v, (gpr.kernel_scale - v.square().sum(0)).clamp_min(0.0)

            # Rounds of candidates, each closer around the best of the one before: a stand-in
            # for the plain ask's local search of the acquisition.
            exploit = local and not space.is_categorical.any()
            centres = x[np.argsort(-y)[:1 if local else LOCAL_CENTRES]]
            candidates = _candidates(space, centres, rng, 0 if local else N_SOBOL, LOCAL_SCALES)
            mean, v, var = posterior(candidates)
            for n_centres, scales in REFINE:
                score = _score(mean, var, threshold, exploit)
                centres = candidates[torch.argsort(score, descending=True)[:n_centres].numpy()]
                closer = _candidates(space, centres, rng, 0, scales)
                mean2, v2, var2 = posterior(closer)
                candidates = np.concatenate([candidates, closer])
                mean, v, var = (torch.cat([mean, mean2]), torch.cat([v, v2], 1),
                                torch.cat([var, var2]))
        return _Fit(varying, n_complete, local, exploit, candidates, mean, var, v, threshold, gpr)


def _score(mean: torch.Tensor, var: torch.Tensor, threshold: float,
           exploit: bool) -> torch.Tensor:
    """Log EI, or in the endgame of an all-numeric space an optimistic mean: exploitation,
    the posterior spread only steering picks off the running trials. With a categorical
    parameter the endgame keeps log EI: a choice near the best that no trial has tried is
    found only through its uncertainty (in the benchmark, the mean kept the U-ResNet
    surrogate on its first optimiser)."""
    if exploit:
        return mean + ENDGAME_SPREAD * var.sqrt()
    return internals.gp_logei(mean, var, threshold)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Torch on one thread: these small tensor operations are ~1000x slower when its thread
    pool competes for busy cores (as GPSampler also limits itself)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _constrained(trial: FrozenTrial) -> bool:
    return any(key.startswith(internals.CONSTRAINTS_KEY) for key in trial.system_attrs)


def _candidates(space: Any, centres: np.ndarray, rng: np.random.RandomState, n_sobol: int,
                scales: tuple[float, ...]) -> np.ndarray:
    """`n_sobol` Sobol points over the space and N_LOCAL Gaussian steps around `centres`, on
    the space's grid (a categorical parameter of a local candidate keeps its centre's choice
    or, one time in five, takes a random one; a discrete one moves one grid step as often)."""
    local = centres[rng.randint(len(centres), size=N_LOCAL)]
    steps = np.array(scales)[rng.randint(len(scales), size=N_LOCAL)]
    numeric = ~space.is_categorical
    local[:, numeric] += rng.normal(size=(N_LOCAL, int(numeric.sum()))) * steps[:, None]
    local[:, numeric] = local[:, numeric].clip(0.0, 1.0)
    swap = (rng.random_sample(local.shape) < 0.2) & space.is_categorical
    local[swap] = space.sample_normalized_params(N_LOCAL, rng)[swap]
    grids = zip(space.discrete_indices, space.get_choices_of_discrete_params(), strict=True)
    for index, choices in grids:
        if not space.is_categorical[index]:
            local[:, index] = _nearest_or_next(np.sort(choices), local[:, index], rng)
    if not n_sobol:
        return local
    return np.concatenate([space.sample_normalized_params(n_sobol, rng), local])


def _nearest_or_next(choices: np.ndarray, values: np.ndarray,
                     rng: np.random.RandomState) -> np.ndarray:
    """Each value on its nearest grid point or, one time in five, the next one up or down:
    steps at the candidates' small scales would otherwise never change an integer."""
    index = np.searchsorted(choices, _nearest(choices, values))
    move = (rng.random_sample(len(values)) < 0.2) * rng.choice((-1, 1), size=len(values))
    return choices[(index + move).clip(0, len(choices) - 1)]


def _nearest(choices: np.ndarray, values: np.ndarray) -> np.ndarray:
    if len(choices) == 1:
        return np.full_like(values, choices[0])
    right = np.searchsorted(choices, values).clip(1, len(choices) - 1)
    left = right - 1
    closer_left = np.abs(values - choices[left]) <= np.abs(choices[right] - values)
    return np.where(closer_left, choices[left], choices[right])


def _blank_running() -> FrozenTrial:
    return FrozenTrial(number=-1, trial_id=-1, state=TrialState.RUNNING, value=None,
                       datetime_start=datetime.datetime.now(), datetime_complete=None,
                       params={}, distributions={}, user_attrs={}, system_attrs={},
                       intermediate_values={})
