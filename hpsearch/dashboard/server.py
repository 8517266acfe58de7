"""Serving the dashboard: loopback only unless asked, a fresh token, the URL to open."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from hpsearch.dashboard.app import create_app, new_token
from hpsearch.dashboard.campaign_reader import CampaignReader
from hpsearch.dashboard.loopback import check_host
from hpsearch.errors import UserError


class _QuietHandler(WSGIRequestHandler):
    """No line per request: the terminal shows the URL, then stays readable while polling."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class Dashboard:
    server: BaseWSGIServer
    token: str

    @property
    def base_url(self) -> str:
        host = self.server.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.server.port}/"

    @property
    def url(self) -> str:
        return f"{self.base_url}?token={self.token}"

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _warm_up(reader: CampaignReader) -> None:
    try:
        reader.snapshot()
    except UserError:
        pass  # the first request reports it
    importlib.import_module("optuna.importance")


def start_dashboard(
    reader: CampaignReader,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_remote: bool = False,
    token: str | None = None,
) -> Dashboard:
    """Bind the server (port 0: any free port) without serving yet."""
    check_host(host, allow_remote)
    token = token or new_token()
    # The first full read (seconds for 10,000 trials) runs while the user opens the URL;
    # requests wait for it. optuna.importance imports every evaluator, scikit-learn's too when
    # it is installed: also seconds that belong here, not in the first click on "Importance".
    threading.Thread(target=_warm_up, args=(reader,), daemon=True).start()
    try:
        server = make_server(host, port, create_app(reader, token), threaded=True,
                             request_handler=_QuietHandler)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}): "
                        "choose another --port or leave it out for a free one") from exc
    return Dashboard(server=server, token=token)
