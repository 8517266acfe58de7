"""Parsl's own log cannot grow without bound, and never prints a traceback per record."""

from __future__ import annotations

import logging
from pathlib import Path

from hpsearch.sites.parsl_logging import BoundedFileLogging


def test_parsl_log_is_info_and_rotated(tmp_path: Path, capsys) -> None:
    unregister = BoundedFileLogging(max_bytes=20_000, backups=2).initialize_logging(
        log_dir=tmp_path, log_name="parsl")
    logger = logging.getLogger("parsl.test")
    try:
        for i in range(5_000):
            logger.debug("chatter %d", i)
            logger.info("event %d %s", i, "x" * 50)
    finally:
        unregister()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["parsl.log", "parsl.log.1", "parsl.log.2"]
    assert sum((tmp_path / name).stat().st_size for name in files) <= 3 * 20_000 + 200
    text = (tmp_path / "parsl.log").read_text()
    assert "event 4999" in text and "chatter" not in text
    assert capsys.readouterr().err == ""


def test_a_record_that_cannot_be_written_is_dropped_quietly(tmp_path: Path, capsys) -> None:
    unregister = BoundedFileLogging().initialize_logging(log_dir=tmp_path, log_name="parsl")
    handler = next(h for h in logging.getLogger("parsl").handlers
                   if getattr(h, "baseFilename", "").startswith(str(tmp_path)))
    try:
        logging.getLogger("parsl").info("first")
        assert handler.stream is not None
        handler.stream.close()  # as a full disk would fail every write from here on
        logging.getLogger("parsl").info("second")
    finally:
        unregister()
    assert "Logging error" not in capsys.readouterr().err
