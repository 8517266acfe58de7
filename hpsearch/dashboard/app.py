"""The read-only web app: one page, its static assets and JSON endpoints, all behind a token.

On a shared login node any user can connect to 127.0.0.1, so every request must carry the
access token (query string once, then a cookie; or a header for scripts). Only GET and HEAD
exist: nothing here can change the study, and the storage is opened read-only anyway.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, abort, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from hpsearch.dashboard import page, views
from hpsearch.dashboard.campaign_reader import CampaignReader
from hpsearch.dashboard.table_encoder import TableEncoder
from hpsearch.errors import UserError

TOKEN_HEADER = "X-Hpsearch-Token"
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'"
    ),
}


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(host: str) -> str:
    # Cookies ignore the port: two dashboards on one node must not overwrite each other's.
    port = host.rsplit(":", 1)[-1] if ":" in host else "80"
    return f"hpsearch_token_{port if port.isdigit() else 'default'}"


class _ViewCache:
    """Encoded JSON per view, recomputed only when the snapshot it came from changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Any, bytes]] = {}

    def get(self, name: str, key: Any, build: Callable[[], Any]) -> bytes:
        return self.get_encoded(name, key, lambda: json.dumps(
            build(), separators=(",", ":"), allow_nan=False).encode("utf-8"))

    def get_encoded(self, name: str, key: Any, encode: Callable[[], bytes]) -> bytes:
        with self._lock:
            hit = self._entries.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        body = encode()
        with self._lock:
            self._entries[name] = (key, body)
        return body


def create_app(reader: CampaignReader, token: str) -> Flask:
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = 0  # no request bodies: this app only reads
    cache = _ViewCache()
    table = TableEncoder()

    def authorised() -> bool:
        offered = (
            request.args.get("token")
            or request.headers.get(TOKEN_HEADER)
            or _bearer(request.headers.get("Authorization", ""))
            or request.cookies.get(cookie_name(request.host))
        )
        # Compared as bytes: compare_digest refuses str with non-ASCII characters, and any
        # offered token, whatever its characters, is a plain 401 when it is wrong.
        return offered is not None and offered != "" and secrets.compare_digest(
            offered.encode("utf-8", "surrogateescape"), token.encode("utf-8"))

    @app.before_request
    def _guard() -> BaseResponse | None:
        if not authorised():
            return Response(
                "401: open the URL that 'hpsearch dashboard' printed (it carries the token)\n",
                status=401, mimetype="text/plain",
            )
        if request.method not in ("GET", "HEAD"):
            return Response("405: the dashboard is read-only\n", status=405,
                            mimetype="text/plain", headers={"Allow": "GET, HEAD"})
        if "token" in request.args and request.path == "/":
            # Keep the token out of the address bar and history: cookie, then a clean URL.
            rest = {k: v for k, v in request.args.items() if k != "token"}
            target = request.path + ("?" + urlencode(rest) if rest else "")
            response = redirect(target, code=303)
            response.set_cookie(cookie_name(request.host), token, httponly=True,
                                samesite="Strict", path="/")
            return response
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.update(_SECURITY_HEADERS)
        if request.path.startswith("/api/") or request.path == "/":
            response.headers["Cache-Control"] = "no-store"
        return response

    def json_response(body: bytes) -> Response:
        return Response(body, mimetype="application/json")

    def snapshot_view(name: str, build: Callable[[views.Snapshot], Any]) -> Response:
        snap = reader.snapshot()
        return json_response(cache.get(name, snap.version, lambda: build(snap)))

    @app.errorhandler(UserError)
    def _unreadable(exc: UserError) -> Response:
        # The database went away or is damaged: say so, the page shows it and retries.
        return Response(f"503: {exc}\n", status=503, mimetype="text/plain")

    @app.get("/")
    def index() -> Response:
        return Response(page.render_live(reader.study_name), mimetype="text/html")

    @app.get("/static/plotly.min.js")
    def plotly_js() -> Response:
        response = Response(page.plotly_js(), mimetype="text/javascript")
        response.headers["Cache-Control"] = "private, max-age=86400"
        return response

    @app.get("/api/summary")
    def summary() -> Response:
        return snapshot_view("summary", views.overview)

    @app.get("/api/trials")
    def trials() -> Response:
        snap = reader.snapshot()
        return json_response(cache.get_encoded("trials", snap.version,
                                               lambda: table.encode(snap)))

    @app.get("/api/importance")
    def importance() -> Response:
        snap = reader.snapshot()
        # Importances depend only on the complete trials. A fit takes seconds on thousands of
        # trials, so a big campaign refits once the set has grown by about 2 %, not per trial.
        n = sum(1 for t in snap.trials if views.objective(t) is not None)
        key = n - n % max(1, n // 50)
        return json_response(cache.get("importance", key, lambda: views.importance(snap)))

    @app.get("/api/timeline")
    def timeline() -> Response:
        return snapshot_view("timeline", views.timeline)

    @app.get("/api/failures")
    def failures() -> Response:
        return snapshot_view("failures", views.failures)

    @app.get("/api/trial/<int:number>")
    def trial(number: int) -> Response:
        detail = views.trial_detail(reader.snapshot(), number)
        if detail is None:
            abort(404)
        return json_response(json.dumps(detail, allow_nan=False).encode("utf-8"))

    @app.get("/api/trials.csv")
    def trials_csv() -> Response:
        table = views.trial_table(reader.snapshot())
        return Response(table_csv(table), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{reader.study_name}-trials.csv"'})

    @app.get("/api/trials.json")
    def trials_json() -> Response:
        table = views.trial_table(reader.snapshot())
        body = json.dumps(table_records(table), allow_nan=False, indent=1)
        return Response(body, mimetype="application/json", headers={
            "Content-Disposition": f'attachment; filename="{reader.study_name}-trials.json"'})

    return app


def table_records(table: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the trial table as records: params and metrics as nested objects."""
    base, params, metrics = table["columns"], table["params"], table["metrics"]
    records = []
    for row in table["rows"]:
        record = dict(zip(base, row[: len(base)], strict=True))
        record["params"] = dict(zip(params, row[len(base): len(base) + len(params)], strict=True))
        record["metrics"] = dict(zip(metrics, row[len(base) + len(params):], strict=True))
        records.append(record)
    return records


def table_csv(table: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table["columns"] + [f"params_{p}" for p in table["params"]]
                    + [f"metrics_{m}" for m in table["metrics"]])
    writer.writerows(table["rows"])
    return out.getvalue()


def _bearer(value: str) -> str | None:
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials else None
