"""The built-in task: train one of the package's sparse networks on generated LArTPC events.

`[objective] model = "uresnet2d"` runs `python -m workflows.train` per trial. The dataset is
generated once per campaign (`python -m models.data ...` in a subprocess, so the driver never
imports torch) into `<campaign>/data/train.h5`, unless `data` names an existing file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from hpsearch.errors import UserError
from models.tasks import DEFAULT_METRIC, MODEL_TASKS  # plain tables: no torch

MODELS = {name: (shape["kind"], shape["task"]) for name, shape in MODEL_TASKS.items()}
# option: (default, type, what it means)
OPTIONS: dict[str, tuple[Any, type, str]] = {
    "data": ("", str, "an existing dataset file; empty: generate one per campaign"),
    "events": (256, int, "events generated for the campaign's dataset"),
    "epochs": (3, int, "training epochs per trial"),
    "steps_per_epoch": (20, int, "optimizer steps per epoch"),
    "size": (0, int, "pixels (voxels) per side of generated events; 0: the generator's default"),
    "labels": ("", str, "per-pixel labels to learn: semantic or origin (cosmic tagging); "
                        "empty: semantic if the file has it, else its own"),
}


def default_metric(model: Any) -> str:
    return DEFAULT_METRIC[MODELS[model][1]] if model in MODELS else "objective"


def validate(model: Any, options: dict[str, Any]) -> dict[str, Any]:
    if model not in MODELS:
        raise UserError(
            f"objective.model: unknown model {model!r}; choose one of {', '.join(MODELS)}"
        )
    resolved: dict[str, Any] = {}
    for key, (default, kind, _) in OPTIONS.items():
        value = options.get(key, default)
        least = 0 if key == "size" else 1
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)
                            or value < least):
            raise UserError(f"objective.{key}: must be an integer >= {least}, got {value!r}")
        if key == "labels" and value not in ("", "semantic", "origin"):
            raise UserError(f'objective.labels: must be "semantic" or "origin", got {value!r}')
        if kind is str and not isinstance(value, str):
            raise UserError(f"objective.{key}: must be a string (a file path), got {value!r}")
        resolved[key] = value
    return resolved


def data_path(options: dict[str, Any], campaign_dir: Path) -> Path:
    if options.get("data"):
        return Path(options["data"]).expanduser().resolve()
    return campaign_dir / "data" / "train.h5"


def command(python: str, model: str, options: dict[str, Any], metric: str, seed: int,
            campaign_dir: Path, protocol: list[str]) -> list[str]:
    return [python, "-m", "workflows.train", *protocol,
            "--model", model, "--data", str(data_path(options, campaign_dir)),
            "--epochs", str(options["epochs"]),
            "--steps-per-epoch", str(options["steps_per_epoch"]),
            "--seed", str(seed), "--metric", metric,
            *(["--labels", options["labels"]] if options.get("labels") else [])]


def prepare_data(model: str, options: dict[str, Any], seed: int, campaign_dir: Path,
                 log: Any = print) -> None:
    """Generate the campaign's dataset once; a finished file is kept across resumes."""
    path = data_path(options, campaign_dir)
    if path.is_file():
        return
    if options.get("data"):
        raise UserError(f"objective.data: {path} does not exist; give an existing dataset file")
    kind, task = MODELS[model]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    log(f"generating {options['events']} {kind} {task} events into {path}")
    cmd = [sys.executable, "-m", "models.data", "--kind", kind, "--task", task,
           "--events", str(options["events"]), "--seed", str(seed), "--out", str(partial),
           "--quiet"]
    if options.get("size"):
        cmd += ["--size", str(options["size"])]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"objective.model: generating the dataset failed ({last}); "
                        "rerun with --debug or check objective.events")
    partial.replace(path)  # a crash mid-generation leaves no half file under the real name
