"""The campaign file: read, validated and resolved before anything is created.

A campaign is stored, resolved (defaults filled in), in the study's user attributes, so
`hpsearch resume` rebuilds it from the database alone: `Campaign.from_dict(c.to_dict()) == c`.
Every mistake is a `UserError` whose one line starts with the field it is about.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpsearch.constraints import Constraint, parse_constraints
from hpsearch.errors import UserError
from hpsearch.model_space import check_space
from hpsearch.objective import Objective
from hpsearch.samplers import CAMPAIGN_SAMPLERS, choose_sampler
from hpsearch.space import SearchSpace
from hpsearch.wall_time import format_wall_time, parse_wall_time

PRUNERS = ("none", "median", "hyperband")
TOP_KEYS = ("name", "storage", "objective", "search_space", "n_init", "sampler", "pruner",
            "seed", "budget", "concurrency", "site", "warm_start", "constraints")
BUDGET_KEYS = ("trials", "wall_time")
SITE_KEYS = ("name", "file")  # everything else in [site] overrides the site file
MAX_FILE_BYTES = 1024 * 1024  # stored in the study: settings only, never data
MAX_WALL_TIME_S = 366 * 24 * 3600
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Budget:
    """When the campaign is done. `trials` counts finished trials that used the budget:
    COMPLETE, PRUNED and FAIL that were not interrupted (an interrupted trial is retried).
    `wall_time_s` bounds each run of the driver (launch or resume): one allocation."""

    trials: int | None = None
    wall_time_s: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.trials is not None:
            out["trials"] = self.trials
        if self.wall_time_s is not None:
            out["wall_time"] = format_wall_time(self.wall_time_s)
        return out


@dataclass(frozen=True)
class SiteChoice:
    name: str = "local"
    file: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, **self.overrides}
        if self.file:
            out["file"] = self.file
        return out


@dataclass(frozen=True)
class Campaign:
    name: str
    objective: Objective
    space: SearchSpace
    n_init: int
    budget: Budget
    sampler: str = "tpe"
    pruner: str = "none"
    seed: int = 0
    storage: str | None = None  # SQLAlchemy URL; None: SQLite campaign.db in the directory
    concurrency: int | None = None  # None: the site's slots
    site: SiteChoice = field(default_factory=SiteChoice)
    source_dir: str = "."  # where the campaign file was: relative paths and imports start here
    warm_start: tuple[str, ...] = ()  # earlier campaigns (directories or URLs) to start from
    constraints: tuple[Constraint, ...] = ()  # on reported metrics, e.g. peak_memory_mb <= 8000

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "objective": self.objective.to_dict(),
            "search_space": self.space.to_dict(),
            "n_init": self.n_init,
            "budget": self.budget.to_dict(),
            "sampler": self.sampler,
            "pruner": self.pruner,
            "seed": self.seed,
            "site": self.site.to_dict(),
            "source_dir": self.source_dir,
        }
        if self.storage is not None:
            out["storage"] = self.storage
        if self.concurrency is not None:
            out["concurrency"] = self.concurrency
        if self.warm_start:
            out["warm_start"] = list(self.warm_start)
        if self.constraints:
            out["constraints"] = [str(c) for c in self.constraints]
        return out

    @classmethod
    def from_dict(cls, table: dict[str, Any]) -> Campaign:
        table = dict(table)
        source_dir = table.pop("source_dir", ".")
        return parse_campaign(table, default_name=str(table.get("name", "campaign")),
                              source_dir=Path(source_dir))


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file; any mistake is a one-line UserError."""
    path = Path(path).expanduser()
    text = read_campaign_text(path)
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: not valid TOML: {err}; fix the syntax") from err
    try:
        return parse_campaign(table, default_name=path.stem, source_dir=path.resolve().parent)
    except UserError as err:
        raise UserError(f"{path}: {err}") from err


def read_campaign_text(path: Path) -> str:
    """The file's text: at most MAX_FILE_BYTES of UTF-8 without a byte-order mark."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as err:
        raise UserError(f"{path}: no such campaign file; check the path") from err
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise UserError(f"{path}: cannot read the campaign file ({reason})") from err
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB; a campaign file "
                        "holds settings only: keep data and code in files it names")
    if data.startswith(b"\xef\xbb\xbf"):
        raise UserError(f"{path}: starts with a UTF-8 byte-order mark; save it as UTF-8 "
                        "without BOM")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise UserError(f"{path}: not UTF-8 (byte 0x{data[err.start]:02x} on line {line}); "
                        "save it as UTF-8") from err


def _integer(field_name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{field_name}: must be an integer, got {value!r}")
    if value < minimum:
        raise UserError(f"{field_name}: must be at least {minimum}, got {value}")
    return value


def _choice(field_name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UserError(f"{field_name}: must be one of {', '.join(allowed)}, got {value!r}")
    return value


def budget_wall_time(value: Any, field: str = "budget.wall_time") -> int:
    """A run's wall time in seconds: longer than zero, at most a year; `field` names where
    it was given (the campaign file, or `resume --wall-time`)."""
    try:
        seconds = parse_wall_time(value)
    except ValueError as err:
        raise UserError(f"{field}: {err}") from err
    if seconds <= 0:
        raise UserError(f"{field}: must be longer than zero, got {value!r}")
    if seconds > MAX_WALL_TIME_S:
        raise UserError(f"{field}: at most {format_wall_time(MAX_WALL_TIME_S)} "
                        f"(a year), got {value!r}")
    return seconds


def _design_fits(n_init: int, budget: Budget, given: bool, warm_start: bool) -> int:
    """n_init within the trial budget: design points beyond it would wait for ever. The
    default design (2 * dimension + 1) shrinks to the budget; a given one is refused. With
    a warm start, priors stand in for design points: `launch` checks what is left."""
    if budget.trials is None or n_init <= budget.trials or warm_start:
        return n_init
    if not given:
        return budget.trials
    raise UserError(f"n_init: {n_init} design points but budget.trials is {budget.trials}; "
                    "lower n_init or raise the budget")


def _budget(table: Any) -> Budget:
    if not isinstance(table, dict):
        raise UserError("budget: must be a table, e.g. [budget] trials = 100")
    for key in table:
        if key not in BUDGET_KEYS:
            raise UserError(f"budget.{key}: unknown key; allowed: {', '.join(BUDGET_KEYS)}")
    if not table:
        raise UserError('budget: empty; set budget.trials and/or budget.wall_time = "HH:MM:SS"')
    trials = _integer("budget.trials", table["trials"], 1) if "trials" in table else None
    wall = budget_wall_time(table["wall_time"]) if "wall_time" in table else None
    return Budget(trials=trials, wall_time_s=wall)


def _site(value: Any) -> SiteChoice:
    if isinstance(value, str):
        return SiteChoice(name=value)
    if not isinstance(value, dict):
        raise UserError('site: must be a site name or a table, e.g. [site] name = "local"')
    name = value.get("name", "local")
    if not isinstance(name, str) or not name:
        raise UserError(f"site.name: must be a site name (string), got {name!r}")
    file = value.get("file")
    if file is not None and not isinstance(file, str):
        raise UserError(f"site.file: must be a path to a site file, got {file!r}")
    overrides = {k: v for k, v in value.items() if k not in SITE_KEYS}
    return SiteChoice(name=name, file=file, overrides=overrides)


def parse_campaign(table: dict[str, Any], default_name: str, source_dir: Path) -> Campaign:
    for key in table:
        if key not in TOP_KEYS:
            raise UserError(f"{key}: unknown key; allowed top-level keys: {', '.join(TOP_KEYS)}")
    name = table.get("name", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserError(
            f"name: {name!r} is not a valid campaign name; use letters, digits, '_', '-', '.'"
        )
    storage = table.get("storage")
    if storage is not None and (not isinstance(storage, str) or "://" not in storage):
        raise UserError(
            f"storage: must be an SQLAlchemy URL such as \"postgresql://host/db\", got "
            f"{storage!r}; leave it out for SQLite inside the campaign directory"
        )
    if "objective" not in table:
        raise UserError(
            "objective: missing; add an [objective] table with model, entrypoint or command"
        )
    objective = Objective.from_mapping(table["objective"])
    if "search_space" not in table:
        raise UserError(
            'search_space: missing; add e.g. [search_space] lr = { type = "float", low = 1e-4, '
            "high = 1e-1, log = true }"
        )
    space = SearchSpace.from_mapping(table["search_space"])
    if objective.kind == "model":
        check_space(objective.model or "", space)
    n_init = _integer("n_init", table.get("n_init", 2 * space.dimension + 1), 0)
    sampler = _choice("sampler", table.get("sampler", "auto"), CAMPAIGN_SAMPLERS)
    pruner = _choice("pruner", table.get("pruner", "none"), PRUNERS)
    seed = _integer("seed", table.get("seed", 0), 0)
    if "budget" not in table:
        raise UserError('budget: missing; add [budget] trials = N and/or wall_time = "HH:MM:SS"')
    budget = _budget(table["budget"])
    if sampler == "auto":  # stored resolved, so a resume keeps the sampler it started with
        sampler = choose_sampler(space, budget.trials, len(objective.metrics))
    n_init = _design_fits(n_init, budget, given="n_init" in table,
                          warm_start=bool(table.get("warm_start")))
    concurrency = table.get("concurrency")
    if concurrency is not None:
        concurrency = _integer("concurrency", concurrency, 1)
    return Campaign(
        name=name, objective=objective, space=space, n_init=n_init, budget=budget,
        sampler=sampler, pruner=pruner, seed=seed, storage=storage, concurrency=concurrency,
        site=_site(table.get("site", "local")), source_dir=str(source_dir),
        warm_start=_warm_start(table.get("warm_start", [])),
        constraints=parse_constraints(table.get("constraints", [])),
    )


def _warm_start(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UserError('warm_start: must be a list of campaign directories or storage URLs, '
                        f'e.g. warm_start = ["../earlier"], got {value!r}')
    return tuple(value)
