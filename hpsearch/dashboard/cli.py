"""`hpsearch dashboard` and `hpsearch report`: argument parsing and the one-line output."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from hpsearch.errors import UserError
from hpsearch.locate import locate_campaign

# Kept in step with hpsearch.dashboard.report.MAX_DETAILS; the web stack is imported only
# when a command runs, so `hpsearch --help` stays fast on a login node.
MAX_TRIAL_PAGES = 500


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    dash = subparsers.add_parser(
        "dashboard", help="serve a read-only web dashboard of a campaign",
        description="Serve a read-only web dashboard of a campaign (live while it runs). "
        "Prints the URL to open; it carries a random access token.",
    )
    dash.add_argument("campaign", help="campaign directory, its campaign.db, or a storage URL")
    dash.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default: %(default)s, this machine only)")
    dash.add_argument("--port", type=int, default=0,
                      help="port to listen on (default: a free one)")
    dash.add_argument("--allow-remote", action="store_true",
                      help="allow a --host that other machines can reach")
    dash.add_argument("--study", help="study name, when the database holds several")
    dash.set_defaults(func=run_dashboard)

    rep = subparsers.add_parser(
        "report", help="write the dashboard as one self-contained HTML file",
        description="Write every dashboard view into one HTML file that opens without a "
        "network (data and plotting library inlined).",
    )
    rep.add_argument("campaign", help="campaign directory, its campaign.db, or a storage URL")
    rep.add_argument("-o", "--output", type=Path, default=Path("report.html"),
                     help="file to write (default: %(default)s)")
    rep.add_argument("--study", help="study name, when the database holds several")
    rep.add_argument("--max-trial-pages", type=int, default=MAX_TRIAL_PAGES,
                     help="trial pages to include, best first (default: %(default)s)")
    rep.set_defaults(func=run_report)


def run_dashboard(args: argparse.Namespace) -> int:
    from hpsearch.dashboard.loopback import check_host

    # Mistakes first, before the web stack loads or the database opens.
    check_host(args.host, args.allow_remote)
    location = locate_campaign(args.campaign)
    from hpsearch.dashboard.campaign_reader import CampaignReader
    from hpsearch.dashboard.server import start_dashboard

    reader = CampaignReader(location, study_name=args.study)
    dashboard = start_dashboard(reader, host=args.host, port=args.port,
                                allow_remote=args.allow_remote)
    port = dashboard.server.port
    print(f"hpsearch dashboard of '{reader.study_name}' (read-only), Ctrl-C to stop", flush=True)
    print(f"  open {dashboard.url}", flush=True)
    if args.host in ("127.0.0.1", "localhost", "::1"):
        print(f"  from another machine: ssh -L {port}:127.0.0.1:{port} {socket.getfqdn()}, "
              "then open the same URL", flush=True)
    try:
        dashboard.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        dashboard.shutdown()
    return 0


def run_report(args: argparse.Namespace) -> int:
    location = locate_campaign(args.campaign)
    if not args.output.expanduser().parent.is_dir():
        raise UserError(f"cannot write {args.output}: its folder does not exist")
    from hpsearch.dashboard.campaign_reader import CampaignReader
    from hpsearch.dashboard.report import write_report

    reader = CampaignReader(location, study_name=args.study)
    out = write_report(reader, args.output, max_details=max(args.max_trial_pages, 0))
    print(f"wrote {out}", file=sys.stdout, flush=True)
    return 0
