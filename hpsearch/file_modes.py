"""Campaign files are private whatever the user's umask: folders 0700, files 0600.

A campaign holds the user's code paths, parameters, logs and results; a permissive umask
(0000 on some shared accounts) must not open them to other users of the machine. The mask is
set for the writing process once, so every file it and its children create (the database,
trial folders, params, logs, Parsl's run directory, the interchange and local workers) gets
these modes without each `open` saying so. Trials on other nodes set it in the Parsl app.
"""

from __future__ import annotations

import os

PRIVATE_UMASK = 0o077


def make_private() -> None:
    """Every file this process (and what it starts) creates from now on is owner-only."""
    os.umask(PRIVATE_UMASK)
