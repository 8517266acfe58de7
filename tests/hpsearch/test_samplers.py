from __future__ import annotations

from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch._tpe_batch import LIAR_FRACTION_PER_FIT
from hpsearch.campaign import Campaign, parse_campaign
from hpsearch.errors import UserError
from hpsearch.lhs import latin_hypercube
from hpsearch.samplers import GP_MAX_TRIALS, SAMPLER_KINDS, choose_sampler, make_sampler
from hpsearch.space import SearchSpace
from hpsearch.study_view import StudyView

SPACE = SearchSpace.from_mapping(
    {
        "x": {"type": "float", "low": -5.0, "high": 10.0},
        "y": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
        "n": {"type": "int", "low": 1, "high": 8},
        "c": ["a", "b"],
    }
)


def objective(params):
    return (params["x"] - 1) ** 2 + abs(params["y"] - 1) + params["n"] + (params["c"] == "b")


class ViewAsker:
    """The driver's ask path: one `StudyView` over the study's storage, asked in batches."""

    def __init__(self, study, sampler, budget_trials=None):
        self.view = StudyView(study._storage, study.study_name, sampler,
                              budget_trials=budget_trials)
        self.sampler = sampler

    def ask(self, k, dists):
        asked = self.view.ask(k, dists)
        self.view.flush()  # as the driver does after each turn
        return asked

    def tell(self, number, value):
        self.view.finish(number, TrialState.COMPLETE, value)
        self.view.flush()


class PlainAsker:
    """Optuna's own: `study.ask` one trial at a time."""

    def __init__(self, study):
        self.study = study

    def ask(self, k, dists):
        return [self.study.ask(dists) for _ in range(k)]

    def tell(self, number, value):
        self.study.tell(number, value)


def _design_study(url, n_init, seed, attrs=True):
    study = optuna.create_study(storage=url, study_name="s")
    for i, point in enumerate(latin_hypercube(SPACE, n_init, seed=seed)):
        study.enqueue_trial(point, user_attrs={"source": "lhs", "lhs_index": i} if attrs else None)
    return study


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("tpe", optuna.samplers.TPESampler),
        ("gp", optuna.samplers.GPSampler),
        ("random", optuna.samplers.RandomSampler),
    ],
)
def test_make_sampler_kinds(kind, cls):
    assert kind in SAMPLER_KINDS
    assert isinstance(make_sampler(kind, seed=1, n_startup_trials=5), cls)


def test_unknown_sampler_is_a_user_error():
    with pytest.raises(UserError, match=r"^sampler: unknown sampler 'cma'.*tpe, gp, random"):
        make_sampler("cma", seed=1, n_startup_trials=5)


class _ModelUse:
    """Whether the sampler's model (not its random start-up) ran since the last `take()`.

    TPE builds its Parzen estimators only to propose from the model (`StudyView.ask` may do
    so for several trials at once); GP returns relative params only from the model.
    """

    def __init__(self, sampler):
        self.used = False
        name = (
            "_build_parzen_estimator"
            if isinstance(sampler, optuna.samplers.TPESampler)
            else ("sample_relative")
        )
        method = getattr(sampler, name)

        def recording(*args, **kwargs):
            out = method(*args, **kwargs)
            self.used = self.used or bool(out)
            return out

        setattr(sampler, name, recording)

    def take(self):
        used, self.used = self.used, False
        return used


@pytest.mark.parametrize("kind", ["tpe", "gp"])
def test_model_takes_over_after_the_lhs(tmp_path, kind):
    n_init, n_total = (4, 6) if kind == "gp" else (6, 9)
    study = _design_study(f"sqlite:///{tmp_path / 'c.db'}", n_init, seed=0)
    design = latin_hypercube(SPACE, n_init, seed=0)
    asker = ViewAsker(study, make_sampler(kind, seed=0, n_startup_trials=n_init))
    model = _ModelUse(asker.sampler)
    dists = SPACE.distributions()
    model_numbers = []
    for _ in range(n_total):
        (trial,) = asker.ask(1, dists)
        if model.take():
            model_numbers.append(trial.number)
        asker.tell(trial.number, objective(trial.params))
    trials = study.get_trials()
    assert [t.params for t in trials[:n_init]] == design
    assert [t.user_attrs["lhs_index"] for t in trials[:n_init]] == list(range(n_init))
    assert all(t.params not in design for t in trials[n_init:])
    assert model_numbers == list(range(n_init, n_total))


def test_points_asked_while_the_design_runs_come_from_the_fallback(tmp_path):
    study = _design_study(f"sqlite:///{tmp_path / 'c.db'}", 4, seed=0, attrs=False)
    asker = ViewAsker(study, make_sampler("tpe", seed=0, n_startup_trials=4))
    model = _ModelUse(asker.sampler)
    dists = SPACE.distributions()
    first = asker.ask(6, dists)  # 4 design points + 2 more with nothing finished
    assert [t.number for t in first] == list(range(6))
    assert not model.take()
    for trial in first:
        asker.tell(trial.number, objective(trial.params))
    asker.ask(2, dists)
    assert model.take()


def _run(asker, dists, batches):
    """Ask in batches, then tell every trial of the batch; return all proposed params."""
    seen = []
    for k in batches:
        trials = asker.ask(k, dists)
        seen += [t.params for t in trials]
        for trial in trials:
            asker.tell(trial.number, objective(trial.params))
    return seen


@pytest.mark.parametrize("kind", ["tpe", "random", pytest.param("gp", marks=pytest.mark.slow)])
def test_batched_ask_proposes_what_sequential_asks_would(tmp_path, kind):
    dists = SPACE.distributions()
    # GP asks cost seconds on a busy machine: fewer of them.
    n_init, batches = (3, [3, 2, 1]) if kind == "gp" else (5, [3, 4, 1, 5, 2, 4])
    batched = _design_study(f"sqlite:///{tmp_path / 'batched.db'}", n_init, seed=7, attrs=False)
    plain = optuna.create_study(sampler=make_sampler(kind, 7, n_init))
    for point in latin_hypercube(SPACE, n_init, seed=7):
        plain.enqueue_trial(point)
    runs = [_run(ViewAsker(batched, make_sampler(kind, 7, n_init)), dists, batches),
            _run(PlainAsker(plain), dists, batches)]
    assert runs[0] == runs[1]


def test_batched_ask_returns_running_trials_with_all_params(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    study = _design_study(url, 3, seed=0)
    design = latin_hypercube(SPACE, 3, seed=0)
    study.enqueue_trial({"x": 0.5})  # a partly fixed point, e.g. from the user
    asker = ViewAsker(study, make_sampler("tpe", 0, 3))
    dists = SPACE.distributions()
    assert asker.ask(0, dists) == []
    trials = asker.ask(7, dists)
    assert [t.number for t in trials] == list(range(7))
    stored = optuna.load_study(study_name=study.study_name, storage=url).get_trials()
    assert [t.state for t in stored] == [TrialState.RUNNING] * 7
    for trial, frozen in zip(trials, stored, strict=True):
        assert trial.params == frozen.params
        assert frozen.distributions == dists
    assert [t.params for t in stored[:3]] == design
    assert [t.user_attrs.get("lhs_index") for t in stored] == [0, 1, 2] + [None] * 4
    assert stored[3].params["x"] == 0.5
    # The constant liar spreads the batch: no two proposals alike.
    assert len({tuple(sorted(t.params.items())) for t in stored}) == 7


def test_view_continues_a_study_asked_by_plain_optuna(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    study = optuna.create_study(storage=url, sampler=make_sampler("tpe", 0, 2))
    dists = SPACE.distributions()
    for _ in range(3):
        trial = study.ask(dists)
        study.tell(trial, objective(trial.params))
    trials = ViewAsker(study, make_sampler("tpe", 0, 2)).ask(3, dists)
    trial = optuna.load_study(study_name=study.study_name, storage=url).ask(dists)
    assert [t.number for t in trials] + [trial.number] == [3, 4, 5, 6]


def test_batched_ask_after_reopening_the_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    dists = SPACE.distributions()
    study = optuna.create_study(storage=url, study_name="s")
    asker = ViewAsker(study, make_sampler("tpe", 0, 2))
    _run(asker, dists, [2, 2])
    asker.ask(2, dists)  # left RUNNING, as after a crash
    resumed = optuna.load_study(study_name="s", storage=url)
    trials = ViewAsker(resumed, make_sampler("tpe", 0, 2)).ask(3, dists)
    assert [t.number for t in trials] == [6, 7, 8]


def test_large_batch_from_few_fits(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'c.db'}")
    asker = ViewAsker(study, make_sampler("tpe", 0, 5))
    dists = SPACE.distributions()
    _run(asker, dists, [10, 10])
    model = _ModelUse(asker.sampler)
    fits = 0
    build = asker.sampler._build_parzen_estimator

    def counting(*args, **kwargs):
        nonlocal fits
        fits += 1
        return build(*args, **kwargs)

    asker.sampler._build_parzen_estimator = counting
    trials = asker.ask(20, dists)
    assert model.take()
    # Two estimators per fit; a fit serves up to a tenth as many proposals as it saw trials.
    expected, n_trials, left = 0, 20, 20
    while left:
        count = max(1, min(left, int(LIAR_FRACTION_PER_FIT * n_trials)))
        expected, n_trials, left = expected + 1, n_trials + count, left - count
    assert expected < 20
    assert fits == 2 * expected
    assert [t.number for t in trials] == list(range(20, 40))
    params = [t.params for t in trials]
    assert len({tuple(sorted(p.items())) for p in params}) == 20
    for p in params:
        for name, dist in dists.items():
            assert dist._contains(dist.to_internal_repr(p[name]))


@pytest.mark.slow  # two GP fits on 160 trials
def test_gp_asks_fit_a_bounded_active_set(tmp_path):
    from hpsearch._gp_active_set import MAX_COMPLETE, MAX_RUNNING

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'c.db'}")
    dists = SPACE.distributions()
    filler = ViewAsker(study, make_sampler("random", 0, 0))
    for trial in filler.ask(MAX_COMPLETE + 40, dists):
        filler.tell(trial.number, objective(trial.params))
    filler.ask(MAX_RUNNING + 10, dists)  # left running
    asker = ViewAsker(study, make_sampler("gp", 0, 10))
    seen = []
    fit_on = asker.sampler.sample_relative

    def recording(sub, trial, space):
        seen.append(Counter(t.state for t in sub.get_trials(deepcopy=False)))
        return fit_on(sub, trial, space)

    asker.sampler.sample_relative = recording
    trials = asker.ask(2, dists)
    assert len(seen) == 2  # one GP proposal per new trial, each on the active set
    assert seen[0][TrialState.COMPLETE] == MAX_COMPLETE
    assert seen[0][TrialState.RUNNING] == MAX_RUNNING + 1  # the trial being asked for
    assert all(t.params.keys() == dists.keys() for t in trials)
    assert trials[0].params != trials[1].params  # the first is a running liar for the second


CONDITIONAL = SearchSpace.from_mapping({
    "opt": ["sgd", "adam"],
    "momentum": {"type": "float", "low": 0.0, "high": 0.99, "when": {"opt": "sgd"}},
})


@pytest.mark.parametrize(
    ("space", "trials", "objectives", "kind"),
    [
        (SPACE, 200, 1, "gp"),  # mixed but unconditional, a budget of a few hundred
        (SPACE, GP_MAX_TRIALS, 1, "gp"),
        (SPACE, GP_MAX_TRIALS + 1, 1, "tpe"),  # large campaigns: TPE's batched asks
        (SPACE, 20_000, 1, "tpe"),
        (SPACE, None, 1, "tpe"),  # wall-time budget only: no bound on the trials
        (SPACE, 100, 2, "tpe"),  # several objectives
        (CONDITIONAL, 100, 1, "tpe"),  # conditional parameters
    ],
)
def test_auto_chooses_by_space_and_budget(space, trials, objectives, kind):
    assert choose_sampler(space, trials, objectives) == kind


def _campaign(sampler, trials):
    table = {"objective": {"command": ["run", "{out}"]}, "budget": {"trials": trials},
             "search_space": SPACE.to_dict()}
    if sampler is not None:
        table["sampler"] = sampler
    return parse_campaign(table, default_name="c", source_dir=Path("."))


@pytest.mark.parametrize(
    ("sampler", "trials", "kind"),
    [(None, 100, "gp"), (None, 5000, "tpe"), ("auto", 100, "gp"), ("tpe", 100, "tpe"),
     ("gp", 5000, "gp"), ("random", 100, "random")],
)
def test_campaign_default_is_auto_and_a_named_sampler_is_kept(sampler, trials, kind):
    campaign = _campaign(sampler, trials)
    assert campaign.sampler == kind
    assert Campaign.from_dict(campaign.to_dict()).sampler == kind  # stored resolved


@pytest.mark.slow  # GP fits: tens of seconds on a loaded 2-core machine
def test_gp_batch_is_distinct_and_in_bounds(tmp_path):
    """GP proposals asked in one batch after the design: each sees the earlier ones as
    running (Optuna's GP then maximises q-EI over them), so they stay apart."""
    space = SearchSpace.from_mapping({"x": {"type": "float", "low": -5.0, "high": 10.0},
                                      "y": {"type": "float", "low": 1e-3, "high": 10.0,
                                            "log": True}})
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'c.db'}", study_name="s")
    for point in latin_hypercube(space, 4, seed=0):
        study.enqueue_trial(point)
    asker = ViewAsker(study, make_sampler("gp", seed=0, n_startup_trials=4))
    dists = space.distributions()
    for trial in asker.ask(4, dists):
        asker.tell(trial.number, (trial.params["x"] - 1) ** 2 + trial.params["y"])
    batch = asker.ask(4, dists)
    assert [a.user_attrs["source"] for a in batch] == ["sampler"] * 4
    assert len({(a.params["x"], a.params["y"]) for a in batch}) == 4
    for asked in batch:
        assert -5.0 <= asked.params["x"] <= 10.0 and 1e-3 <= asked.params["y"] <= 10.0


@pytest.mark.slow  # GP kernel fits on 128 trials
def test_gp_with_many_running_trials_proposes_a_batch_per_fit(tmp_path, monkeypatch):
    from hpsearch import _gp_active_set as gp
    from hpsearch import _optuna_internals as internals

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'c.db'}")
    dists = SPACE.distributions()
    filler = ViewAsker(study, make_sampler("random", 0, 0))
    done = filler.ask(200, dists)
    for trial in done:
        filler.tell(trial.number, objective(trial.params))
    filler.ask(gp.BATCH_RUNNING + 36, dists)  # left running
    asker = ViewAsker(study, make_sampler("gp", 0, 10))
    fits = []
    fit = internals.gp_fit
    monkeypatch.setattr(internals, "gp_fit", lambda *args: fits.append(1) or fit(*args))

    def plain(*args):
        raise AssertionError("the one-proposal path ran")

    asker.sampler.sample_relative = plain
    trials = asker.ask(48, dists)
    assert len(fits) == 1  # one kernel fit for the whole batch
    params = [t.params for t in trials]
    assert len({tuple(sorted(p.items())) for p in params}) == 48
    for p in params:
        assert p.keys() == dists.keys() and isinstance(p["n"], int)
        for name, dist in dists.items():
            assert dist._contains(dist.to_internal_repr(p[name]))
    mean = sum(map(objective, params)) / len(params)
    assert mean < sum(objective(t.params) for t in done) / len(done) / 4  # the model helps
    # 148 running: one new result per REFIT_PER_RUNNING of them makes a refit (here 2).
    asker.tell(trials[0].number, objective(trials[0].params))
    asker.ask(2, dists)
    assert len(fits) == 1
    asker.tell(trials[1].number, objective(trials[1].params))
    asker.ask(2, dists)
    assert len(fits) == 2


@pytest.mark.slow  # GP fits
@pytest.mark.parametrize("in_flight", [1, 3])
def test_the_last_tenth_of_the_budget_refines_the_best_trial(tmp_path, in_flight):
    """With 12 of a 14-trial budget used, the last 2 (endgame_trials) come from the GP's
    local batch around the best trial; without a trial budget the same study gets the
    plain GP ask."""
    from hpsearch._gp_active_set import endgame_trials

    space = SearchSpace.from_mapping({"x": {"type": "float", "low": 0.0, "high": 1.0},
                                      "y": {"type": "float", "low": 0.0, "high": 1.0},
                                      "n": {"type": "int", "low": 0, "high": 20}})
    dists = space.distributions()

    def bowl(p):
        return (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2 + ((p["n"] - 12) / 20) ** 2

    assert endgame_trials(14) == 2 and endgame_trials(None) == 0
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'c.db'}", study_name="s")
    filler = ViewAsker(study, make_sampler("random", 0, 0))
    for trial in filler.ask(12 - (in_flight - 1), dists):
        filler.tell(trial.number, bowl(trial.params))
    filler.ask(in_flight - 1, dists)  # left running: 12 trials started
    best = min(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.value)

    unbounded = ViewAsker(study, make_sampler("gp", 0, 5))
    unbounded.view.ask(1, dists)
    assert unbounded.view._gp._fit is None  # the plain ask
    asker = ViewAsker(study, make_sampler("gp", 0, 5), budget_trials=14)
    asked = asker.view.ask(2, dists)
    assert asker.view._gp._fit is not None and asker.view._gp._fit.local
    assert len({tuple(sorted(a.params.items())) for a in asked}) == 2
    for a in asked:
        assert abs(a.params["x"] - best.params["x"]) < 0.3
        assert abs(a.params["y"] - best.params["y"]) < 0.3
        assert abs(a.params["n"] - best.params["n"]) <= 6
