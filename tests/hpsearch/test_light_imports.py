"""What the driver and the read-only commands import, seen in `sys.modules` of a fresh process.

The import contracts in pyproject.toml check the code statically; this checks what really
loads, package `__init__` files and function-level imports included.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna

from hpsearch.campaign import load_campaign
from hpsearch.campaign_setup import resolve_site
from hpsearch.launch import create_campaign
from hpsearch.storage import open_campaign

CAMPAIGN = """
name = "light"
n_init = 3
[objective]
entrypoint = "workflows.examples:branin"
[search_space]
x = { type = "float", low = -5.0, high = 10.0 }
y = { type = "float", low = 0.0, high = 15.0 }
[budget]
trials = 3
"""


def _loaded_after(code: str) -> dict[str, bool]:
    probe = (f"import sys\n{code}\nimport json\n"
             "print(json.dumps({m: m in sys.modules for m in ('torch', 'scipy', 'parsl')}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_driver_imports_no_torch():
    loaded = _loaded_after("import hpsearch.cli, hpsearch.driver, hpsearch.launch, "
                           "hpsearch.resume, workflows.apps, workflows.trial_io")
    assert loaded["torch"] is False


def test_read_only_commands_import_no_torch_scipy_or_parsl(tmp_path: Path):
    file = tmp_path / "light.toml"
    file.write_text(CAMPAIGN)
    campaign = load_campaign(file)
    directory = tmp_path / "light"
    create_campaign(campaign, resolve_site(campaign), directory, CAMPAIGN)
    study, _ = open_campaign(str(directory))
    for value in (3.0, 1.0, 2.0):
        trial = study.ask()
        study.tell(trial, value)
    assert optuna.load_study(study_name="light", storage=study._storage).best_value == 1.0
    code = ("from hpsearch.cli import main\n"
            f"for argv in (['status', {str(directory)!r}], ['best', {str(directory)!r}], "
            "['sites', 'list']):\n"
            "    assert main(argv) == 0, argv\n")
    assert _loaded_after(code) == {"torch": False, "scipy": False, "parsl": False}
