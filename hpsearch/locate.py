"""Find a campaign's storage from what a user types: a campaign directory, a .db file or a URL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hpsearch.errors import UserError

DB_FILENAME = "campaign.db"


@dataclass(frozen=True)
class CampaignLocation:
    url: str  # SQLAlchemy URL of the Optuna storage
    directory: Path | None  # campaign directory (trial folders, logs), when known
    db_path: Path | None  # SQLite file, when the storage is SQLite


def sqlite_url(db_path: Path, read_only: bool = False) -> str:
    if read_only:
        # SQLite URI form: the file is opened read-only, so nothing can change the study.
        return f"sqlite:///file:{db_path.resolve()}?mode=ro&uri=true"
    return f"sqlite:///{db_path.resolve()}"


def locate_campaign(target: str | Path) -> CampaignLocation:
    """Resolve a campaign directory, an SQLite file or an SQLAlchemy URL."""
    text = str(target)
    if "://" in text:
        return CampaignLocation(url=text, directory=None, db_path=None)
    path = Path(text).expanduser()
    if path.is_dir():
        db = path / DB_FILENAME
        if not db.is_file():
            raise UserError(
                f"{path} has no {DB_FILENAME}: give the directory that 'hpsearch launch' created"
            )
        return CampaignLocation(url=sqlite_url(db), directory=path.resolve(), db_path=db.resolve())
    if path.is_file():
        return CampaignLocation(url=sqlite_url(path), directory=path.resolve().parent,
                                db_path=path.resolve())
    raise UserError(
        f"no campaign at {path}: give a campaign directory, its .db file or a storage URL"
    )
