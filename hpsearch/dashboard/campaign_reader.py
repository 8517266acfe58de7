"""Read a campaign's Optuna storage without ever writing to it, keeping an incremental cache.

Finished trials never change in Optuna, so after the first full read only the trials that
were still waiting or running, and the ones added since, are fetched again: a refresh of a
10,000-trial campaign costs as much as its unfinished trials, not the whole study.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from optuna.exceptions import StorageInternalError
from optuna.trial import FrozenTrial, TrialState

from hpsearch._optuna_internals import rdb_trials
from hpsearch.dashboard.bulk_trials import read_all_trials
from hpsearch.errors import UserError
from hpsearch.locate import CampaignLocation
from hpsearch.storage import first_line, open_storage, pick_study, read_only_url

__all__ = ["CampaignReader", "Snapshot", "read_only_url"]

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@dataclass(frozen=True)
class Snapshot:
    """What the storage held at one moment; every view is computed from one snapshot."""

    study_name: str
    directions: tuple[str, ...]  # "minimize" / "maximize", one per objective
    study_user_attrs: dict[str, Any]
    trials: tuple[FrozenTrial, ...]  # ordered by trial number
    version: int  # changes whenever anything the views show has changed
    taken_at: datetime  # naive local time, like Optuna's own datetimes
    directory: Path | None  # campaign directory (trial logs), when known
    param_distributions: dict[str, Any] = field(default_factory=dict)

    @property
    def direction(self) -> str:
        return self.directions[0]


class CampaignReader:
    """Thread-safe, read-only, incrementally refreshed view of one study."""

    def __init__(
        self,
        location: CampaignLocation,
        study_name: str | None = None,
        min_refresh_s: float = 1.0,
    ) -> None:
        self.location = location
        self.min_refresh_s = min_refresh_s
        self._lock = threading.Lock()
        self._storage = open_storage(read_only_url(location), read_only=True)
        study = pick_study(self._storage, str(location.directory or location.url), study_name)
        self._study_id, self._study_name = study._study_id, study.study_name
        self._trials: dict[int, FrozenTrial] = {}  # trial_id -> trial
        self._max_trial_id = -1
        self._version = 0
        self._snapshot: Snapshot | None = None
        self._refreshed_at = 0.0

    @property
    def study_name(self) -> str:
        return self._study_name

    def snapshot(self, max_age_s: float | None = None) -> Snapshot:
        """The latest snapshot, refreshed from the storage when older than ``max_age_s``."""
        limit = self.min_refresh_s if max_age_s is None else max_age_s
        with self._lock:
            if self._snapshot is None or time.monotonic() - self._refreshed_at >= limit:
                self._refresh()
            assert self._snapshot is not None
            return self._snapshot

    def _first_read(self) -> list[FrozenTrial]:
        try:
            return read_all_trials(self._storage, self._study_id)
        except _first_read_fallback_errors():
            # A storage schema this reader does not know: Optuna's own (slower) read.
            return rdb_trials(self._storage, self._study_id, set(), -1)

    def _refresh(self) -> None:
        unfinished = {tid for tid, t in self._trials.items() if t.state not in _FINISHED}
        try:
            if self._max_trial_id < 0:
                fresh = self._first_read()
            else:
                # Optuna's own incremental query: the unfinished ids plus everything newer.
                fresh = rdb_trials(self._storage, self._study_id, unfinished, self._max_trial_id)
            attrs = self._storage.get_study_user_attrs(self._study_id)
            directions = self._storage.get_study_directions(self._study_id)
        except (sqlalchemy.exc.SQLAlchemyError, StorageInternalError) as exc:
            raise UserError(f"cannot read the campaign database: {first_line(exc)}") from exc
        changed = self._snapshot is None or attrs != self._snapshot.study_user_attrs
        for trial in fresh:
            old = self._trials.get(trial._trial_id)
            if old is None or old != trial:  # FrozenTrial compares every field
                changed = True
            self._trials[trial._trial_id] = trial
            self._max_trial_id = max(self._max_trial_id, trial._trial_id)
        if changed:
            self._version += 1
        trials = tuple(sorted(self._trials.values(), key=lambda t: t.number))
        distributions: dict[str, Any] = {}
        for trial in trials:
            for name, dist in trial.distributions.items():
                distributions.setdefault(name, dist)
        self._snapshot = Snapshot(
            study_name=self._study_name,
            directions=tuple(d.name.lower() for d in directions),
            study_user_attrs=attrs,
            trials=trials,
            version=self._version,
            taken_at=datetime.now(),
            directory=self.location.directory,
            param_distributions=distributions,
        )
        self._refreshed_at = time.monotonic()


def _first_read_fallback_errors() -> tuple[type[Exception], ...]:
    return (KeyError, AttributeError, TypeError, ValueError, sqlalchemy.exc.SQLAlchemyError)
