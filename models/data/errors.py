"""The one error type a missing or unreadable data file raises."""

from __future__ import annotations


class DataFileError(ValueError):
    """A data file is missing, corrupt or of an unknown layout; the message is one line."""


class DataFileNotFound(DataFileError, FileNotFoundError):
    """The data file does not exist."""
