"""Optuna's private names that hpsearch uses are all there, or the test names the missing."""

from __future__ import annotations

import ast
from pathlib import Path

import optuna

from hpsearch import _optuna_internals

PACKAGE = Path(_optuna_internals.__file__).resolve().parent


def test_every_private_optuna_name_is_present():
    missing = _optuna_internals.missing_names()
    assert not missing, (
        f"Optuna {optuna.__version__} lacks names hpsearch relies on: {', '.join(missing)}; "
        "adapt hpsearch/_optuna_internals.py or keep the Optuna range in pyproject.toml"
    )


def test_a_missing_name_is_named(monkeypatch):
    monkeypatch.setattr(_optuna_internals, "PRIVATE_IMPORTS",
                        (*_optuna_internals.PRIVATE_IMPORTS, ("optuna.study._frozen", "Gone")))
    assert _optuna_internals.missing_names() == ["optuna.study._frozen.Gone"]


def test_only_the_internals_module_imports_optuna_private_modules():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_optuna_internals.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.name}: {n}" for n in names
                          if n.startswith("optuna") and "._" in n]
    assert not offenders
