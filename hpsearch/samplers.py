"""The model-based samplers that take over from the Latin-hypercube design.

The LHS points are enqueued as WAITING trials; asking pops them with fixed parameters, which
never reach the sampler. They are ordinary trials once finished, so they count toward the
sampler's `n_startup_trials` (TPE counts COMPLETE and PRUNED trials, GP counts COMPLETE ones).
Passing the LHS size as `n_startup_trials` therefore means: the model proposes every point
once the design has completed; a point asked while the design is still running comes from
the sampler's random fallback.
"""

from __future__ import annotations

import warnings

import optuna

from hpsearch.errors import UserError

__all__ = ["SAMPLER_KINDS", "make_sampler"]

SAMPLER_KINDS = ("tpe", "gp", "random")  # what a campaign file's `sampler` may name


def make_sampler(kind: str, seed: int | None, n_startup_trials: int, group: bool = False,
                 ) -> optuna.samplers.BaseSampler:
    """A seeded Optuna sampler of the given kind ("tpe", "gp" or "random").

    `group`: the space has conditional parameters (TPE models each set of active parameters
    apart; GP models the parameters every trial has and samples the others at random).
    Constraints need no option: TPE and GP read each trial's recorded constraint values."""
    if n_startup_trials < 0:
        raise UserError(f"sampler: n_startup_trials must be >= 0, got {n_startup_trials}")
    with warnings.catch_warnings():
        # `group` is marked experimental; the campaign file asked for it (`when`).
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _make(kind, seed, n_startup_trials, group)


def _make(kind: str, seed: int | None, n_startup_trials: int,
          group: bool) -> optuna.samplers.BaseSampler:
    if kind == "tpe":
        # Multivariate TPE models the interactions between hyperparameters; the constant
        # liar keeps trials in flight from being proposed again by the next asks.
        return optuna.samplers.TPESampler(
            n_startup_trials=n_startup_trials,
            seed=seed,
            multivariate=True,
            constant_liar=True,
            group=group,
        )
    if kind == "gp":
        # Every campaign parameter is always sampled, so the independent fallback only ever
        # happens before the first finished trial: no warning for it.
        return optuna.samplers.GPSampler(
            seed=seed,
            n_startup_trials=n_startup_trials,
            independent_sampler=optuna.samplers.RandomSampler(seed=seed),
            warn_independent_sampling=False,
        )
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise UserError(f"sampler: unknown sampler {kind!r}; choose one of {', '.join(SAMPLER_KINDS)}")
