"""The local Slurm cluster (scripts/slurm-local) for the tests in this folder.

In CI (CI=true) a cluster that cannot start fails these tests; elsewhere they are skipped
when this user cannot start it (not root, or no slurm-wlm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/hpsearch: spine_helpers
SCRIPT = HERE.parents[3] / "scripts" / "slurm-local"


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
