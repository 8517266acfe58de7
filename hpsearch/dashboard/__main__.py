"""`python -m hpsearch.dashboard dashboard|report ...`: the two commands without the main CLI."""

from __future__ import annotations

import argparse
import sys

from hpsearch.dashboard.cli import add_commands
from hpsearch.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpsearch.dashboard")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        if args.debug:
            raise
        print(f"hpsearch: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
