"""Replacing a small file whole: a reader sees the old content or the new, never a part.

The text goes to a temporary file beside the target, which is then renamed onto it. When
the write fails (disk full, a file-size limit), the temporary file is removed, so a full
disk leaves the old file and nothing else behind.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
