"""A whole-file replacement that fails part way (a file-size limit, as a full disk would)
leaves the old file as it was and no temporary file beside it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WRITE_OVER_THE_LIMIT = """
import errno, resource, signal, sys
from pathlib import Path
from workflows.atomic_file import write_text_atomic
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_text_atomic(Path(sys.argv[1]), "x" * 100_000)
except OSError as err:
    print(errno.errorcode[err.errno])
"""


def test_a_write_over_the_file_size_limit_leaves_the_old_file_and_nothing_else(
        tmp_path: Path) -> None:
    target = tmp_path / "driver.json"
    target.write_text('{"pid": 1}\n')
    done = subprocess.run([sys.executable, "-c", WRITE_OVER_THE_LIMIT, str(target)],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "EFBIG", done.stderr
    assert target.read_text() == '{"pid": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["driver.json"]


def test_a_write_replaces_the_file_whole(tmp_path: Path) -> None:
    from workflows.atomic_file import write_text_atomic

    target = tmp_path / "blocks.json"
    write_text_atomic(target, "first\n")
    write_text_atomic(target, "second\n")
    assert target.read_text() == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["blocks.json"]
