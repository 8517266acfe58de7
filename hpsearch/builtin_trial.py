"""The built-in task: train one of the package's sparse networks on generated LArTPC events.

`[objective] model = "uresnet2d"` runs `python -m workflows.train` per trial. The dataset is
generated once per campaign (`python -m models.data ...` in a subprocess, so the driver never
imports torch) into `<campaign>/data/train.h5`, unless `data` names an existing file;
`detector = "sbnd-wire"` generates wire-detector events (2D segmentation models only).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from hpsearch.errors import UserError
from models.tasks import DETECTOR_PRESETS, MODEL_TASKS, default_metric  # plain tables: no torch

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
    "detector": ("cube", str, "detector preset of generated events: cube or sbnd-wire"),
    "neutrino_fraction": (1.0, float, "share of generated segmentation events with a "
                                      "neutrino interaction; the rest are background only"),
}


def model_metric(model: Any, labels: Any = "") -> str:
    """The default objective of a built-in model learning ``labels`` ("" : its own)."""
    if model not in MODELS:
        return "objective"
    return default_metric(MODELS[model][1], labels if labels in ("semantic", "origin") else None)


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
            what = " (a file path)" if key == "data" else ""
            raise UserError(f"objective.{key}: must be a string{what}, got {value!r}")
        if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)
                              or not 0.0 <= value <= 1.0):
            raise UserError(f"objective.{key}: must be a number in [0, 1], got {value!r}")
        resolved[key] = float(value) if kind is float else value
    _check_task_options(model, resolved)
    return resolved


def _check_task_options(model: str, options: dict[str, Any]) -> None:
    """Options that only some models take: refused with one line rather than ignored."""
    kind, task = MODELS[model]
    detector = options["detector"]
    if detector not in DETECTOR_PRESETS:
        raise UserError(f"objective.detector: unknown preset {detector!r}; choose one of "
                        f"{', '.join(DETECTOR_PRESETS)}")
    if detector != "cube" and (kind, task) != ("2d", "segmentation"):
        raise UserError(f"objective.detector: {detector} makes 2D segmentation events; "
                        f"model {model} needs {kind} {task} events: use a uresnet2d model")
    for key in ("detector", "neutrino_fraction", "size", "events"):
        if options["data"] and options[key] != OPTIONS[key][0]:
            raise UserError(f"objective.{key}: shapes generated events, but objective.data "
                            "names an existing file; drop one of them")
    if options["labels"] and task != "segmentation":
        raise UserError(f"objective.labels: model {model} learns each event's particle, not "
                        "per-pixel labels; drop labels or use a uresnet model")
    if options["neutrino_fraction"] != 1.0 and task != "segmentation":
        raise UserError(f"objective.neutrino_fraction: model {model} trains on "
                        "single-particle events, which have no neutrino interaction; drop it")


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
    if options.get("detector", "cube") != "cube":
        cmd += ["--detector", options["detector"]]
    if options.get("neutrino_fraction", 1.0) != 1.0:
        cmd += ["--neutrino-fraction", str(options["neutrino_fraction"])]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"objective.model: generating the dataset failed ({last}); "
                        "rerun with --debug or check objective.events")
    partial.replace(path)  # a crash mid-generation leaves no half file under the real name
