"""Which per-pixel labels a segmentation trial learns, and their class names, from the file.

Generated files carry two label sets: ``semantic`` (the five particle-type classes) and
``origin`` (background / cosmic / neutrino, the cosmic-tagging task). A larcv3 file carries
the one its label product holds. Class count and names come from the file, so the network
head and the metric names follow whatever the file defines.
"""

from __future__ import annotations

from typing import Any

from .errors import DataFileError

LABEL_SETS: tuple[str, ...] = ("semantic", "origin")


def choose_labels(dataset: Any, labels: str | None = None) -> tuple[str, tuple[str, ...]]:
    """(label set, class names) of ``dataset`` for ``labels``; None takes the file's own
    (semantic when it carries both). Raises DataFileError (one line) when the file lacks them.
    """
    if labels is not None and labels not in LABEL_SETS:
        raise ValueError(f"labels must be one of {', '.join(LABEL_SETS)}, not {labels!r}")
    carried: dict[str, tuple[str, ...]] = dict(getattr(dataset, "label_classes", {}) or {})
    path = getattr(dataset, "path", "the data file")
    if labels is None:
        if not carried:
            raise DataFileError(f"data {path} carries no per-pixel labels to train on")
        labels = next(name for name in (*LABEL_SETS, *carried) if name in carried)
    if labels not in carried:
        has = ", ".join(carried) if carried else "none"
        hint = f"; set labels to one it has ({has})" if carried else ""
        raise DataFileError(f"data {path} carries no {labels} labels (per-pixel label sets "
                            f"in it: {has}){hint}")
    classes = tuple(str(name) for name in carried[labels])
    if len(classes) < 2:
        raise DataFileError(f"data {path} names {len(classes)} {labels} classes; a "
                            "segmentation needs at least two")
    return labels, classes
