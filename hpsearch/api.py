"""The Python API: what the `hpsearch` command does, from a script or a notebook.

    import hpsearch

    run = hpsearch.Campaign.from_file("examples/branin.toml").launch(directory="branin")
    print(run.best(top=3))
    hpsearch.open("branin").resume(trials=60, wall_time="01:00:00", site="local")

Errors a user can cause are `hpsearch.UserError` with the same one line the CLI prints.
The read methods open the database read-only each time, so they show a running campaign.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from hpsearch.campaign import Campaign as CampaignSpec
from hpsearch.campaign import load_campaign
from hpsearch.errors import UserError
from hpsearch.progress_line import ProgressLine


def _display(quiet: bool) -> ProgressLine:
    return ProgressLine(io.StringIO(), live=False) if quiet else ProgressLine()


class Campaign:
    """A validated campaign file, ready to launch."""

    def __init__(self, spec: CampaignSpec, text: str):
        self.spec = spec  # the resolved campaign: defaults filled in
        self._text = text

    @classmethod
    def from_file(cls, path: str | Path) -> Campaign:
        spec = load_campaign(path)
        return cls(spec, Path(path).expanduser().read_text())

    @classmethod
    def from_dict(cls, table: dict[str, Any], source_dir: str | Path = ".") -> Campaign:
        """The campaign file's tables as a dict; relative paths start at `source_dir`."""
        spec = CampaignSpec.from_dict({**table, "source_dir": str(Path(source_dir).resolve())})
        return cls(spec, json.dumps(table, indent=2, default=str))

    @property
    def name(self) -> str:
        return self.spec.name

    def to_dict(self) -> dict[str, Any]:
        return self.spec.to_dict()

    def launch(self, directory: str | Path | None = None, quiet: bool = False) -> CampaignRun:
        """Create the campaign directory and run it until the budget is met (or a stop)."""
        from hpsearch.launch import launch_campaign

        path, code = launch_campaign(self.spec, self._text,
                                     None if directory is None else str(directory),
                                     _display(quiet))
        run = CampaignRun(str(path))
        run.exit_code = code
        return run


class CampaignRun:
    """A campaign that exists: its directory, its .db file or a storage URL."""

    def __init__(self, target: str | Path):
        self.target = str(target)
        self.exit_code: int | None = None  # of the last launch or resume: 0 when the budget is met

    def __repr__(self) -> str:
        return f"hpsearch.open({self.target!r})"

    def resume(self, trials: int | None = None, wall_time: str | None = None,
               site: str | None = None, site_overrides: dict[str, Any] | None = None,
               quiet: bool = False) -> int:
        """Continue the campaign, with a new budget, wall time per run or site when given."""
        from hpsearch.resume import resume

        self.exit_code = resume(self.target, _display(quiet), trials=trials,
                                wall_time=wall_time, site_name=site, overrides=site_overrides)
        return self.exit_code

    def _study(self) -> Any:
        from hpsearch.storage import open_campaign

        return open_campaign(self.target, read_only=True)[0]

    def status(self) -> dict[str, Any]:
        """Counts by state, budget used, best, running trials, throughput and ETA."""
        from hpsearch.status import summarize

        return summarize(self._study())

    def best(self, top: int = 5) -> list[dict[str, Any]]:
        """The best trials as rows (rank, trial, metric, source, parameters, wall time)."""
        from hpsearch.best import rows, top_trials

        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise UserError(f"top: must be a whole number >= 1, got {top!r}")
        study = self._study()
        return rows(top_trials(study, top), study.user_attrs["campaign"]["objective"]["metric"])

    def trials(self) -> list[dict[str, Any]]:
        """Every trial as a flat dict: number, state, value, params_*, user attributes."""
        study = self._study()
        out = []
        for trial in study.get_trials(deepcopy=False):
            row: dict[str, Any] = {"number": trial.number, "state": trial.state.name,
                                   "value": trial.value if len(trial.values or []) == 1
                                   else trial.values,
                                   "datetime_start": trial.datetime_start,
                                   "datetime_complete": trial.datetime_complete}
            row.update({f"params_{k}": v for k, v in trial.params.items()})
            row.update({f"user_attrs_{k}": v for k, v in trial.user_attrs.items()
                        if not isinstance(v, dict | list)})
            out.append(row)
        return out

    def trials_dataframe(self) -> Any:
        """`trials()` as a pandas DataFrame (pandas is optional: `pip install pandas`)."""
        try:
            import pandas  # type: ignore[import-untyped]  # optional, untyped
        except ImportError as err:
            raise UserError("trials_dataframe needs pandas: pip install pandas, or use "
                            "trials() for plain dicts") from err
        return pandas.DataFrame(self.trials())


def open(target: str | Path) -> CampaignRun:  # noqa: A001 - the API's verb, like io.open
    """The campaign behind a directory, a campaign.db file or a storage URL (checked now)."""
    from hpsearch.storage import open_campaign

    open_campaign(str(target), read_only=True)
    return CampaignRun(target)
