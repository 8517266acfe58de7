"""Benchmark of the sparse convolution kernels: against spconv (CPU) and against dense torch.

    python benchmarks/kernels.py            # all tables (the dense one takes minutes)
    python benchmarks/kernels.py --only conv --only step
    python benchmarks/kernels.py --quick    # small smoke run
    python benchmarks/kernels.py --device cuda

Times are medians of interleaved repeats (ours, spconv, ours, spconv, ...), so a shared,
noisy machine slows both alike; every ratio compares two runs made side by side in this
process. The convolution table times each layer two ways: with the kernel map reused (what
a network does: all layers at one resolution share one map) and with the map built in the
call (a fresh sparse tensor each run). spconv cannot reuse a strided convolution's pairs,
so its strided rows build them in both modes. spconv is optional (CPU only); without it
those columns are skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder would shadow the kernels package with this module.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(_ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks.showers import shower_blob  # noqa: E402
from benchmarks.spconv_uresnet import SpconvUResNet  # noqa: E402
from benchmarks.tracks import track_event  # noqa: E402
from kernels import (  # noqa: E402
    SparseConv,
    SparseInverseConv,
    SparseReLU,
    SparseTensor,
    SubMConv,
    cat,
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds, median
    cpu: float  # CPU seconds of the whole process, median


def median_time(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    return median_times([fn], repeats, device)[0].wall


def median_times(
    fns: list[Callable[[], object]], repeats: int, device: torch.device
) -> list[Timing]:
    """Median wall and CPU time of each function; runs are interleaved (a, b, a, b, ...) so
    that a shared, noisy machine slows all of them alike. On one thread the CPU time does
    not count the time spent waiting for a core, so it is the steadier figure there."""
    for fn in fns:
        fn()  # warm-up (allocator, thread pools, lazy init, workspaces)
    _sync(device)
    walls: list[list[float]] = [[] for _ in fns]
    cpus: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, wall, cpu in zip(fns, walls, cpus, strict=True):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            _sync(device)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return [Timing(statistics.median(w), statistics.median(c))
            for w, c in zip(walls, cpus, strict=True)]


# --------------------------------------------------------------------------- events
def event_batch(kind: str, n_total: int, batch: int, size: int, dim: int,
                seed: int) -> np.ndarray:
    """[n_total, 1+dim] int32 coordinates: ``batch`` events of n_total/batch voxels each,
    thin tracks (``kind="tracks"``) or one dense shower blob each (``"shower"``)."""
    rng = np.random.default_rng(seed)
    make = track_event if kind == "tracks" else shower_blob
    parts = []
    for b in range(batch):
        vox = make(rng, n_total // batch, size, dim)
        parts.append(np.concatenate([np.full((len(vox), 1), b, np.int32), vox], axis=1))
    return np.concatenate(parts)


def track_batch(n_total: int, batch: int, size: int, dim: int, seed: int) -> np.ndarray:
    return event_batch("tracks", n_total, batch, size, dim, seed)


# --------------------------------------------------------------------------- spconv side
def load_spconv():  # noqa: ANN201 - optional module
    try:
        import spconv.pytorch as spconv
        import spconv.pytorch.ops as spconv_ops
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None
    # Its CPU backward asks for the current CUDA stream; a CPU-only torch has none.
    spconv_ops.get_current_stream = lambda: 0
    return spconv


def spconv_weight(weight: torch.Tensor, kernel: int, dim: int) -> torch.Tensor:
    """Our [K, Cin, Cout] as spconv's [Cout, k, ..., k, Cin]."""
    cin, cout = weight.shape[1], weight.shape[2]
    w = weight.detach().reshape(*(kernel,) * dim, cin, cout)
    return w.permute(dim + 1, *range(dim), dim).contiguous()


def site_order(coords: torch.Tensor) -> torch.Tensor:
    """Permutation putting rows in (batch, axis 0, ...) order, to line two outputs up."""
    c = coords.to(torch.int64)
    key = c[:, 0]
    for axis in range(1, c.shape[1]):
        key = key * 4096 + c[:, axis]
    return torch.argsort(key)


def rows_by_site(coords: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    return feats[site_order(coords)]


def wrong_rows(ours: torch.Tensor, theirs: torch.Tensor) -> int:
    scale = ours.abs().amax().clamp(min=1e-12)
    bad = ((ours - theirs).abs() > 1e-4 * scale).any(1)
    return int(bad.sum())


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-30))


# --------------------------------------------------------------------------- conv table
@dataclass(frozen=True)
class ConvCase:
    label: str
    dim: int
    events: str  # "tracks" or "shower"
    voxels: int
    batch: int
    channels: int
    kernel: int
    op: str  # "subm" or "k2s2" (strided, then its inverse)


SIZE = 512
CONV_CASES = [
    # 2D: three wire planes of 512^2 at ~1 % occupancy, one batch entry per plane.
    ConvCase("2D 3x512² 7.8k", 2, "tracks", 7_800, 3, 32, 3, "subm"),
    ConvCase("2D 3x512² 7.8k", 2, "tracks", 7_800, 3, 32, 5, "subm"),
    ConvCase("2D 3x512² 7.8k", 2, "tracks", 7_800, 3, 32, 2, "k2s2"),
    ConvCase("3D shower 60k", 3, "shower", 60_000, 1, 64, 3, "subm"),
    ConvCase("3D shower 150k", 3, "shower", 150_000, 1, 16, 3, "subm"),
    ConvCase("3D shower 150k", 3, "shower", 150_000, 1, 16, 2, "k2s2"),
    ConvCase("3D tracks 20k", 3, "tracks", 20_000, 1, 16, 3, "subm"),
    ConvCase("3D tracks 100k", 3, "tracks", 100_000, 1, 16, 2, "k2s2"),
    ConvCase("3D tracks 400k b4", 3, "tracks", 400_000, 4, 16, 3, "subm"),
]
QUICK_CONV_CASES = [
    ConvCase("2D 3x512² 1.5k", 2, "tracks", 1_500, 3, 8, 3, "subm"),
    ConvCase("3D shower 5k", 3, "shower", 5_000, 1, 8, 3, "subm"),
    ConvCase("3D tracks 5k", 3, "tracks", 5_000, 1, 8, 2, "k2s2"),
]


def _name(case: ConvCase) -> str:
    return f"{case.op} k{case.kernel} c{case.channels}" if case.op == "subm" else (
        f"k2s2 c{case.channels}")


def conv_table(args: argparse.Namespace, device: torch.device) -> list[dict]:
    spconv = None if (args.no_spconv or device.type != "cpu") else load_spconv()
    cases = QUICK_CONV_CASES if args.quick else CONV_CASES
    if args.match:
        cases = [c for c in cases if args.match in f"{c.label} {_name(c)}"]
    threads = _threads(args, device)
    rows = []
    for case in cases:
        coords = torch.from_numpy(event_batch(case.events, case.voxels, case.batch, SIZE,
                                              case.dim, seed=case.voxels + case.batch))
        feats = torch.randn(len(coords), case.channels,
                            generator=torch.Generator().manual_seed(0))
        bench = ConvBench(case, coords.to(device), feats.to(device), spconv)
        # Small cases are quick and noisier: more repeats for the same confidence.
        repeats = args.repeats * 3 if case.voxels < 30_000 else args.repeats
        for n_threads in threads:
            if n_threads:
                torch.set_num_threads(n_threads)
            new = bench.run(n_threads, repeats, device)
            for row in new:
                _print_conv_row(row)
            rows.extend(new)
    return rows


def _threads(args: argparse.Namespace, device: torch.device) -> list[int]:
    return [int(t) for t in args.threads.split(",")] if device.type == "cpu" else [0]


class ConvBench:
    """One layer (and its inverse for k2s2), ours and spconv's with the same weights."""

    def __init__(self, case: ConvCase, coords: torch.Tensor, feats: torch.Tensor,
                 spconv) -> None:  # noqa: ANN001 - optional module
        self.case, self.coords, self.feats, self.spconv = case, coords, feats, spconv
        dim, c, k = case.dim, case.channels, case.kernel
        self.shape = (SIZE,) * dim
        torch.manual_seed(1)
        device = feats.device
        if case.op == "subm":
            self.layer = SubMConv(dim, c, c, k, bias=False).to(device)
            self.inverse = None
        else:
            self.layer = SparseConv(dim, c, c, k, 2, bias=False).to(device)
            self.inverse = SparseInverseConv(dim, c, c, k, 2, bias=False).to(device)
        self.x0 = SparseTensor(coords, feats, self.shape, batch_size=case.batch)
        with torch.no_grad():
            self.coarse0 = self.layer(self.x0)  # builds and caches the map
        self.reference: tuple[torch.Tensor, ...] | None = None
        if spconv is not None:
            self._spconv_layers()

    # ---- ours
    def ours(self) -> dict[str, Callable[[], None]]:
        layer, x0, feats = self.layer, self.x0, self.feats
        grad_feats = feats.detach().clone().requires_grad_(True)

        def forward_reused() -> None:
            with torch.no_grad():
                layer(x0.replace(feats))

        def train_reused() -> None:
            layer(x0.replace(grad_feats)).feats.sum().backward()
            grad_feats.grad = None
            layer.zero_grad(set_to_none=True)

        def train_in_call() -> None:
            x = SparseTensor(self.coords, grad_feats, self.shape, batch_size=self.case.batch)
            layer(x).feats.sum().backward()
            grad_feats.grad = None
            layer.zero_grad(set_to_none=True)

        fns = {"ours_fwd": forward_reused, "ours_fb": train_reused, "ours_fb_call": train_in_call}
        if self.inverse is not None:
            inverse = self.inverse
            coarse_feats = self.coarse0.feats.detach().clone().requires_grad_(True)
            coarse = self.coarse0.replace(coarse_feats)

            def inverse_train() -> None:
                inverse(coarse, x0).feats.sum().backward()
                coarse_feats.grad = None
                inverse.zero_grad(set_to_none=True)

            fns["ours_inv"] = inverse_train
        return fns

    def ours_result(self, upstream: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(output rows in site order, input gradient, weight gradient as spconv's)."""
        feats = self.feats.detach().clone().requires_grad_(True)
        self.layer.zero_grad(set_to_none=True)
        out = self.layer(self.x0.replace(feats))
        order = site_order(out.coords)
        aligned = torch.empty_like(upstream)
        aligned[order] = upstream
        (out.feats * aligned).sum().backward()
        grad_w = spconv_weight(self.layer.weight.grad, self.case.kernel, self.case.dim)
        self.layer.zero_grad(set_to_none=True)
        return out.feats.detach()[order], feats.grad, grad_w

    # ---- spconv
    def _spconv_layers(self) -> None:
        sp, case = self.spconv, self.case
        dim, c, k = case.dim, case.channels, case.kernel
        if case.op == "subm":
            cls = sp.SubMConv3d if dim == 3 else sp.SubMConv2d
            self.sp_layer = cls(c, c, k, bias=False, indice_key="bench")
        else:
            cls = sp.SparseConv3d if dim == 3 else sp.SparseConv2d
            self.sp_layer = cls(c, c, k, stride=2, padding=(k - 1) // 2, bias=False,
                                indice_key="bench")
        with torch.no_grad():
            self.sp_layer.weight.copy_(spconv_weight(self.layer.weight, k, dim))
        self.c32 = self.coords.int().contiguous()
        x0 = self._sp_tensor(self.feats)
        self.sp_out0 = self.sp_layer(x0)
        # A submanifold output carries its pairs under the key and has the input's rows.
        self.sp_base = self.sp_out0 if case.op == "subm" else x0
        if self.inverse is not None:
            cls = sp.SparseInverseConv3d if dim == 3 else sp.SparseInverseConv2d
            self.sp_inv = cls(c, c, k, bias=False, indice_key="bench")
            with torch.no_grad():
                self.sp_inv.weight.copy_(spconv_weight(self.inverse.weight, k, dim))

    def _sp_tensor(self, feats: torch.Tensor):  # noqa: ANN202 - optional module
        return self.spconv.SparseConvTensor(feats, self.c32, list(self.shape), self.case.batch)

    def theirs(self) -> dict[str, Callable[[], None]]:
        layer, base, feats = self.sp_layer, self.sp_base, self.feats
        grad_feats = feats.detach().clone().requires_grad_(True)

        def forward_reused() -> None:
            with torch.no_grad():
                layer(base.replace_feature(feats))

        def train_reused() -> None:
            layer(base.replace_feature(grad_feats)).features.sum().backward()
            grad_feats.grad = None
            layer.zero_grad(set_to_none=True)

        def train_in_call() -> None:
            layer(self._sp_tensor(grad_feats)).features.sum().backward()
            grad_feats.grad = None
            layer.zero_grad(set_to_none=True)

        fns = {"sp_fwd": forward_reused, "sp_fb": train_reused, "sp_fb_call": train_in_call}
        if self.inverse is not None:
            inverse = self.sp_inv
            coarse_feats = self.sp_out0.features.detach().clone().requires_grad_(True)
            coarse = self.sp_out0.replace_feature(coarse_feats)

            def inverse_train() -> None:
                inverse(coarse).features.sum().backward()
                coarse_feats.grad = None
                inverse.zero_grad(set_to_none=True)

            fns["sp_inv"] = inverse_train
        return fns

    def theirs_result(self, upstream: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.feats.detach().clone().requires_grad_(True)
        self.sp_layer.zero_grad(set_to_none=True)
        out = self.sp_layer(self.sp_base.replace_feature(feats))
        order = site_order(out.indices)
        aligned = torch.empty_like(upstream)
        aligned[order] = upstream
        (out.features * aligned).sum().backward()
        grad_w = self.sp_layer.weight.grad.clone()
        self.sp_layer.zero_grad(set_to_none=True)
        return out.features.detach()[order], feats.grad, grad_w

    # ---- one thread count
    def run(self, n_threads: int, repeats: int, device: torch.device) -> list[dict]:
        case = self.case
        upstream = torch.randn(self.coarse0.num_sites, case.channels,
                               generator=torch.Generator().manual_seed(2)).to(device)
        ours = self.ours_result(upstream)
        row: dict = {"case": case.label, "op": _name(case), "threads": n_threads}
        # Ours must not change with the thread count: compare against the first count run.
        if self.reference is None:
            self.reference = ours
            row["bitwise"] = "ref"
        else:
            same = all(torch.equal(a, b) for a, b in zip(ours, self.reference, strict=True))
            row["bitwise"] = "yes" if same else "NO"
        fns = self.ours()
        if self.spconv is not None:
            theirs = self.theirs_result(upstream)
            if n_threads == 1:
                # spconv's CPU build is only right on one thread: compare there.
                row["err"] = max(rel_err(a, b) for a, b in zip(ours, theirs, strict=True))
            row["sp_wrong"] = wrong_rows(ours[0], theirs[0]) if (
                theirs[0].shape == ours[0].shape) else len(ours[0])
            row["rows"] = len(ours[0])
            fns.update(self.theirs())
        timings = median_times(list(fns.values()), repeats, device)
        times = {name: t.wall for name, t in zip(fns, timings, strict=True)}
        times.update({name + "_cpu": t.cpu for name, t in zip(fns, timings, strict=True)})
        row.update(times)
        rows = [row]
        if "ours_inv" in times:
            rows.append({"case": case.label, "op": "k2s2 inverse", "threads": n_threads,
                         "ours_fb": times["ours_inv"], "sp_fb": times.get("sp_inv"),
                         "ours_fb_cpu": times["ours_inv_cpu"],
                         "sp_fb_cpu": times.get("sp_inv_cpu")})
        return rows


def _print_conv_header() -> None:
    print(f"{'case':>17} {'op':>12} {'thr':>3} | {'ours fwd':>8} {'ours f+b':>8} "
          f"{'sp fwd':>8} {'sp f+b':>8} {'r fwd':>5} {'r f+b':>5} {'cpu r':>5} | "
          f"{'ours f+b':>8} {'sp f+b':>8} {'r f+b':>5} {'cpu r':>5} | {'err vs sp':>9} "
          f"{'sp wrong':>13} {'1=2thr':>6}")


def _print_conv_row(row: dict) -> None:
    nan = float("nan")
    get = row.get
    line = (f"{row['case']:>17} {row['op']:>12} {row['threads']:>3} | "
            f"{_ms(get('ours_fwd', nan))} {_ms(get('ours_fb', nan))} "
            f"{_ms(get('sp_fwd', nan))} {_ms(get('sp_fb', nan))} "
            f"{_ratio(get('ours_fwd', nan), get('sp_fwd', nan))} "
            f"{_ratio(get('ours_fb', nan), get('sp_fb', nan))} "
            f"{_ratio(get('ours_fb_cpu', nan), get('sp_fb_cpu', nan))} | "
            f"{_ms(get('ours_fb_call', nan))} {_ms(get('sp_fb_call', nan))} "
            f"{_ratio(get('ours_fb_call', nan), get('sp_fb_call', nan))} "
            f"{_ratio(get('ours_fb_call_cpu', nan), get('sp_fb_call_cpu', nan))} | ")
    line += f"{row['err']:9.1e}" if "err" in row else f"{'-':>9}"
    line += (f" {row['sp_wrong']:>6}/{row['rows']:<6}" if "sp_wrong" in row else f" {'-':>13}")
    line += f" {row.get('bitwise', '-'):>6}"
    print(line, flush=True)


def _ms(t: float | None) -> str:
    return f"{t * 1e3:8.1f}" if t is not None and t == t else f"{'-':>8}"


def _ratio(a: float | None, b: float | None) -> str:
    ok = a is not None and b is not None and a == a and b == b
    return f"{a / b:5.2f}" if ok else f"{'-':>5}"


# --------------------------------------------------------------------------- training step
STEP_CASES = [
    # (label, model name): the trainer's default architecture and batch size.
    ("2D U-ResNet", "uresnet2d"),
    ("3D U-ResNet", "uresnet3d"),
]


def step_table(args: argparse.Namespace, device: torch.device) -> list[dict]:
    """One training step (forward, loss, backward) of the U-ResNet, ours against the same
    network from spconv layers, cycling through a few generated batches."""
    from models import MODEL_DEFAULTS, MODEL_TASKS
    from models.data.generator import generate_events
    from models.data.loader import collate
    from models.uresnet import UResNet

    spconv = None if (args.no_spconv or device.type != "cpu") else load_spconv()
    rows = []
    for label, name in STEP_CASES:
        task, hp = MODEL_TASKS[name], MODEL_DEFAULTS[name]
        dim, kind = task["dim"], task["kind"]
        arch = {k: hp[k] for k in ("depth", "filters", "reps", "kernel_size")}
        rng = np.random.default_rng(0)
        batches = []
        for _ in range(2 if args.quick else 4):
            events = generate_events(kind, rng, hp["batch_size"])
            batches.append(collate(events, range(len(events)), kind, (SIZE,) * dim))
        torch.manual_seed(0)
        ours = UResNet(dim, **arch).to(device)
        ours_state = {"i": 0}

        def ours_step(net=ours, state=ours_state, batches=batches) -> None:
            b = batches[state["i"] % len(batches)]
            state["i"] += 1
            x = SparseTensor(b.coords.to(device), b.feats.to(device), b.spatial_shape,
                             batch_size=b.batch_size)
            loss = nn.functional.cross_entropy(net(x), b.semantic.to(device))
            net.zero_grad(set_to_none=True)
            loss.backward()

        fns = {"ours": ours_step}
        if spconv is not None:
            theirs = SpconvUResNet(spconv, dim, **arch)
            sp_state = {"i": 0}

            def sp_step(net=theirs, state=sp_state, batches=batches) -> None:
                b = batches[state["i"] % len(batches)]
                state["i"] += 1
                x = spconv.SparseConvTensor(b.feats, b.coords, list(b.spatial_shape),
                                            b.batch_size)
                loss = nn.functional.cross_entropy(net(x), b.semantic)
                net.zero_grad(set_to_none=True)
                loss.backward()

            fns["spconv"] = sp_step
        sites = sum(len(b.coords) for b in batches) / len(batches)
        for n_threads in _threads(args, device):
            if n_threads:
                torch.set_num_threads(n_threads)
            timings = dict(zip(fns, median_times(list(fns.values()), args.repeats, device),
                               strict=True))
            times = {name: t.wall for name, t in timings.items()}
            cpu = {name: t.cpu for name, t in timings.items()}
            row = {"case": label, "sites": sites, "threads": n_threads, **times,
                   **{name + "_cpu": t for name, t in cpu.items()}}
            print(f"{label:>12} {sites:8.0f} {n_threads:>3} {_ms(times['ours'])} "
                  f"{_ms(times.get('spconv'))} {_ratio(times['ours'], times.get('spconv'))} "
                  f"{_ratio(cpu['ours'], cpu.get('spconv'))}", flush=True)
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- dense table
class SparseUNet(nn.Module):
    """Two-level U-Net from kernels ops: stem, down k2s2, middle, up, skip concat, head."""

    def __init__(self, dim: int, cin: int, width: int, classes: int) -> None:
        super().__init__()
        self.stem = SubMConv(dim, cin, width)
        self.enc = SubMConv(dim, width, width)
        self.down = SparseConv(dim, width, 2 * width)
        self.mid = SubMConv(dim, 2 * width, 2 * width)
        self.up = SparseInverseConv(dim, 2 * width, width)
        self.dec = SubMConv(dim, 2 * width, width)
        self.head = SubMConv(dim, width, classes, kernel_size=1)
        self.relu = SparseReLU()

    def forward(self, x: SparseTensor) -> torch.Tensor:
        a = self.relu(self.enc(self.relu(self.stem(x))))
        b = self.relu(self.mid(self.relu(self.down(a))))
        c = self.relu(self.dec(cat(self.relu(self.up(b, a)), a)))
        return self.head(c).feats


class DenseUNet(nn.Module):
    """The same network with dense torch.nn layers (padding keeps the shapes)."""

    def __init__(self, dim: int, cin: int, width: int, classes: int) -> None:
        super().__init__()
        conv = nn.Conv3d if dim == 3 else nn.Conv2d
        convt = nn.ConvTranspose3d if dim == 3 else nn.ConvTranspose2d
        self.stem = conv(cin, width, 3, padding=1)
        self.enc = conv(width, width, 3, padding=1)
        self.down = conv(width, 2 * width, 2, stride=2)
        self.mid = conv(2 * width, 2 * width, 3, padding=1)
        self.up = convt(2 * width, width, 2, stride=2)
        self.dec = conv(2 * width, width, 3, padding=1)
        self.head = conv(width, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(self.enc(torch.relu(self.stem(x))))
        b = torch.relu(self.mid(torch.relu(self.down(a))))
        c = torch.relu(self.dec(torch.cat([torch.relu(self.up(b)), a], 1)))
        return self.head(c)


DENSE_CASES = [
    # (label, dim, size, sites per image, images)
    ("2D 3x512^2 1%", 2, 512, 2_621, 3),
    ("3D 128^3", 3, 128, 2_000, 1),
    ("3D 256^3", 3, 256, 4_000, 1),
]
QUICK_DENSE_CASES = [("2D 3x128^2 1%", 2, 128, 164, 3), ("3D 48^3", 3, 48, 600, 1)]


def dense_probe(kind: str, label: str, device_name: str, repeats: int) -> dict:
    """One training step of one network in this (fresh) process: time and peak memory."""
    cases = {c[0]: c for c in DENSE_CASES + QUICK_DENSE_CASES}
    _, dim, size, sites, images = cases[label]
    device = torch.device(device_name)
    coords = torch.from_numpy(track_batch(sites * images, images, size, dim, seed=size)).long()
    torch.manual_seed(0)
    feats = torch.rand(len(coords), 1)
    width, classes = (16, 5) if dim == 2 else (8, 5)
    labels = torch.randint(0, classes, (len(coords),))
    shape = (size,) * dim
    if kind == "sparse":
        net = SparseUNet(dim, 1, width, classes).to(device)
        coords, feats, labels = coords.to(device), feats.to(device), labels.to(device)

        def step() -> None:
            x = SparseTensor(coords, feats, shape, batch_size=images)
            loss = nn.functional.cross_entropy(net(x), labels)
            net.zero_grad(set_to_none=True)
            loss.backward()
    else:
        net = DenseUNet(dim, 1, width, classes).to(device)
        dense = torch.zeros(images, 1, *shape)
        index = (coords[:, 0], slice(None), *coords[:, 1:].unbind(1))
        dense[index] = feats
        dense_labels = torch.full((images, *shape), -100, dtype=torch.int64)
        dense_labels[(coords[:, 0], *coords[:, 1:].unbind(1))] = labels
        dense, dense_labels = dense.to(device), dense_labels.to(device)

        def step() -> None:
            # Loss on the active pixels only, as the sparse network sees them.
            loss = nn.functional.cross_entropy(net(dense), dense_labels, ignore_index=-100)
            net.zero_grad(set_to_none=True)
            loss.backward()

    seconds = median_time(step, repeats, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = cpu_peak_bytes(step)
    return {"time": seconds, "peak_bytes": max(peak, 0)}


def cpu_peak_bytes(step: Callable[[], object]) -> int:
    """Peak of the bytes torch holds during ``step`` beyond what it held before.

    The profiler records each operator's own allocations and frees in order; the running
    sum of those is the memory held, and its maximum is the step's peak.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    held = peak = 0
    for event in events:
        held += event.self_cpu_memory_usage
        peak = max(peak, held)
    return peak


def dense_table(args: argparse.Namespace, device: torch.device) -> list[dict]:
    rows = []
    cases = QUICK_DENSE_CASES if args.quick else DENSE_CASES
    for label, _dim, size, _sites, _images in cases:
        if args.max_dense_size and size > args.max_dense_size:
            continue
        result = {"case": label}
        for kind in ("sparse", "dense"):
            repeats = args.repeats if (kind == "sparse" or size <= 128 or args.quick) else 1
            cmd = [
                sys.executable,
                __file__,
                "--probe",
                kind,
                "--probe-case",
                label,
                "--device",
                str(device),
                "--repeats",
                str(repeats),
                "--threads",
                args.threads.split(",")[-1],
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(f"{label}: {kind} probe failed: {out.stderr.strip().splitlines()[-1:]}")
                result[kind] = None
                continue
            result[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        if result["sparse"] and result["dense"]:
            s, d = result["sparse"], result["dense"]
            print(
                f"{label:>16} {s['time'] * 1e3:10.1f} {d['time'] * 1e3:11.1f} "
                f"{d['time'] / s['time']:8.1f}x {s['peak_bytes'] / 2**20:9.1f} "
                f"{d['peak_bytes'] / 2**20:10.1f} "
                f"{d['peak_bytes'] / max(s['peak_bytes'], 1):8.1f}x",
                flush=True,
            )
        rows.append(result)
    return rows


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, xpu (default: cpu)")
    parser.add_argument(
        "--threads",
        default="1,2",
        help="CPU thread counts to compare, comma-separated (default: 1,2)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed repetitions per case; the median is shown"
    )
    parser.add_argument("--no-spconv", action="store_true", help="skip the spconv columns")
    parser.add_argument(
        "--only", choices=["conv", "step", "dense"], action="append", default=None,
        help="run this table only (repeatable; default: all)"
    )
    parser.add_argument("--match", default="",
                        help="only the convolution cases whose 'case op' text contains this")
    parser.add_argument("--max-dense-size", type=int, default=0,
                        help="skip sparse-vs-dense cases with a larger grid (0: run all)")
    parser.add_argument("--probe", choices=["sparse", "dense"], help=argparse.SUPPRESS)
    parser.add_argument("--probe-case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    try:
        device = torch.device(args.device)
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as exc:
        print(
            f"kernels benchmark: error: device {args.device!r} is not usable here ({exc})",
            file=sys.stderr,
        )
        return 2
    if args.probe:
        torch.set_num_threads(int(args.threads))
        print(json.dumps(dense_probe(args.probe, args.probe_case, args.device, args.repeats)))
        return 0

    tables = args.only or ["conv", "step", "dense"]
    print(f"# torch {torch.__version__}, device {device}, repeats {args.repeats} (median of "
          "interleaved runs)")
    if "conv" in tables:
        print("\n## one layer, time in ms: with the map reused | with the map built in the "
              "call | exactness")
        _print_conv_header()
        conv_table(args, device)
    if "step" in tables:
        print("\n## U-ResNet training step (forward, loss, backward; maps built once per "
              "step), ms")
        print(f"{'case':>12} {'sites':>8} {'thr':>3} {'ours':>8} {'spconv':>8} {'ratio':>5} "
              f"{'cpu r':>5}")
        step_table(args, device)
    if "dense" in tables:
        print(
            "\n## sparse vs dense small U-Net, one training step (fwd+bwd), threads="
            f"{args.threads.split(',')[-1] if device.type == 'cpu' else '-'}"
        )
        print(
            f"{'case':>16} {'sparse ms':>10} {'dense ms':>11} {'speed-up':>9} "
            f"{'sparse MiB':>9} {'dense MiB':>10} {'mem ratio':>9}"
        )
        dense_table(args, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
