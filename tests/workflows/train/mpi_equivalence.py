"""Run under ``mpiexec -n 2``: two ranks on half-batches against one rank on whole batches.

    mpi_equivalence.py OUT MODE [MODE ...]

MODE is ``plain`` (no normalisation), ``sync_bn`` (batch norm with statistics over ranks) or
``local_bn`` (batch norm with per-rank statistics, which legitimately differ). For each mode
rank 0 writes to OUT (JSON): ``max_abs_diff`` between the two-rank and the one-rank model
(parameters and buffers), ``rank_diff`` between the two ranks' parameters (they start from
different seeds, so only the broadcast of rank 0's weights aligns them), ``grad_max``; and
once: ``ranks``, ``steps`` and whether MPI was initialised (``mpi``).
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
MODES = {"plain": ({"norm": "none"}, False), "sync_bn": ({"norm": "batch"}, True),
         "local_bn": ({"norm": "batch"}, False)}


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


def train(comm: Communicator, lr: float, share: int, mode: str) -> torch.nn.Module:
    arch, sync_bn = MODES[mode]
    hparams = resolve_hparams("uresnet2d", {**ARCH, **arch, "lr": lr})
    torch.manual_seed(1 + 17 * comm.rank)  # ranks start apart: the broadcast must align them
    model = build_model("uresnet2d", hparams)
    trainer = Trainer(model, "segmentation", 1, hparams, comm, total_steps=STEPS,
                      sync_bn=sync_bn)
    for step in range(STEPS):
        start = comm.rank * share
        trainer.train_step(view(make_batch(step), range(start, start + share)))
    return model


def compare(comm: Communicator, mode: str) -> dict[str, float] | None:
    lr = 0.05
    spread = train(comm, lr, IMAGES // comm.size, mode)
    flat = torch.cat([p.detach().reshape(-1) for p in spread.parameters()])
    everyone = comm.allgather(flat)
    if comm.rank != 0:
        return None
    whole = train(Communicator(), lr * comm.size, IMAGES, mode)  # linear scaling rule by hand
    diff = max((a.float() - b.float()).abs().max().item()
               for a, b in zip(spread.state_dict().values(), whole.state_dict().values(),
                               strict=True))
    moved = max(p.grad.abs().max().item() for p in whole.parameters())
    rank_diff = max((other - flat).abs().max().item() for other in everyone)
    return {"max_abs_diff": diff, "rank_diff": rank_diff, "grad_max": moved}


def main() -> None:
    out, modes = sys.argv[1], sys.argv[2:]
    comm = make_communicator()
    results = {mode: compare(comm, mode) for mode in modes}
    comm.close()
    if comm.rank != 0:
        return
    with open(out, "w") as handle:
        json.dump({**results, "ranks": comm.size, "steps": STEPS,
                   "mpi": "mpi4py.MPI" in sys.modules}, handle)


if __name__ == "__main__":
    main()
