"""python -m models.data: write a synthetic data set for a campaign."""

from __future__ import annotations

import argparse
import sys

from .detector import DEFAULT_SIZE
from .event import KINDS, TASKS
from .writer import write_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.data",
        description="Generate seeded synthetic LArTPC events into an HDF5 file.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--kind", choices=KINDS, default="2d",
                        help="2d: three wire-plane images; 3d: voxels")
    parser.add_argument("--task", choices=TASKS, default="segmentation",
                        help="segmentation: neutrino + cosmics; classification: one particle")
    parser.add_argument("--events", type=int, default=1000, help="number of events")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same file")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE,
                        help="voxels (pixels) per side of the cube (plane image)")
    parser.add_argument("--out", required=True, help="output HDF5 file")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    try:
        if args.events < 1:
            raise ValueError(f"--events must be at least 1, not {args.events}")
        if args.size < 16:
            raise ValueError(f"--size must be at least 16, not {args.size}")
        path = write_dataset(args.out, args.kind, args.events, args.seed, task=args.task,
                             size=args.size, progress=not args.quiet)
    except (OSError, ValueError) as exc:
        if args.debug:
            raise
        print(f"python -m models.data: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("python -m models.data: interrupted, nothing written", file=sys.stderr)
        return 130
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
