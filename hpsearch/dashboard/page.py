"""The one HTML page behind both the live dashboard and the self-contained report."""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

import jinja2
import plotly.offline

_PACKAGE = "hpsearch.dashboard"


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(_PACKAGE, "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )


@functools.cache
def static_text(name: str) -> str:
    """A file shipped under hpsearch/dashboard/static (no network needed, ever)."""
    return resources.files(_PACKAGE).joinpath("static", name).read_text(encoding="utf-8")


@functools.cache
def plotly_js() -> bytes:
    """plotly.min.js as shipped inside the plotly package."""
    return plotly.offline.get_plotlyjs().encode("utf-8")


def _inline_script(text: str) -> str:
    # Inside <script>, only "</script" (any case) ends the element early; "<\/" means the same
    # thing wherever it can occur in our scripts (strings and regular expressions).
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


def _inline_json(payload: str) -> str:
    # "\u003c" is "<" to JSON.parse and nothing at all to the HTML parser.
    return payload.replace("<", "\\u003c")


def render_live(title: str) -> str:
    return _environment().get_template("dashboard.html").render(
        title=title, mode="live", inline=None, generated_note=""
    )


def render_report(title: str, data: dict[str, Any], generated_note: str) -> str:
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
    inline = {
        "css": static_text("dashboard.css"),
        "data": _inline_json(payload),
        "plotly": _inline_script(plotly_js().decode("utf-8")),
        "js": _inline_script(static_text("dashboard.js")),
    }
    return _environment().get_template("dashboard.html").render(
        title=title, mode="report", inline=inline, generated_note=generated_note
    )
