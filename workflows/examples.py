"""Test functions for trying the service without training anything.

Use them as generic objectives, e.g. `[objective] entrypoint = "workflows.examples:branin"`.
The `fail_*` functions exist to see how failures are recorded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

# Hartmann 6-D constants (Dixon & Szegö); global minimum -3.32237.
_H6_ALPHA = (1.0, 1.2, 3.0, 3.2)
_H6_A = (
    (10, 3, 17, 3.5, 1.7, 8),
    (0.05, 10, 17, 0.1, 8, 14),
    (3, 3.5, 1.7, 10, 17, 8),
    (17, 8, 0.05, 10, 0.1, 14),
)
_H6_P = (
    (1312, 1696, 5569, 124, 8283, 5886),
    (2329, 4135, 8307, 3736, 1004, 9991),
    (2348, 1451, 3522, 2883, 3047, 6650),
    (4047, 8828, 8732, 5743, 1091, 381),
)


def branin(params: dict[str, Any]) -> float:
    """Branin-Hoo on x in [-5, 10], y in [0, 15]; global minimum 0.397887.

    A `sleep` parameter (seconds) makes the trial last longer, to watch a campaign run.
    """
    x, y = float(params["x"]), float(params["y"])
    time.sleep(float(params.get("sleep", 0.0)))
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s


def hartmann6(params: dict[str, Any]) -> float:
    """Hartmann 6-D on x1..x6 in [0, 1]."""
    x = [float(params[f"x{i}"]) for i in range(1, 7)]
    total = 0.0
    for alpha, a_row, p_row in zip(_H6_ALPHA, _H6_A, _H6_P, strict=True):
        inner = sum(a * (xi - p * 1e-4) ** 2 for a, xi, p in zip(a_row, x, p_row, strict=True))
        total -= alpha * math.exp(-inner)
    return total


def branin_curve(params: dict[str, Any], report: Callable[[int, Any], bool]) -> dict[str, float]:
    """Branin reached over `epochs` steps (default 5), reporting each step: a pruning demo."""
    final = branin({**params, "sleep": 0.0})
    epochs = int(params.get("epochs", 5))
    pause = float(params.get("sleep", 0.0)) / max(epochs, 1)
    value = final
    for step in range(1, epochs + 1):
        value = final * (1.0 + (epochs - step) / epochs)  # reaches branin at the last step
        time.sleep(pause)
        if report(step, value):
            break
    return {"objective": value, "final_branin": final}


def fail_raise(params: dict[str, Any]) -> float:
    raise RuntimeError(f"deliberate failure for x={params.get('x')}")


def fail_nan(params: dict[str, Any]) -> float:
    return float("nan")


def fail_exit(params: dict[str, Any]) -> float:
    raise SystemExit(3)
