"""`hpsearch sites list` and `hpsearch sites show NAME`: what would run where, nothing submitted."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hpsearch.errors import UserError


def add_commands(subparsers: Any) -> None:
    sites = subparsers.add_parser(
        "sites", help="the machines hpsearch knows: list them, show one resolved",
        description="Site files describe a machine: scheduler, launcher, node shape, workers, "
                    "threads, environment. 'show' prints the resolved settings, the Parsl "
                    "Config and the batch-script header; nothing is submitted.")
    sub = sites.add_subparsers(dest="sites_command", metavar="SUBCOMMAND")

    p = sub.add_parser("list", help="the shipped sites, one line each")
    p.set_defaults(func=_list)

    p = sub.add_parser("show", help="one site resolved: settings, Parsl Config, batch header")
    p.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help="a shipped site (see 'hpsearch sites list')")
    p.add_argument("--site-file", metavar="FILE", help="your own site file instead of NAME")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override like a campaign's [site] table, e.g. --set nodes=4 "
                        "--set account=myproj (repeatable)")
    p.set_defaults(func=_show)

    sites.set_defaults(func=lambda args: _help(sites))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _list(args: argparse.Namespace) -> int:
    from hpsearch.sites.catalog import shipped_names
    from hpsearch.sites.site import load_site

    rows = []
    for name in shipped_names():
        site = load_site(name)
        sched = site.settings["scheduler"]
        rows.append((name, sched["provider"], str(site.workers_per_node),
                     str(len(site.settings["node"]["accelerators"])),
                     site.settings["site"]["description"]))
    header = ("NAME", "SCHEDULER", "WORKERS/NODE", "ACCEL", "DESCRIPTION")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
              + "  " + row[4])
    return 0


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`--set key=value` pairs, the value read as TOML (4, true, "x") or else as text."""
    import datetime
    import tomllib

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. --set nodes=4")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        if isinstance(value, datetime.date | datetime.time):
            value = raw.strip()  # walltime=00:05:00 is a duration, not a TOML time
        out[key.strip()] = value
    return out


def _show(args: argparse.Namespace) -> int:
    from hpsearch.sites.render import render_site
    from hpsearch.sites.site import load_site

    if args.name is None and args.site_file is None:
        raise UserError("sites show: give a site NAME or --site-file FILE "
                        "(see 'hpsearch sites list')")
    overrides = parse_sets(args.set) or None
    if args.site_file is not None:
        site = load_site(args.name or Path(args.site_file).stem, path=args.site_file,
                         overrides=overrides)
    else:
        site = load_site(args.name, overrides=overrides)
    print(render_site(site), end="")
    return 0
