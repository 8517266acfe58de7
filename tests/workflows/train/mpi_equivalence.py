"""Run under ``mpiexec -n 2``: two ranks on half-batches must match one rank on whole batches.

Writes ``{"max_abs_diff": float, "ranks": int, "steps": int}`` (rank 0 only) to argv[1].
The model has no normalisation and no dropout, so the only difference between the runs is
where the gradients are summed; batch norm would legitimately differ (per-rank statistics).
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

from workflows import threads

threads.apply()

import torch  # noqa: E402

from kernels import SparseTensor  # noqa: E402
from models import build_model, resolve_hparams  # noqa: E402
from workflows._distributed import Communicator, make_communicator  # noqa: E402
from workflows.train import Trainer  # noqa: E402

SIZE, IMAGES, STEPS = 32, 4, 4
ARCH = {"depth": 3, "filters": 4, "reps": 1, "norm": "none", "dropout": 0.0,
        "optimizer": "sgd", "momentum": 0.9, "warmup_steps": 2, "schedule": "cosine"}


def make_batch(step: int) -> SimpleNamespace:
    """IMAGES images of blobs; the label depends on the position, so there is something to learn."""
    gen = torch.Generator().manual_seed(100 + step)
    rows = []
    for image in range(IMAGES):
        sites = torch.unique(torch.randint(0, SIZE, (60, 2), generator=gen), dim=0)
        rows.append(torch.cat([torch.full((len(sites), 1), image), sites], dim=1))
    coords = torch.cat(rows)
    feats = torch.rand(len(coords), 1, generator=gen) * 10
    semantic = (coords[:, 1] * 5 // SIZE).long()
    return SimpleNamespace(coords=coords, feats=feats, semantic=semantic)


def view(batch: SimpleNamespace, images: range) -> SimpleNamespace:
    keep = (batch.coords[:, 0] >= images.start) & (batch.coords[:, 0] < images.stop)
    coords = batch.coords[keep].clone()
    coords[:, 0] -= images.start
    tensor = SparseTensor(coords, batch.feats[keep], (SIZE, SIZE), len(images))
    return SimpleNamespace(tensor=tensor, semantic=batch.semantic[keep],
                           particle=torch.zeros(len(images), dtype=torch.long))


def train(comm: Communicator, lr: float, share: int) -> torch.nn.Module:
    hparams = resolve_hparams("uresnet2d", {**ARCH, "lr": lr})
    torch.manual_seed(1 + 17 * comm.rank)  # ranks start apart: the broadcast must align them
    model = build_model("uresnet2d", hparams)
    trainer = Trainer(model, "segmentation", 1, hparams, comm, total_steps=STEPS)
    for step in range(STEPS):
        start = comm.rank * share
        trainer.train_step(view(make_batch(step), range(start, start + share)))
    return model


def main() -> None:
    comm = make_communicator()
    lr = 0.05
    spread = train(comm, lr, IMAGES // comm.size)
    if comm.rank != 0:
        return
    whole = train(Communicator(), lr * comm.size, IMAGES)  # linear scaling rule by hand
    diff = max((a - b).abs().max().item()
               for a, b in zip(spread.state_dict().values(), whole.state_dict().values(),
                               strict=True))
    moved = max(p.grad.abs().max().item() for p in whole.parameters())
    with open(sys.argv[1], "w") as handle:
        json.dump({"max_abs_diff": diff, "ranks": comm.size, "steps": STEPS,
                   "grad_max": moved}, handle)


if __name__ == "__main__":
    main()
