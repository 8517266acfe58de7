"""Benchmark of the sparse convolution kernels: against spconv (CPU) and against dense torch.

    python benchmarks/kernels.py            # full run (several minutes on 2 cores)
    python benchmarks/kernels.py --quick    # small smoke run
    python benchmarks/kernels.py --device cuda

Times are medians of repeated runs; every ratio compares two runs made side by side in this
process. Submanifold/strided timings include building the kernel map (a fresh SparseTensor
each run); the transposed convolution reuses the map of its strided convolution, as in a
U-Net. spconv is optional (CPU only); without it those columns are skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder would shadow the kernels package with this module.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(_ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

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


def median_time(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    return median_times([fn], repeats, device)[0]


def median_times(
    fns: list[Callable[[], object]], repeats: int, device: torch.device
) -> list[float]:
    """Median wall time of each function; runs are interleaved (a, b, a, b, ...) so that a
    shared, noisy machine slows all of them alike."""
    for fn in fns:
        fn()  # warm-up (allocator, thread pools, lazy init)
    _sync(device)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            _sync(device)
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


# --------------------------------------------------------------------------- events
def track_batch(n_total: int, batch: int, size: int, dim: int, seed: int) -> np.ndarray:
    """[n_total, 1+dim] int32 coordinates: ``batch`` track events of n_total/batch voxels."""
    rng = np.random.default_rng(seed)
    parts = []
    for b in range(batch):
        vox = track_event(rng, n_total // batch, size, dim)
        parts.append(np.concatenate([np.full((len(vox), 1), b, np.int32), vox], axis=1))
    return np.concatenate(parts)


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


def rows_by_site(coords: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """Features reordered by (batch, z, y, x) so two implementations' outputs line up."""
    c = coords.to(torch.int64)
    key = c[:, 0]
    for axis in range(1, c.shape[1]):
        key = key * 4096 + c[:, axis]
    return feats[torch.argsort(key)]


def wrong_rows(ours: torch.Tensor, theirs: torch.Tensor) -> int:
    scale = ours.abs().amax().clamp(min=1e-12)
    bad = ((ours - theirs).abs() > 1e-4 * scale).any(1)
    return int(bad.sum())


# --------------------------------------------------------------------------- conv table
CONV_CASES = [
    # (label, total voxels, batch)
    ("20k b1", 20_000, 1),
    ("100k b1", 100_000, 1),
    ("80k b4", 80_000, 4),
    ("400k b4", 400_000, 4),
]
QUICK_CONV_CASES = [("5k b1", 5_000, 1), ("8k b2", 8_000, 2)]


def conv_table(args: argparse.Namespace, device: torch.device) -> list[dict]:
    spconv = None if (args.no_spconv or device.type != "cpu") else load_spconv()
    cases = QUICK_CONV_CASES if args.quick else CONV_CASES
    threads = [int(t) for t in args.threads.split(",")] if device.type == "cpu" else [0]
    rows = []
    size, dim, channels = 512, 3, 16
    for label, n_total, batch in cases:
        coords_np = track_batch(n_total, batch, size, dim, seed=n_total + batch)
        coords = torch.from_numpy(coords_np).to(device)
        gen = torch.Generator().manual_seed(0)
        feats = torch.randn(len(coords), channels, generator=gen).to(device)
        for op in ("subm", "k2s2", "k3s2"):
            for n_threads in threads:
                if n_threads:
                    torch.set_num_threads(n_threads)
                new = _conv_case(
                    args, device, spconv, label, op, n_threads, coords, feats, size, batch, channels
                )
                _print_conv_row(new)
                rows.extend(new)
    return rows


def _conv_case(
    args, device, spconv, label, op, n_threads, coords, feats, size, batch, channels
) -> list[dict]:
    """Time ours (and spconv's) forward, forward+backward and the inverse convolution."""
    dim = 3
    shape = (size,) * dim
    torch.manual_seed(1)
    kernel = 3 if op in ("subm", "k3s2") else 2
    if op == "subm":
        layer = SubMConv(dim, channels, channels, 3, bias=False).to(device)
        inverse = None
    else:
        layer = SparseConv(dim, channels, channels, kernel, 2, bias=False).to(device)
        inverse = SparseInverseConv(dim, channels, channels, kernel, 2, bias=False).to(device)
    grad_feats = feats.detach().clone().requires_grad_(True)

    def ours_forward() -> None:
        with torch.no_grad():
            layer(SparseTensor(coords, feats, shape, batch_size=batch))

    def ours_train() -> None:
        x = SparseTensor(coords, grad_feats, shape, batch_size=batch)
        layer(x).feats.sum().backward()
        grad_feats.grad = None
        layer.zero_grad(set_to_none=True)

    fns = {"ours_fwd": ours_forward, "ours_fwdbwd": ours_train}
    if inverse is not None:
        x_fine = SparseTensor(coords, feats, shape, batch_size=batch)
        coarse = layer(x_fine)
        coarse_feats = coarse.feats.detach().requires_grad_(True)
        coarse = coarse.replace(coarse_feats)

        def ours_inverse() -> None:
            inverse(coarse, x_fine).feats.sum().backward()
            coarse_feats.grad = None
            inverse.zero_grad(set_to_none=True)

        fns["ours_inv"] = ours_inverse
    extra: dict = {}
    if spconv is not None:
        fns.update(_spconv_side(spconv, kernel, layer, inverse, coords, feats, shape, batch, extra))
    times = dict(zip(fns, median_times(list(fns.values()), args.repeats, device), strict=True))
    row = {
        "case": label,
        "op": op,
        "threads": n_threads,
        "ours_fwd": times["ours_fwd"],
        "ours_fwdbwd": times["ours_fwdbwd"],
        **extra,
    }
    if "sp_fwd" in times:
        row["spconv_fwd"], row["spconv_fwdbwd"] = times["sp_fwd"], times["sp_fwdbwd"]
    rows = [row]
    if inverse is not None:
        inv = {
            "case": label,
            "op": op + " inverse",
            "threads": n_threads,
            "ours_fwd": float("nan"),
            "ours_fwdbwd": times["ours_inv"],
        }
        if "sp_inv" in times:
            inv["spconv_fwdbwd"] = times["sp_inv"]
        rows.append(inv)
    return rows


def _spconv_side(spconv, kernel, layer, inverse, coords, feats, shape, batch, extra: dict) -> dict:
    """spconv's callables on the same sites and weights; counts its disagreeing rows."""
    dim = 3
    c32 = coords.int().contiguous()
    if inverse is None:
        sp_layer = spconv.SubMConv3d(16, 16, 3, bias=False, indice_key="bench_subm")
    else:
        sp_layer = spconv.SparseConv3d(
            16, 16, kernel, stride=2, padding=(kernel - 1) // 2, bias=False, indice_key="bench_down"
        )
    with torch.no_grad():
        sp_layer.weight.copy_(spconv_weight(layer.weight, kernel, dim))
    grad_feats = feats.detach().clone().requires_grad_(True)

    def theirs_forward():
        with torch.no_grad():
            return sp_layer(spconv.SparseConvTensor(feats, c32, list(shape), batch))

    def theirs_train() -> None:
        x = spconv.SparseConvTensor(grad_feats, c32, list(shape), batch)
        sp_layer(x).features.sum().backward()
        grad_feats.grad = None
        sp_layer.zero_grad(set_to_none=True)

    # Disagreement: ours is thread-count independent, so it is the reference.
    with torch.no_grad():
        ours = layer(SparseTensor(coords, feats, shape, batch_size=batch))
    ref = rows_by_site(ours.coords, ours.feats)
    wrong = []
    for _ in range(3):
        out = theirs_forward()
        got = rows_by_site(out.indices, out.features)
        wrong.append(wrong_rows(ref, got) if got.shape == ref.shape else len(ref))
    extra["spconv_wrong_rows"] = max(wrong)
    extra["rows"] = len(ref)
    fns = {"sp_fwd": theirs_forward, "sp_fwdbwd": theirs_train}
    if inverse is None:
        return fns
    sp_inv = spconv.SparseInverseConv3d(16, 16, kernel, bias=False, indice_key="bench_down")
    with torch.no_grad():
        sp_inv.weight.copy_(spconv_weight(inverse.weight, kernel, dim))
    coarse = sp_layer(spconv.SparseConvTensor(feats, c32, list(shape), batch))
    coarse_feats = coarse.features.detach().requires_grad_(True)
    coarse = coarse.replace_feature(coarse_feats)

    def theirs_inverse() -> None:
        sp_inv(coarse).features.sum().backward()
        coarse_feats.grad = None
        sp_inv.zero_grad(set_to_none=True)

    fns["sp_inv"] = theirs_inverse
    return fns


def _print_conv_row(rows: list[dict]) -> None:
    for row in rows:
        line = (
            f"{row['case']:>8} {row['op']:>14} {row['threads']:>3} "
            f"{_ms(row['ours_fwd'])} {_ms(row['ours_fwdbwd'])}"
        )
        if "spconv_fwdbwd" in row:
            line += (
                f" {_ms(row.get('spconv_fwd', float('nan')))} "
                f"{_ms(row['spconv_fwdbwd'])} "
                f"{_ratio(row['ours_fwd'], row.get('spconv_fwd', float('nan')))} "
                f"{_ratio(row['ours_fwdbwd'], row['spconv_fwdbwd'])}"
            )
            if "spconv_wrong_rows" in row:
                line += f" {row['spconv_wrong_rows']:>6}/{row['rows']}"
        print(line, flush=True)


def _ms(t: float) -> str:
    return f"{t * 1e3:9.1f}" if t == t else f"{'-':>9}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:6.2f}" if a == a and b == b else f"{'-':>6}"


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
        "--only", choices=["conv", "dense"], default=None, help="run one table only"
    )
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

    print(f"# torch {torch.__version__}, device {device}, repeats {args.repeats} (median)")
    if args.only in (None, "conv"):
        print(
            "\n## 3D 512^3 track events, 16->16 channels: time in ms "
            "(subm/strided include the map build)"
        )
        print(
            f"{'case':>8} {'op':>14} {'thr':>3} {'ours fwd':>9} {'ours f+b':>9}"
            f" {'sp fwd':>9} {'sp f+b':>9} {'r fwd':>6} {'r f+b':>6} {'sp wrong rows':>13}"
        )
        conv_table(args, device)
    if args.only in (None, "dense"):
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
