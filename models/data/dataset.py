"""Open a data file whatever its layout (the project's own or larcv3)."""

from __future__ import annotations

import os

from ._hdf5_file import GENERATE_HINT, open_hdf5
from .errors import DataFileError
from .larcv3 import Larcv3Dataset, is_larcv3
from .sparse_dataset import FORMAT, SparseDataset


def open_dataset(
    path: str | os.PathLike[str], **larcv3_options: str
) -> SparseDataset | Larcv3Dataset:
    """``larcv3_options``: ``producer`` / ``label_producer`` for larcv3 files."""
    with open_hdf5(path) as f:
        own = f.attrs.get("format") == FORMAT
        larcv = not own and is_larcv3(f)
    if own:
        return SparseDataset(path)
    if larcv:
        return Larcv3Dataset(path, **larcv3_options)
    raise DataFileError(f"data file {path} is neither a {FORMAT} file nor a larcv3 sparse "
                        f"file: {GENERATE_HINT}")
