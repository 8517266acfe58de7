"""Errors a user can cause: the CLI prints their one-line message and exits 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix: bad campaign file, unknown site, missing database...

    The message is one line that says what is wrong and what to do.
    """

    exit_code = 2
