"""The local Slurm cluster (scripts/slurm-local) for the tests that run on it (slurm/, the probe).

In CI (CI=true) a cluster that cannot start fails these tests; elsewhere they are skipped
when this user cannot start it (not root, or no slurm-wlm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parents[2] / "scripts" / "slurm-local"


@pytest.fixture(scope="session")
def slurm() -> str:
    """Start the cluster (idempotent); returns the partition's name."""
    in_ci = os.environ.get("CI") == "true"
    missing = shutil.which("slurmctld") is None or shutil.which("munged") is None
    if not in_ci and os.geteuid() != 0:
        pytest.skip("the local Slurm cluster needs root: run scripts/slurm-local up as root")
    if not in_ci and missing:
        pytest.skip("needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge)")
    result = subprocess.run([str(SCRIPT), "up"], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.fail(f"scripts/slurm-local up failed: {result.stdout}{result.stderr}")
    return "debug"
