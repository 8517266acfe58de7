"""Where site files are: the ones shipped in `site_configs`, or a path the user gives."""

from __future__ import annotations

import importlib.resources
import tomllib
from pathlib import Path
from typing import Any

from hpsearch.errors import UserError


def shipped_names() -> list[str]:
    folder = importlib.resources.files("site_configs")
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".toml"))


def read_shipped(name: str) -> tuple[str, dict[str, Any]]:
    """(file name, parsed table) of a shipped site; unknown names list the known ones."""
    names = shipped_names()
    if name not in names:
        raise UserError(f"unknown site {name!r}; known sites: {', '.join(names)} "
                        "(or give your own file with --site-file)")
    resource = importlib.resources.files("site_configs").joinpath(f"{name}.toml")
    return f"{name}.toml", _parse(resource.read_text(), f"{name}.toml")


def read_path(path: str | Path) -> tuple[str, dict[str, Any]]:
    path = Path(path).expanduser()
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        raise UserError(f"site file {path}: no such file; check the path") from err
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise UserError(f"site file {path}: cannot read it ({reason})") from err
    return str(path), _parse(text, str(path))


def _parse(text: str, label: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"site file {label}: not valid TOML: {err}; fix the syntax") from err
