"""Open an HDF5 data file for reading, turning every failure into one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from .errors import DataFileError, DataFileNotFound

GENERATE_HINT = "generate one with 'python -m models.data --out FILE'"


def open_hdf5(path: str | os.PathLike[str]) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise DataFileNotFound(f"data file {path} does not exist: fix the path or {GENERATE_HINT}")
    if path.is_dir():
        raise DataFileError(f"data file {path} is a directory: give the path of an HDF5 file")
    try:
        # No file locks: trials only read a file that is complete before it gets its name,
        # and parallel filesystems without flock support make locking reads fail.
        return h5py.File(path, "r", locking=False)
    except OSError as exc:
        reason = str(exc).split("(")[0].strip().rstrip(":") or type(exc).__name__
        raise DataFileError(
            f"data file {path} is not a readable HDF5 file ({reason}): "
            f"it may be truncated or corrupt; regenerate it or {GENERATE_HINT}"
        ) from None
