"""A malformed site file or override is one line naming the field, exit code 2."""

from __future__ import annotations

import pytest

from hpsearch.cli import main
from hpsearch.errors import UserError
from hpsearch.sites import load_site
from hpsearch.sites.parsl_config import build_config

GOOD = """
[scheduler]
provider = "pbspro"
account = "p"
[node]
cores = 32
accelerators = 4
[workers]
per_node = 4
[threads]
intra_op = 8
"""

CASES = [
    ("[workers]\nper_node = 4", "[workers]\nper_node = 0",
     "[workers].per_node must be a positive integer"),
    ("[workers]\nper_node = 4", "[workers]\nper_node = 8",
     "[workers].per_node (8) exceeds the 4 entries of [node].accelerators"),
    ('provider = "pbspro"', 'provider = "cobalt"', "[scheduler].provider must be one of"),
    ("cores = 32", 'cores = "many"', '[node].cores must be a positive integer or "auto"'),
    ("intra_op = 8", "intra_op = 16",
     "[threads].intra_op (16) x [workers].per_node (4) exceeds the node's 32 cores"),
    ("[threads]", '[launcher]\nkind = "qsub"\n[threads]', "[launcher].kind must be one of"),
    ("[threads]", "[workers2]\nx = 1\n[threads]", "[workers2] is not a site table"),
    ("cores = 32", "cores = 32\ncpus = 4", "[node].cpus is not a known key"),
    ("[threads]", '[scheduler.x]\n[threads]', "[scheduler].x is not a known key"),
    ("[threads]", '[environment]\nOMP_NUM_THREADS = "4"\n[threads]',
     "[environment].OMP_NUM_THREADS is set from [threads]"),
    ("[threads]", '[environment]\nKMP_BLOCKTIME = [0]\n[threads]',
     "[environment].KMP_BLOCKTIME must be a string or a number"),
    ("[threads]", '[workers]\n', "not valid TOML"),
    ('account = "p"', 'account = "p"\nwalltime = "1h"',
     '[scheduler].walltime must be a duration "HH:MM:SS"'),
    ('account = "p"', 'account = "p"\nwalltime = 00:30:00',
     '[scheduler].walltime must be a quoted duration: "00:30:00"'),
    ('account = "p"', 'account = "p"\nqos = "debug"',
     '[scheduler].qos applies to provider = "slurm" only'),
    ('per_node = 4', 'per_node = 4\ncpu_affinity = "list"\ncpu_lists = ["0-7"]',
     "[workers].cpu_lists has 1 entries but [workers].per_node is 4"),
    ('account = "p"', 'account = "p"\nnodes_per_block = 2',
     '[launcher].kind = "single_node" starts workers on one node only'),
    ("[threads]", "[mpi]\nnodes_per_trial = 2\n[threads]",
     "[mpi].nodes_per_trial (2) exceeds [scheduler].nodes_per_block (1)"),
    ("[threads]", '[executor]\ndrain_margin = "02:00:00"\n[threads]',
     "[executor].drain_margin (02:00:00) must be shorter than [scheduler].walltime"),
]


@pytest.mark.parametrize(("old", "new", "message"), CASES)
def test_malformed_site_file(tmp_path, capsys, old, new, message):
    assert old in GOOD
    path = tmp_path / "mysite.toml"
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(UserError) as caught:
        load_site(path=path)
    text = str(caught.value)
    assert "\n" not in text and message in text
    assert text.startswith("site file mysite.toml: ") or "not valid TOML" in text
    assert main(["sites", "show", "--site-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_good_file_loads(tmp_path):
    path = tmp_path / "mysite.toml"
    path.write_text(GOOD)
    site = load_site(path=path)
    assert site.name == "mysite" and site.slots == 4 and site.intra_op_threads == 8


@pytest.mark.parametrize(("overrides", "message"), [
    ({"nodes": 0}, "[site].nodes must be a positive integer"),
    ({"colour": "red"}, "[site].colour is not a site override"),
    ({"threads.bogus": 1}, '[site]."threads.bogus": [threads].bogus is not a site setting'),
    ({"workers": 3}, "[workers].per_node (3) exceeds the 2 entries"),
])
def test_bad_overrides(tmp_path, overrides, message):
    path = tmp_path / "mysite.toml"
    path.write_text(GOOD.replace("accelerators = 4", "accelerators = 2")
                    .replace("per_node = 4", "per_node = 2"))
    with pytest.raises(UserError) as caught:
        load_site(path=path, overrides=overrides)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_overrides_apply():
    site = load_site("polaris", overrides={"account": "proj", "queue": "prod", "nodes": 10,
                                           "walltime": "03:00:00",
                                           "workers": {"per_node": 2, "cpu_lists": [],
                                                       "cpu_affinity": "block"},
                                           "threads": {"intra_op": 4}})
    sched = site.settings["scheduler"]
    assert (sched["account"], sched["queue"], sched["nodes_per_block"]) == ("proj", "prod", 10)
    assert site.slots == 20 and site.intra_op_threads == 4
    assert site.settings["scheduler"]["walltime"] == "03:00:00"


def test_unknown_site_and_missing_file(tmp_path, capsys):
    with pytest.raises(UserError, match="unknown site 'nowhere'; known sites: .*local"):
        load_site("nowhere")
    with pytest.raises(UserError, match="no such file"):
        load_site(path=tmp_path / "absent.toml")
    assert main(["sites", "show"]) == 2
    assert "give a site NAME or --site-file" in capsys.readouterr().err


def test_launch_needs_an_account_and_a_real_interface(tmp_path):
    with pytest.raises(UserError, match=r"\[scheduler\].account is empty"):
        build_config(load_site("frontier"), tmp_path)
    with pytest.raises(UserError, match=r"\[executor\].interface 'bond0' is not a network"):
        build_config(load_site("polaris", overrides={"account": "p"}), tmp_path)


def test_trial_larger_than_a_block_is_refused():
    site = load_site("local", overrides={"nodes": 2, "ranks_per_trial": 2})
    assert site.mpi and site.resource_specification()["num_ranks"] == 2
    with pytest.raises(UserError, match="asks for 3 nodes but a block holds 2"):
        site.resource_specification(nodes=3, ranks=3)


def test_cli_in_a_subprocess(tmp_path):
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, "-m", "hpsearch.cli", "sites", "show", "theta-knl"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "OMP_PROC_BIND=close" in shown.stdout
    assert "aprun -n 1 -N 1 -d 256 -j 4 -cc none" in shown.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("per_node = 4", "per_node = -1"))
    failed = subprocess.run([sys.executable, "-m", "hpsearch.cli", "sites", "show",
                             "--site-file", str(bad)], capture_output=True, text=True,
                            timeout=120)
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr == ("hpsearch: error: site file bad.toml: [workers].per_node must be "
                             "a positive integer or \"auto\", got -1\n")


@pytest.mark.parametrize(("site", "message"), [
    ("", "[scheduler].account is empty"),
    ('account = "p"', "[executor].interface 'bond0' is not a network interface"),
])
def test_launch_refuses_before_creating_anything(tmp_path, capsys, site, message):
    campaign = tmp_path / "c.toml"
    campaign.write_text(f"""name = "c"
[objective]
entrypoint = "workflows.examples:branin"
[search_space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
y = {{ type = "float", low = 0.0, high = 1.0 }}
[budget]
trials = 2
[site]
name = "polaris"
{site}
""")
    assert main(["launch", str(campaign), "--dir", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # so the fixed launch is not refused
