"""python -m models.data: write a synthetic data set for a campaign, or print the statistics
of a data file (``--stats FILE``, generated or larcv3) to compare with a real one."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ._detector import DEFAULT_SIZE
from ._wire_detector import DETECTORS
from .event import KINDS, TASKS
from .writer import write_dataset


class _Terminated(Exception):
    pass


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


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
    parser.add_argument("--size", type=int, default=None,
                        help=f"voxels (pixels) per side of the cube (plane image); default "
                             f"{DEFAULT_SIZE}; sbnd-wire: wires per plane, 2048 (default) or a "
                             f"reduced 1024, 512, 256 (a smaller box, same pitch)")
    parser.add_argument("--detector", choices=tuple(DETECTORS), default="cube",
                        help="cube: the default cube read by three square planes; sbnd-wire: "
                             "a surface wire detector, 1280 x 2048 planes, ADC charge with "
                             "noise and a threshold")
    parser.add_argument("--neutrino-fraction", type=float, default=1.0,
                        help="share of segmentation events with a neutrino interaction; the "
                             "others are background only (cosmics, radiological, noise)")
    parser.add_argument("--out", help="output HDF5 file")
    parser.add_argument("--stats", metavar="FILE",
                        help="print occupancy, charge quantiles and label shares of FILE "
                             "instead of generating")
    parser.add_argument("--stats-events", type=int, default=200,
                        help="events --stats reads (from the start of the file)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    if (args.out is None) == (args.stats is None):
        parser.error("give --out FILE to generate, or --stats FILE to summarise a file")
    # a scheduler's SIGTERM becomes an exception, so the writer removes its partial file
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return _run(args)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.stats is not None:
            return _print_stats(args.stats, args.stats_events)
        if args.events < 1:
            raise ValueError(f"--events must be at least 1, not {args.events}")
        if args.size is not None and args.size < 16:
            raise ValueError(f"--size must be at least 16, not {args.size}")
        path = write_dataset(args.out, args.kind, args.events, args.seed, task=args.task,
                             size=args.size, progress=not args.quiet, detector=args.detector,
                             neutrino_fraction=args.neutrino_fraction)
    except (OSError, ValueError) as exc:
        if args.debug:
            raise
        print(f"python -m models.data: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("python -m models.data: interrupted, nothing written", file=sys.stderr)
        return 130
    except _Terminated:
        print("python -m models.data: terminated, nothing written", file=sys.stderr)
        return 143
    print(path)
    return 0


def _print_stats(path: str, max_events: int) -> int:
    from .dataset import open_dataset
    from .stats import file_stats, format_stats

    if max_events < 1:
        raise ValueError(f"--stats-events must be at least 1, not {max_events}")
    dataset = open_dataset(path)
    try:
        print(format_stats(path, file_stats(dataset, max_events)))
    finally:
        dataset.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
