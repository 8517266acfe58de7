"""One training trial: build a network, train it, evaluate it on held-out events, report.

    python -m workflows.train --params params.json --out result.json \\
        [--progress progress.jsonl] [--stop-file STOP] --model uresnet2d --data events.h5 \\
        [--epochs N] [--steps-per-epoch K] [--seed S] [--metric NAME] [--sync-bn]

Single rank by default; under a launcher (``mpiexec -n R python -m workflows.train ...``, srun)
every rank trains on its shard of each epoch and DistributedDataParallel sums the gradients
over ranks, so the step equals one step on the union of the ranks' batches (see
``_distributed``, ``_optim``). Only rank 0 writes progress lines, checkpoints and the result.

Exit codes: 0 with a result of status "ok" or "pruned"; 1 with a result of status "failed"
(diverged loss, a crash mid-training); 2 for bad input (unknown hyperparameter, bad value,
missing or unreadable data), with one line on stderr and nothing written.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import traceback
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from workflows import threads
from workflows.trial_io import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_PRUNED,
    TrialIO,
    add_protocol_arguments,
    load_params,
)

# A loss this many times above the first step's loss means the run has diverged: cross
# entropy starts near log(classes), and no healthy run climbs two orders of magnitude.
EXPLODING_LOSS_RATIO = 100.0
VALIDATION_FRACTION = 0.2
UNLABELLED = -1  # label of pixels a file carries no class for: left out of loss and metrics


class TrialInputError(ValueError):
    """Something the user gave the trial is wrong: one line, exit code 2, nothing written."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"train: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m workflows.train", description=__doc__.split("\n")[0])
    add_protocol_arguments(parser)
    parser.add_argument("--model", default="uresnet2d",
                        help="uresnet2d, uresnet3d, resnet2d or resnet3d (default: %(default)s)")
    parser.add_argument("--data", required=True, type=Path,
                        help="event file made by `python -m models.data`")
    parser.add_argument("--epochs", type=int, default=5, help="default: %(default)s")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="optimiser steps per epoch (default: one pass over the training "
                             "events)")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument("--metric", default=None,
                        help="the objective (default: icpf_mean for segmentation, error_rate "
                             "for classification; both are minimised)")
    parser.add_argument("--labels", choices=("semantic", "origin"), default=None,
                        help="per-pixel labels a segmentation learns; classes and metric names "
                             "come from the file (default: semantic if the file has it)")
    parser.add_argument("--val-fraction", type=float, default=VALIDATION_FRACTION,
                        help="share of the events held out for evaluation, taken from the "
                             "end of the file (default: %(default)s)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="save the model and optimiser state here after every epoch")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "xpu"),
                        help="default: an accelerator when one is visible (one per local "
                             "rank), else cpu")
    parser.add_argument("--sync-bn", action="store_true",
                        help="data-parallel: batch-norm statistics over the sites of all "
                             "ranks rather than each rank's own")
    parser.add_argument("--debug", action="store_true", help="tracebacks instead of one line")
    return parser


@dataclass
class Setup:
    """Everything checked before the first byte is written."""

    model: str
    task: str
    views: int
    hparams: dict[str, Any]
    metric: str
    train_data: Any
    val_data: Any
    events: int
    labels: str = "particle"  # the Batch field trained on
    classes: tuple[str, ...] = ()


def prepare(args: argparse.Namespace) -> Setup:
    """Validate the arguments, hyperparameters and data; raise TrialInputError if any is bad."""
    from models import MODEL_TASKS, default_metric, resolve_hparams

    if args.model not in MODEL_TASKS:
        raise TrialInputError(f"unknown model {args.model!r}; choose one of "
                              f"{', '.join(MODEL_TASKS)}")
    if args.epochs < 1:
        raise TrialInputError(f"--epochs must be at least 1, got {args.epochs}")
    if args.steps_per_epoch is not None and args.steps_per_epoch < 1:
        raise TrialInputError(f"--steps-per-epoch must be at least 1, got {args.steps_per_epoch}")
    if not 0.0 < args.val_fraction < 1.0:
        raise TrialInputError(f"--val-fraction must be in (0, 1), got {args.val_fraction}")
    shape = MODEL_TASKS[args.model]
    try:
        hparams = resolve_hparams(args.model, load_params(args.params))
    except ValueError as err:
        raise TrialInputError(str(err)) from None
    dataset = _open_data(args.data, shape)
    labels, classes = _labels_of(dataset, shape["task"], args.labels, args.data)
    metric = args.metric or default_metric(shape["task"], labels)
    known = _metric_names(shape["task"], classes)
    if metric not in known:
        raise TrialInputError(f"unknown --metric {metric!r} for a {shape['task']} model; "
                              f"choose one of {', '.join(known)}")
    events = len(dataset)
    n_val = max(1, round(events * args.val_fraction))
    if events - n_val < 1:
        raise TrialInputError(f"data {args.data} holds {events} events: too few to hold "
                              f"{n_val} out for evaluation; prepare more with "
                              "`python -m models.data`")
    spatial = _spatial_size(dataset)
    if spatial is not None and 2 ** (hparams["depth"] - 1) > spatial:
        raise TrialInputError(f"hyperparameter depth={hparams['depth']} halves the "
                              f"{spatial}-pixel images below one pixel; use depth <= "
                              f"{int(math.log2(spatial)) + 1}")
    return Setup(model=args.model, task=shape["task"], views=shape["views"], hparams=hparams,
                 metric=metric, train_data=_Subset(dataset, range(events - n_val)),
                 val_data=_Subset(dataset, range(events - n_val, events)), events=events,
                 labels=labels, classes=classes)


def _metric_names(task: str, classes: tuple[str, ...]) -> list[str]:
    from models import metric_names

    return sorted([*metric_names(task, classes), "loss", "train_loss"])


def _labels_of(dataset: Any, task: str, labels: str | None,
               path: Path) -> tuple[str, tuple[str, ...]]:
    """The Batch field to learn and its class names, as the data file defines them."""
    from models import PARTICLE_CLASSES
    from models.data import DataFileError, choose_labels

    if task != "segmentation":
        if labels is not None:
            raise TrialInputError(f"--labels {labels} is for segmentation models; a {task} "
                                  "model learns each event's particle: drop --labels")
        return "particle", tuple(getattr(dataset, "particle_classes", PARTICLE_CLASSES))
    try:
        return choose_labels(dataset, labels)
    except DataFileError as err:
        raise TrialInputError(str(err)) from None


def _open_data(path: Path, shape: dict[str, Any]) -> Any:
    hint = (f"prepare it once per campaign with `python -m models.data --kind {shape['kind']} "
            f"--task {shape['task']} --events N --seed S --out {path}`")
    if not path.exists():
        raise TrialInputError(f"data {path} does not exist; {hint}")
    from models.data import open_dataset

    try:
        dataset = open_dataset(path)
        if len(dataset) < 2:
            raise TrialInputError(f"data {path} holds {len(dataset)} events; {hint}")
        first, last = dataset[0], dataset[len(dataset) - 1]
    except TrialInputError:
        raise
    except Exception as err:  # h5py and the readers raise many kinds; all mean "unreadable"
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise TrialInputError(f"cannot read data {path} ({reason}); {hint}") from None
    kind = getattr(dataset, "kind", None)
    if kind is not None and kind != shape["kind"]:
        raise TrialInputError(f"data {path} holds {kind} events but the model needs "
                              f"{shape['kind']}; {hint}")
    task = getattr(dataset, "task", None)
    if task is not None and task != shape["task"]:
        raise TrialInputError(f"data {path} is a {task} set but the model does "
                              f"{shape['task']}; {hint}")
    if shape["task"] == "classification" and min(first.particle, last.particle) < 0:
        raise TrialInputError(f"data {path} has no particle labels; {hint}")
    return dataset


def _spatial_size(dataset: Any) -> int | None:
    size = getattr(dataset, "size", None)
    return int(size) if isinstance(size, int | float) and size > 0 else None


class _Subset:
    """A contiguous share of a dataset, indexable like the dataset itself."""

    def __init__(self, dataset: Any, indices: range):
        self.dataset = dataset
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dataset, name)


class Diverged(RuntimeError):
    """The loss became NaN, infinite or exploded: the trial ends with status "failed"."""


@dataclass
class LossGuard:
    ratio: float = EXPLODING_LOSS_RATIO
    first: float | None = None

    def check(self, loss: float, step: int) -> None:
        if not math.isfinite(loss):
            raise Diverged(f"loss became {loss} at step {step}")
        if self.first is None:
            self.first = loss
        elif loss > self.ratio * max(self.first, 1e-3):
            raise Diverged(f"loss exploded to {loss:.4g} at step {step} (first step: "
                           f"{self.first:.4g}); lower the learning rate")


@dataclass
class Trainer:
    """A model, its optimiser and schedule, and the collectives of its ranks."""

    model: Any
    task: str
    views: int
    hparams: dict[str, Any]
    comm: Any
    total_steps: int
    device: Any = None
    sync_bn: bool = False
    step: int = 0
    guard: LossGuard = field(default_factory=LossGuard)
    labels: str = "semantic"  # the Batch field of the targets
    classes: tuple[str, ...] = ()  # the file's class names; empty: the generator's classes

    def __post_init__(self) -> None:
        import torch

        from models import PARTICLE_CLASSES, SEMANTIC_CLASSES
        from workflows._optim import LearningRate, make_optimizer

        if not self.classes:
            self.classes = SEMANTIC_CLASSES if self.task == "segmentation" else PARTICLE_CLASSES
        self.device = torch.device("cpu") if self.device is None else torch.device(self.device)
        if self.sync_bn and self.comm.size > 1:
            from workflows._sync_batch_norm import sync_batch_norm

            sync_batch_norm(self.model)
        self.model.to(self.device)
        # Rank 0's initial weights reach every rank here (DDP broadcasts them); the wrapper
        # trains, ``model`` itself evaluates and is saved, with its own parameter names.
        self.net = self.comm.wrap(self.model)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(self.params, self.hparams)
        self.schedule = LearningRate(self.hparams["lr"], self.comm.size,
                                     self.hparams["warmup_steps"], self.total_steps,
                                     self.hparams["schedule"])

    def inputs(self, batch: Any) -> tuple[Any, Any]:
        import torch

        tensor = batch.tensor
        if tensor.device != self.device:
            tensor = tensor.to(self.device)
        # Charge spans orders of magnitude; its logarithm is a well-scaled input with or
        # without normalisation layers.
        tensor = tensor.replace(torch.log1p(tensor.feats.clamp(min=0.0)))
        labels = getattr(batch, self.labels if self.task == "segmentation" else "particle")
        return tensor, labels.to(self.device)

    def train_step(self, batch: Any) -> float:
        """One optimiser step on this rank's batch, summed with the other ranks'; the loss."""
        import torch.nn.functional as F

        self.model.train()
        tensor, labels = self.inputs(batch)
        # The loss is normalised by the labels of all ranks and the gradients are summed
        # (DDP averages, hence the factor R), so R ranks take exactly the step one rank
        # would take on their joint batch, whatever the number of active pixels each holds.
        weights, count = self.class_weights(labels)
        rate = self.schedule.apply(self.optimizer, self.step)
        self.optimizer.zero_grad(set_to_none=False)
        logits = self.net(tensor)
        loss_sum = F.cross_entropy(logits, labels, weight=weights, reduction="sum",
                                   ignore_index=UNLABELLED)
        (loss_sum * (self.comm.size / max(count, 1.0))).backward()
        (total,) = self.comm.allreduce_sum([loss_sum.item()])
        loss = total / max(count, 1.0)
        self.guard.check(loss, self.step)
        self.optimizer.step()
        self.step += 1
        self.last_rate = rate
        return loss

    def class_weights(self, labels: Any) -> tuple[Any, float]:
        """(loss weight per class or None, labelled pixels of all ranks). Weights come from
        the class counts of all ranks' batches and are scaled so that the labelled pixels'
        weights sum to their number: the loss keeps its scale, and R ranks still take the
        step one rank would take on their joint batch."""
        import torch

        n = len(self.classes)
        counts = torch.bincount(labels[labels >= 0], minlength=n)[:n].tolist()
        counts = self.comm.allreduce_sum(counts)
        total = float(sum(counts))
        scheme = self.hparams.get("class_weights", "none")
        if scheme == "none" or total == 0:
            return None, total
        power = 0.5 if scheme == "sqrt" else 1.0
        raw = [(total / c) ** power if c > 0 else 0.0 for c in counts]
        scale = total / sum(w * c for w, c in zip(raw, counts, strict=True))
        return torch.tensor([w * scale for w in raw], device=labels.device), total

    def evaluate(self, batches: Iterator[Any]) -> tuple[dict[str, float], list[list[int]]]:
        """Metrics over this rank's share of the held-out events, combined over ranks."""
        import numpy as np
        import torch
        import torch.nn.functional as F

        from models import (
            classification_metrics,
            confusion_matrix,
            icpf_per_event,
            neutrino_counts,
            segmentation_metrics,
        )

        self.sync_buffers()
        self.model.eval()
        n = len(self.classes)
        confusion = np.zeros((n, n), dtype=np.int64)
        icpf: list[float] = []
        per_event_nu: list[list[int]] = []  # cosmic-tagging event metrics (if a neutrino class)
        loss_sum, count = 0.0, 0
        with torch.no_grad():
            for batch in batches:
                tensor, labels = self.inputs(batch)
                logits = self.model(tensor)
                loss_sum += F.cross_entropy(logits, labels, reduction="sum",
                                            ignore_index=UNLABELLED).item()
                count += int((labels >= 0).sum())
                pred = logits.argmax(dim=1)
                confusion += confusion_matrix(pred, labels, n)
                if self.task == "segmentation":
                    event = tensor.coords[:, 0] // self.views
                    icpf.extend(icpf_per_event(pred, labels, event).tolist())
                    per_event_nu.extend(neutrino_counts(pred, labels, event, self.classes).tolist())
        flat = self.comm.allreduce_sum([loss_sum, count, *confusion.ravel().tolist()])
        loss = flat[0] / max(flat[1], 1.0)
        confusion = np.asarray(flat[2:], dtype=np.int64).reshape(n, n)
        if self.task == "segmentation":
            everyone = [value for part in self.comm.allgather(icpf) for value in part]
            nu = [row for part in self.comm.allgather(per_event_nu) for row in part]
            metrics = segmentation_metrics(confusion, everyone, self.classes, nu)
        else:
            metrics = classification_metrics(confusion, self.classes)
        metrics["loss"] = loss
        return metrics, confusion.tolist()

    def sync_buffers(self) -> None:
        """Average the normalisation statistics over ranks, which each gathered on its own
        shard, so every rank evaluates (and rank 0 saves) the same model."""
        self.comm.average_([b for b in self.model.buffers() if b.dtype.is_floating_point])

    def state(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "step": self.step, "hparams": self.hparams}


def _pick_device(choice: str, local_rank: int) -> Any:
    import torch

    from workflows._distributed import gpu_index

    if choice == "auto":
        if torch.cuda.is_available():
            choice = "cuda"
        elif hasattr(torch, "xpu") and torch.xpu.is_available():
            choice = "xpu"
        else:
            choice = "cpu"
    if choice == "cpu":
        return torch.device("cpu")
    backend = getattr(torch, choice)
    if not backend.is_available():
        raise TrialInputError(f"--device {choice} asked for, but no {choice} device is visible")
    # One accelerator per rank: the one nearest the rank's cores when the site pairs them.
    return torch.device(choice, gpu_index(local_rank, backend.device_count()))


def _epochs(loader: Any) -> Generator[Any, None, None]:
    """Batches forever, reshuffled each pass when the loader supports it."""
    epoch = 0
    while True:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        produced = False
        for batch in loader:
            produced = True
            yield batch
        if not produced:
            raise RuntimeError("the training loader produced no batch")
        epoch += 1


def run(args: argparse.Namespace, setup: Setup, comm: Any, device: Any) -> int:
    import numpy as np
    import torch

    from models import build_model
    from models.data.loader import SparseLoader

    io = TrialIO.from_args(args, rank=comm.rank)
    hparams = setup.hparams
    batch_size = hparams["batch_size"]
    steps_per_epoch = args.steps_per_epoch or max(
        1, len(setup.train_data) // (batch_size * comm.size))
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model = build_model(setup.model, hparams, num_classes=len(setup.classes))
    trainer = Trainer(model, setup.task, setup.views, hparams, comm,
                      total_steps=args.epochs * steps_per_epoch, device=device,
                      sync_bn=args.sync_bn, labels=setup.labels, classes=setup.classes)
    torch.manual_seed(args.seed + 1000 * comm.rank)  # dropout masks differ between ranks
    drop_last = len(setup.train_data) >= batch_size * comm.size
    train = _epochs(SparseLoader(setup.train_data, batch_size, shuffle=True, seed=args.seed,
                                 rank=comm.rank, world_size=comm.size, drop_last=drop_last))
    val_loader = SparseLoader(setup.val_data, batch_size, shuffle=False, seed=args.seed,
                              rank=comm.rank, world_size=comm.size, drop_last=False)
    extra: dict[str, Any] = {
        "ranks": comm.size, "model": setup.model, "hparams": hparams, "device": str(device),
        "events": setup.events, "steps_per_epoch": steps_per_epoch, "sync_bn": args.sync_bn,
        "backend": comm.backend,
    }
    images = 0
    train_time = 0.0
    metrics: dict[str, float] = {}
    confusion: list[list[int]] = []
    status, reason, epoch = STATUS_OK, None, 0
    try:
        for epoch in range(1, args.epochs + 1):
            losses = []
            for _ in range(steps_per_epoch):
                started = time.perf_counter()  # loading counts: it is part of the cost
                batch = next(train)
                losses.append(trainer.train_step(batch))
                train_time += time.perf_counter() - started
                images += int(batch.tensor.batch_size)
            metrics, confusion = trainer.evaluate(iter(val_loader))
            metrics["train_loss"] = float(np.mean(losses))
            metrics["lr"] = trainer.last_rate
            # A class absent from the held-out labels has no IoU or accuracy: leave the name
            # out rather than write NaN, which strict JSON readers reject.
            metrics = {name: value for name, value in metrics.items() if math.isfinite(value)}
            if comm.rank == 0 and args.checkpoint is not None:
                _save_checkpoint(args.checkpoint, trainer.state(), epoch)
            stop = comm.bcast(io.report(epoch, metrics) if comm.rank == 0 else None)
            if stop and epoch < args.epochs:
                status = STATUS_PRUNED
                reason = f"stopped by request after epoch {epoch} of {args.epochs}"
                break
    except Diverged as err:
        status, reason = STATUS_FAILED, str(err)
    finally:
        train.close()  # stops the loader's prefetch thread
    (all_images,) = comm.allreduce_sum([images])
    slowest = comm.allreduce_max(train_time)
    extra.update({
        "epochs_done": epoch if status != STATUS_FAILED else epoch - 1,
        "steps": trainer.step,
        "images_per_s": all_images / slowest if slowest > 0 else None,
        "train_time_s": slowest,
        "peak_memory_mb": comm.allreduce_max(_peak_memory_mb()),
        "confusion_matrix": confusion,
        "metric": setup.metric,
        "threads": threads.in_effect(),
        "labels": setup.labels, "classes": list(setup.classes),
    })
    if device.type == "cuda":
        extra["peak_device_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    objective = metrics.get(setup.metric) if status != STATUS_FAILED else None
    result = io.finish(status, objective=objective, metrics=metrics, reason=reason, **extra)
    # finish() turns an "ok" without a finite objective into "failed": exit as it says
    return 1 if result["status"] == STATUS_FAILED else 0


def _peak_memory_mb() -> float:
    from workflows.trial_io import peak_memory_mb

    return peak_memory_mb()


def _save_checkpoint(path: Path, state: dict[str, Any], epoch: int) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({**state, "epoch": epoch}, tmp)
    os.replace(tmp, path)  # a reader never sees half a checkpoint


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    threads.apply()  # before any torch work: sizes the thread pools, pins the process
    from workflows._distributed import DistributedSetupError, Ranks, connect, discover_ranks

    ranks = Ranks()
    try:
        ranks = discover_ranks()
        setup = prepare(args)
        device = _pick_device(args.device, ranks.local_rank)
        comm = connect(ranks, device)
    except (TrialInputError, DistributedSetupError) as err:
        if args.debug:
            raise
        if ranks.rank == 0:
            print(f"train: error: {err}", file=sys.stderr)
        return 2
    try:
        code = run(args, setup, comm, device)
        comm.close()
        return code
    except Exception as err:  # a crash mid-training is a failed trial with its reason
        if args.debug:
            raise
        traceback.print_exc()
        reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        if comm.rank == 0:
            io = TrialIO.from_args(args, rank=comm.rank)
            io.finish(STATUS_FAILED, reason=reason, ranks=comm.size, metric=setup.metric,
                      threads=threads.in_effect())
        # The other ranks may wait in a collective for this one forever: end them all.
        comm.abort(1)
        return 1


if __name__ == "__main__":
    sys.exit(main())
