"""Before a campaign is created: can a trial load the objective's `module:function`?

The check runs in a child process with the trial's PYTHONPATH, so the user's code never runs
inside the driver (its imports, side effects and crashes stay out), and a module that cannot
be imported is one line at launch instead of a campaign of failed trials.
"""

from __future__ import annotations

import os
import subprocess
import sys

from hpsearch.campaign import Campaign
from hpsearch.errors import UserError
from hpsearch.sites import Site

CHECK_TIMEOUT_S = 300.0  # importing a heavy module on a loaded login node can be slow

_PROBE = """
import sys
from workflows.entrypoint import load_target
try:
    load_target(sys.argv[1])
except BaseException as err:
    print(f"{type(err).__name__}: {err}".splitlines()[0][:300], file=sys.stderr)
    sys.exit(3)
"""


def trial_pythonpath(campaign: Campaign, site: Site) -> str:
    """The PYTHONPATH trials get: the campaign file's folder first, then the environment's."""
    path = [campaign.source_dir]
    inherited = str(site.trial_env().get("PYTHONPATH") or os.environ.get("PYTHONPATH") or "")
    if inherited:
        path.append(inherited)
    return os.pathsep.join(path)


def check_entrypoint(campaign: Campaign, site: Site) -> None:
    target = campaign.objective.entrypoint
    if campaign.objective.kind != "entrypoint" or not target:
        return
    # No bytecode written: a refused launch leaves the user's folders as they were.
    env = dict(os.environ, PYTHONPATH=trial_pythonpath(campaign, site),
               PYTHONDONTWRITEBYTECODE="1")
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE, target], env=env,
                               cwd=campaign.source_dir, capture_output=True, text=True,
                               timeout=CHECK_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as err:
        raise UserError(f"objective.entrypoint: importing {target!r} took more than "
                        f"{CHECK_TIMEOUT_S:.0f} s; make its module quick to import") from err
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines()
        why = lines[-1] if lines else f"exit code {probe.returncode}"
        raise UserError(f"objective.entrypoint: {target!r} cannot be loaded ({why}); put its "
                        "module next to the campaign file or on PYTHONPATH")
