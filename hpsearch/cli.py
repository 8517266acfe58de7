"""The `hpsearch` command: launch, resume, best, status (plus the sites' and dashboard's).

Each subcommand sets `func(args) -> int`. A `UserError` becomes one line on stderr and exit
code 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from hpsearch.errors import UserError

EPILOG = """\
examples:
  hpsearch launch examples/quickstart.toml            # creates ./<name>/ and runs it
  hpsearch launch campaign.toml --dir /scratch/me/c1  # campaign directory elsewhere
  hpsearch status c1                                  # counts, running trials, best, ETA
  hpsearch best c1 --top 5 --format csv               # best trials with their parameters
  hpsearch resume c1                                  # after Ctrl-C, a kill or a walltime
  hpsearch resume c1 --trials 200 --site polaris      # extend the budget, move the campaign

A campaign directory holds campaign.db (the study: every trial, the campaign itself),
trials/<n>/ (params.json, result.json, progress.jsonl, trial.log) and parsl/ (Parsl logs).
Commands that take CAMPAIGN accept the directory, its campaign.db or a storage URL.
"""

# Modules that add their own subcommands through add_commands(subparsers).
PLUGINS = ("hpsearch.sites.cli", "hpsearch.dashboard.cli")


def _launch(args: argparse.Namespace) -> int:
    from hpsearch.api import Campaign

    return Campaign.from_file(args.campaign).launch(args.dir).exit_code or 0


def _resume(args: argparse.Namespace) -> int:
    from hpsearch.api import CampaignRun
    from hpsearch.sites.cli import parse_sets

    overrides = parse_sets(args.set or [])
    return CampaignRun(args.campaign).resume(trials=args.trials, wall_time=args.wall_time,
                                             site=args.site, site_overrides=overrides or None)


def _best(args: argparse.Namespace) -> int:
    from hpsearch.best import pareto_front, render, rows, shortfall_note, top_trials
    from hpsearch.storage import open_campaign
    from hpsearch.study_summary import trial_rows

    study, _ = open_campaign(args.campaign, read_only=True)
    metric = study.user_attrs["campaign"]["objective"]["metric"]
    table = rows(top_trials(study, args.top), metric)
    # What the other trials are, only when the table is short: their states, read as rows.
    note = (None if len(table) >= args.top
            else shortfall_note(trial_rows(study), len(table), args.top))
    if isinstance(metric, list):  # several objectives: the rows are the Pareto front
        directions = study.user_attrs["campaign"]["objective"]["direction"]
        goals = ", ".join(f"{d} {m}" for m, d in zip(metric, directions, strict=True))
        note = (f"Pareto front ({goals}): {len(pareto_front(study))} trials, none beaten in "
                "every objective by another")
    if not table and args.format != "json":
        print((note or "").replace("only 0 completed trials to show", "no completed trial yet")
              or "no completed trial yet", file=sys.stderr)
        return 0
    print(render(table, args.format))
    if note and args.format == "table":
        print(note, file=sys.stderr)
    return 0


def _status(args: argparse.Namespace) -> int:
    from hpsearch.api import CampaignRun
    from hpsearch.status import render

    print(render(CampaignRun(args.campaign).status()))
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hpsearch",
        description="Hyperparameter search on HPC: a Latin-hypercube design, then TPE or GP, "
                    "trials as Parsl apps, every result in one SQLite file.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("launch", help="create a campaign from a campaign file and run it",
                       description="Validate CAMPAIGN.toml, create the campaign directory and "
                       "its database, enqueue the Latin-hypercube design and run trials until "
                       "the budget is met. Ctrl-C stops cleanly; 'hpsearch resume' continues.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("campaign", metavar="CAMPAIGN.toml")
    p.add_argument("--dir", help="campaign directory to create (default: ./<name>)")
    p.set_defaults(func=_launch)

    p = sub.add_parser("resume", help="continue a stopped or killed campaign",
                       description="Record trials a killed driver left running (from their "
                       "result files when they finished), retry interrupted ones with the same "
                       "parameters, and run until the budget is met. --trials, --wall-time and "
                       "--site extend the budget or move the campaign to another machine; "
                       "finished trials stay as they are and the change is kept in the study.")
    p.add_argument("campaign", metavar="CAMPAIGN", help="campaign directory, .db file or URL")
    p.add_argument("--trials", type=_positive, help="new total trial budget (budget.trials)")
    p.add_argument("--wall-time", metavar="HH:MM:SS",
                   help="new wall time per run of the driver (budget.wall_time)")
    p.add_argument("--site", metavar="NAME", help="continue on another site (name or site file)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a site setting, e.g. --set nodes=4 (repeatable)")
    p.set_defaults(func=_resume)

    p = sub.add_parser("best", help="the best trials and their hyperparameters (read-only)")
    p.add_argument("campaign", metavar="CAMPAIGN", help="campaign directory, .db file or URL")
    p.add_argument("--top", type=_positive, default=10, help="how many trials (default 10)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=_best)

    p = sub.add_parser("status", help="counts by state, running trials, best, ETA (read-only)")
    p.add_argument("campaign", metavar="CAMPAIGN", help="campaign directory, .db file or URL")
    p.set_defaults(func=_status)

    for name in PLUGINS:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.debug:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        if args.debug:
            traceback.print_exc()
        print(f"hpsearch: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("hpsearch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `hpsearch best ... | head`: the reader left; not an error of ours.
        sys.stderr.close()
        return 0
    except Exception as err:
        # A fault of the machine before or after the driver's loop (disk full writing
        # driver.json or the database): one line, as the loop's own faults.
        from hpsearch.driver_faults import EXIT_FAULT, FAULTS, describe_fault

        if args.debug or not isinstance(err, FAULTS):
            raise
        print(f"hpsearch: error: {describe_fault(err)}; free space (or fix the cause) and run "
              "the command again", file=sys.stderr)
        return EXIT_FAULT


if __name__ == "__main__":
    sys.exit(main())
