"""A campaign driven from Python: launch Branin, read the best trials, extend the budget.

    python examples/api_branin.py [DIRECTORY]

Runs on this machine (site "local") in about a minute; no training involved.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hpsearch

HERE = Path(__file__).resolve().parent


def main(directory: str = "branin-api") -> int:
    campaign = hpsearch.Campaign.from_dict({
        "name": "branin-api",
        "seed": 7,
        "n_init": 5,
        "objective": {"entrypoint": "workflows.examples:branin", "direction": "minimize"},
        "search_space": {"x": {"type": "float", "low": -5.0, "high": 10.0},
                         "y": {"type": "float", "low": 0.0, "high": 15.0}},
        "budget": {"trials": 12, "wall_time": "00:10:00"},
    }, source_dir=HERE)
    try:
        run = campaign.launch(directory=directory)
    except hpsearch.UserError as err:  # e.g. the directory exists: resume it instead
        print(f"error: {err}", file=sys.stderr)
        run = hpsearch.open(directory)
    for row in run.best(top=3):
        print(f"#{row['trial']}: {row['objective']:.4f} at x={row['x']:.3f}, y={row['y']:.3f}")
    run.resume(trials=20)  # eight more trials, the model now knows twelve
    status = run.status()
    print(f"{status['budget_used']} trials used; best {status['best']['value']:.4f} "
          "(global minimum 0.3979)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
