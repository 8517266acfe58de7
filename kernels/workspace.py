"""Reusable buffers for the convolutions of one coordinate manager.

The gather-GEMM-scatter writes one row per kernel-map pair, several times the size of the
features. Fresh buffers of that size come straight from the operating system and every page
faults on first touch, which cost about a third of a convolution's time; writing into
buffers that were touched before (``out=``) removes that cost.

Two kinds of buffer:

* scratch: live only inside one forward or one backward call, so every layer of the manager
  shares them (calls run one after another);
* kept gathers: the input rows a forward gathered, lent to that layer until its backward has
  computed the weight gradient, then given back for the next forward. Their total size is
  bounded (:func:`set_kept_gather_limit`); above the bound the backward gathers again.

When a manager is freed its workspace waits in a one-per-device slot for the next manager (the
next event), so a training loop keeps reusing the same memory; :func:`release_workspaces`
drops the waiting ones.
"""

from __future__ import annotations

import threading
import weakref

import torch

_DEFAULT_KEPT_LIMIT = 1 << 30
_kept_limit = _DEFAULT_KEPT_LIMIT
_idle: dict[tuple[str, threading.Thread], Workspace] = {}
_idle_lock = threading.Lock()


def set_kept_gather_limit(nbytes: int) -> None:
    """Bound on the bytes of forward gathers kept for the weight gradient, per workspace.

    Keeping them saves one row gather per convolution in the backward; 0 turns keeping off.
    The default is 1 GiB.
    """
    global _kept_limit
    if int(nbytes) < 0:
        raise ValueError(f"the kept-gather limit must be >= 0 bytes, got {nbytes}")
    _kept_limit = int(nbytes)


def kept_gather_limit() -> int:
    return _kept_limit


def release_workspaces() -> None:
    """Free the workspaces that wait for a new coordinate manager (in this thread)."""
    with _idle_lock:
        for key in [k for k in _idle if k[1] is threading.current_thread()]:
            del _idle[key]


class Workspace:
    def __init__(self) -> None:
        self._scratch: dict[tuple[str, torch.dtype, torch.device], torch.Tensor] = {}
        self._free: list[torch.Tensor] = []
        self.kept_bytes = 0  # kept buffers alive: lent out or free

    def scratch(self, name: str, rows: int, cols: int, dtype: torch.dtype,
                device: torch.device) -> torch.Tensor:
        """A [rows, cols] buffer valid until the next ``scratch(name, ...)`` call."""
        key = (name, dtype, device)
        flat = self._scratch.get(key)
        if flat is None or flat.numel() < rows * cols:
            flat = torch.empty(rows * cols, dtype=dtype, device=device)
            self._scratch[key] = flat
        return flat[: rows * cols].view(rows, cols)

    def lend(self, rows: int, cols: int, dtype: torch.dtype,
             device: torch.device) -> torch.Tensor | None:
        """A [rows, cols] buffer owned by the caller until :meth:`give_back`, or None when
        the kept-gather bound would be exceeded."""
        need = rows * cols
        fits = [b for b in self._free
                if b.dtype == dtype and b.device == device and b.numel() >= need]
        if fits:
            flat = min(fits, key=torch.Tensor.numel)
            self._free = [b for b in self._free if b is not flat]
        else:
            nbytes = need * dtype.itemsize
            # Free buffers too small for this event make room first (oldest first).
            while self._free and self.kept_bytes + nbytes > _kept_limit:
                self._free.pop(0)
            if self.kept_bytes + nbytes > _kept_limit:
                return None
            flat = torch.empty(need, dtype=dtype, device=device)
            self.kept_bytes += nbytes
            # A buffer whose backward never runs is freed with its graph: stop counting it.
            weakref.finalize(flat, self._forget, nbytes)
        return flat[:need].view(rows, cols)

    def give_back(self, buffer: torch.Tensor) -> None:
        flat = buffer._base if buffer._base is not None else buffer
        # A graph kept for a second backward gives its buffer back twice: list it once.
        if all(b is not flat for b in self._free):
            self._free.append(flat)

    def _forget(self, nbytes: int) -> None:
        self.kept_bytes -= nbytes


def workspace_for(owner: object, device: torch.device) -> Workspace:
    """A workspace for ``owner`` (a coordinate manager) that outlives it in the idle slot."""
    key = (str(device), threading.current_thread())
    with _idle_lock:
        ws = _idle.pop(key, None)
    if ws is None:
        ws = Workspace()
    weakref.finalize(owner, _park, key, ws)
    return ws


def _park(key: tuple[str, threading.Thread], ws: Workspace) -> None:
    with _idle_lock:
        _idle[key] = ws
