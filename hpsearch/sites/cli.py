"""`hpsearch sites list`, `show NAME` (what would run where, nothing submitted) and `probe
NAME` (one probe trial per worker slot: what the threads really get)."""

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

    p = sub.add_parser(
        "probe", help="run one probe trial per worker slot; show every thread's CPU mask",
        description="Starts one probe trial per worker slot through the site's real Parsl "
                    "executor (a batch site submits a block) and prints, per worker and "
                    "rank, the CPU mask of every thread torch and the loader start, torch's "
                    "thread counts, the visible accelerators and the thread variables. Exit "
                    "1 when a binding check fails.")
    p.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help="a shipped site (see 'hpsearch sites list')")
    p.add_argument("--site-file", metavar="FILE", help="your own site file instead of NAME")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override like a campaign's [site] table, e.g. --set workers=2")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds to wait for every probe, queue time included "
                        "(default: %(default)g)")
    p.add_argument("--dir", type=Path, default=None,
                   help="keep the probes' files and Parsl's logs here (default: a folder in "
                        "the current directory, removed after a successful probe)")
    p.set_defaults(func=_probe)

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


def _site_of(args: argparse.Namespace) -> Any:
    from hpsearch.sites.site import load_site

    if args.name is None and args.site_file is None:
        raise UserError(f"sites {args.sites_command}: give a site NAME or --site-file FILE "
                        "(see 'hpsearch sites list')")
    overrides = parse_sets(args.set) or None
    if args.site_file is not None:
        return load_site(args.name or Path(args.site_file).stem, path=args.site_file,
                         overrides=overrides)
    return load_site(args.name, overrides=overrides)


def _show(args: argparse.Namespace) -> int:
    from hpsearch.sites.render import render_site

    print(render_site(_site_of(args)), end="")
    return 0


def _probe(args: argparse.Namespace) -> int:
    from hpsearch.sites.probe import probe

    if args.timeout <= 0:
        raise UserError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    return probe(_site_of(args), args.dir, args.timeout, args.format == "json")
