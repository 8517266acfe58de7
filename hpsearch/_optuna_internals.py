"""Every private name of Optuna that hpsearch relies on, behind one module.

Optuna keeps no promise about these: the batched TPE proposals (`_tpe_batch`) reuse the
sampler's own fit and acquisition, the dashboard reads the RDB tables directly and asks for
trials incrementally, and the campaign opener lists studies without loading their trials.
pyproject.toml pins Optuna to the releases this was checked against, and
`missing_names()` (run by a test) names whatever a new release renamed or removed.

Three attributes are used directly elsewhere, as Optuna's own integrations do:
`FrozenTrial._trial_id`, `Study._storage` and `Study._study_id`; they are checked here too.
"""

from __future__ import annotations

import importlib
from collections.abc import Container
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from optuna.study._frozen import FrozenStudy  # what RDBStorage.get_all_studies returns

__all__ = ["CONSTRAINTS_KEY", "FrozenStudy", "constraint_attr", "gp_fit", "gp_logei", "gp_rng",
           "gp_search_space", "gp_startup_trials",
           "missing_names", "rdb_backend", "rdb_models", "rdb_trials", "study_trials",
           "tpe_batch_applicable", "tpe_below_count", "tpe_candidates", "tpe_draw", "tpe_fit",
           "tpe_rng", "tpe_startup_trials"]

# (module, name) pairs imported from Optuna's private modules.
PRIVATE_IMPORTS = (
    ("optuna.samplers._tpe.sampler", "_split_trials"),
    ("optuna.samplers._tpe.sampler", "default_gamma"),
    ("optuna.storages._rdb.models", "TrialModel"),
    ("optuna.storages._rdb.models", "TrialParamModel"),
    ("optuna.storages._rdb.models", "TrialValueModel"),
    ("optuna.storages._rdb.models", "TrialUserAttributeModel"),
    ("optuna.storages._rdb.models", "TrialSystemAttributeModel"),
    ("optuna.storages._rdb.models", "TrialIntermediateValueModel"),
    ("optuna.study._frozen", "FrozenStudy"),
    ("optuna.study._constrained_optimization", "_CONSTRAINTS_KEY"),
    ("optuna.storages._cached_storage", "_CachedStorage"),
    ("optuna._gp.gp", "fit_kernel_params"),
    ("optuna._gp.search_space", "SearchSpace"),
    ("optuna._gp.acqf", "logei"),
)
# A trial's constraint values are system attributes "constraints:<name>", what
# `Trial.set_constraint(name, value)` writes; TPE and GP read them as `trial.constraints`.
CONSTRAINTS_KEY = "constraints"


def constraint_attr(name: str) -> str:
    return f"{CONSTRAINTS_KEY}:{name}"
# Private attributes of public classes; instance attributes are checked on a fresh instance.
PRIVATE_ATTRIBUTES = {
    "optuna.samplers.TPESampler": (
        "_group", "_constraints_func", "_constant_liar", "_is_multivariate",
        "_n_startup_trials", "_gamma", "_build_parzen_estimator", "_n_ei_candidates", "_rng",
        "_compute_acquisition_func",
    ),
    "optuna.samplers.GPSampler": ("_n_startup_trials", "_rng", "_log_prior", "_minimum_noise",
                                  "_deterministic", "_sample_relative_impl"),
    "optuna.Study": ("_is_multi_objective", "_get_trials", "_storage", "_study_id"),
    "optuna.storages.RDBStorage": ("_get_trials",),
    "optuna.trial.FrozenTrial": ("_trial_id",),
    "optuna.storages._cached_storage._CachedStorage": ("_backend",),
    "optuna.storages._rdb.models.TrialValueModel": ("stored_repr_to_value",),
    "optuna.storages._rdb.models.TrialIntermediateValueModel": (
        "stored_repr_to_intermediate_value",),
}


def missing_names() -> list[str]:
    """The private names above that this Optuna lacks, spelt out; [] when all are there."""
    missing = []
    for module, name in PRIVATE_IMPORTS:
        try:
            if not hasattr(importlib.import_module(module), name):
                missing.append(f"{module}.{name}")
        except ImportError:
            missing.append(f"{module} (module)")
    samples = _instances()
    for owner, names in PRIVATE_ATTRIBUTES.items():
        module, _, cls_name = owner.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), cls_name)
        except (ImportError, AttributeError):
            missing.append(f"{owner} (class)")
            continue
        target = samples.get(owner, cls)
        missing += [f"{owner}.{name}" for name in names if not hasattr(target, name)]
    return missing


def _instances() -> dict[str, Any]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return {
        "optuna.samplers.TPESampler": optuna.samplers.TPESampler(seed=0),
        "optuna.samplers.GPSampler": optuna.samplers.GPSampler(seed=0),
        "optuna.Study": study,
        "optuna.trial.FrozenTrial": optuna.trial.create_trial(value=0.0),
        "optuna.storages._cached_storage._CachedStorage": optuna.storages.get_storage(
            optuna.storages.RDBStorage("sqlite://")),
    }


# ---- TPE: one fit of the Parzen estimators, many proposals ------------------------------
def tpe_batch_applicable(sampler: optuna.samplers.BaseSampler, study: optuna.Study) -> bool:
    """Plain multivariate single-objective TPE with the constant liar, and nothing else."""
    return (
        type(sampler) is optuna.samplers.TPESampler
        and not sampler._group
        and sampler._constraints_func is None
        and sampler._constant_liar
        and not study._is_multi_objective()
        and sampler._is_multivariate(study)
    )


def tpe_startup_trials(sampler: optuna.samplers.TPESampler) -> int:
    return sampler._n_startup_trials


def tpe_below_count(sampler: optuna.samplers.TPESampler, n_finished: int) -> int:
    """How many of `n_finished` trials TPE puts in its "good" set."""
    from optuna.samplers._tpe.sampler import default_gamma

    return int((sampler._gamma or default_gamma)(n_finished))


def gp_startup_trials(sampler: optuna.samplers.GPSampler) -> int:
    return sampler._n_startup_trials


def gp_search_space(distributions: dict[str, BaseDistribution]) -> Any:
    """GPSampler's normalised view of a space: parameters in [0, 1] (categories as indices)."""
    from optuna._gp.search_space import SearchSpace

    return SearchSpace(distributions)


def gp_fit(sampler: optuna.samplers.GPSampler, X: np.ndarray, Y: np.ndarray,
           is_categorical: np.ndarray, cache: Any = None) -> Any:
    """GPSampler's kernel fit (its prior and noise floor) on normalised `X` and standardised
    `Y` (larger is better); `cache`, an earlier fit of the same space, warm-starts it."""
    from optuna._gp.gp import fit_kernel_params

    return fit_kernel_params(X=X, Y=Y, is_categorical=is_categorical,
                             log_prior=sampler._log_prior, minimum_noise=sampler._minimum_noise,
                             deterministic_objective=sampler._deterministic, gpr_cache=cache)


def gp_logei(mean: Any, var: Any, threshold: float) -> Any:
    """log expected improvement over `threshold` of N(mean, var), as GPSampler's LogEI."""
    from optuna._gp.acqf import logei

    return logei(mean=mean, var=var + 1e-12, f0=threshold)


def gp_rng(sampler: optuna.samplers.GPSampler) -> np.random.RandomState:
    return sampler._rng.rng


def tpe_rng(sampler: optuna.samplers.TPESampler) -> np.random.RandomState:
    return sampler._rng.rng


def tpe_candidates(sampler: optuna.samplers.TPESampler) -> int:
    return sampler._n_ei_candidates


def study_trials(study: optuna.Study, states: Container[TrialState]) -> list[FrozenTrial]:
    """The study's trials in `states`, read afresh (no copy, no cache)."""
    return study._get_trials(deepcopy=False, states=states, use_cache=False)


def tpe_fit(sampler: optuna.samplers.TPESampler, study: optuna.Study,
            search_space: dict[str, BaseDistribution], trials: list[FrozenTrial],
            n_finished: int) -> tuple[Any, Any]:
    """The "good" and "bad" Parzen estimators of one TPE ask, built once."""
    from optuna.samplers._tpe.sampler import _split_trials, default_gamma

    gamma = sampler._gamma or default_gamma
    below, above = _split_trials(study, trials, gamma(n_finished))
    return (sampler._build_parzen_estimator(study, search_space, below, handle_below=True),
            sampler._build_parzen_estimator(study, search_space, above, handle_below=False))


def tpe_draw(sampler: optuna.samplers.TPESampler, below: Any, above: Any,
             n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """`n` candidates from the good estimator, with the sampler's acquisition of each."""
    samples = below.sample(sampler._rng.rng, n)
    return samples, sampler._compute_acquisition_func(samples, below, above)


# ---- RDB storage: reading without the ORM, and incrementally ------------------------------
def rdb_backend(storage: optuna.storages.BaseStorage) -> optuna.storages.RDBStorage | None:
    """The RDBStorage behind `storage` (a Study wraps one in a cache), None for other kinds.

    Writing its tables directly is safe only where nothing reads through that cache again,
    as in the driver, the study's only writer, which reads the storage once at start-up."""
    from optuna.storages._cached_storage import _CachedStorage

    if isinstance(storage, _CachedStorage):
        storage = storage._backend
    return storage if isinstance(storage, optuna.storages.RDBStorage) else None


def rdb_models() -> Any:
    """Optuna's SQLAlchemy models of the RDB storage (its tables)."""
    from optuna.storages._rdb import models

    return models


def rdb_trials(storage: optuna.storages.RDBStorage, study_id: int, included_ids: set[int],
               newer_than_id: int) -> list[FrozenTrial]:
    """The trials whose ids are in `included_ids` or above `newer_than_id` (-1: all)."""
    return storage._get_trials(study_id, None, included_ids, newer_than_id)
