"""Standard global-optimisation test functions with known minima (benchmark problems).

Twelve continuous functions of 2-10 dimensions from the Bayesian-optimisation literature
(definitions and minima as in Surjanovic & Bingham's "Virtual Library of Simulation
Experiments"), and two mixed spaces (integer, log-scaled and categorical parameters) whose
minima are known by construction: a closed-form surrogate of the U-ResNet's hyperparameter
response, and a mixed-type Ackley.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Problem:
    name: str
    search_space: dict[str, dict[str, Any]]  # the campaign file's [search_space] table
    objective: Callable[[Mapping[str, Any]], float]
    minimum: float
    budget: int  # evaluations per run (full mode)

    @property
    def dimension(self) -> int:
        return len(self.search_space)


def _x(p: Mapping[str, Any], d: int) -> np.ndarray:
    return np.array([float(p[f"x{i}"]) for i in range(1, d + 1)])


def _box(d: int, low: float, high: float) -> dict[str, dict[str, Any]]:
    return {f"x{i}": {"type": "float", "low": low, "high": high} for i in range(1, d + 1)}


def branin(p: Mapping[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def six_hump_camel(p: Mapping[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    return (4 - 2.1 * x1**2 + x1**4 / 3) * x1**2 + x1 * x2 + (-4 + 4 * x2**2) * x2**2


_H3_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547],
                         [381, 5743, 8828]])
_H6_A = np.array([
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
])
_H6_P = 1e-4 * np.array([
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
])


def hartmann3(p: Mapping[str, Any]) -> float:
    x = _x(p, 3)
    return float(-np.sum(_H3_ALPHA * np.exp(-np.sum(_H3_A * (x - _H3_P) ** 2, axis=1))))


def hartmann6(p: Mapping[str, Any]) -> float:
    x = _x(p, 6)
    return float(-np.sum(_H3_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def _ackley(x: np.ndarray) -> float:
    spread = -20 * np.exp(-0.2 * np.sqrt(np.mean(x**2)))
    return float(spread - np.exp(np.mean(np.cos(2 * np.pi * x))) + 20 + math.e)


def ackley(p: Mapping[str, Any], d: int = 5) -> float:
    return _ackley(_x(p, d))


def levy(p: Mapping[str, Any], d: int = 4) -> float:
    w = 1 + (_x(p, d) - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    middle = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + middle + tail)


def rosenbrock(p: Mapping[str, Any], d: int = 4) -> float:
    x = _x(p, d)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (x[:-1] - 1) ** 2))


def styblinski_tang(p: Mapping[str, Any], d: int = 5) -> float:
    x = _x(p, d)
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


_SHEKEL_BETA = 0.1 * np.array([1, 2, 2, 4, 4, 6, 3, 7, 5, 5])
_SHEKEL_C = np.array([
    [4, 1, 8, 6, 3, 2, 5, 8, 6, 7],
    [4, 1, 8, 6, 7, 9, 3, 1, 2, 3.6],
    [4, 1, 8, 6, 3, 2, 5, 8, 6, 7],
    [4, 1, 8, 6, 7, 9, 3, 1, 2, 3.6],
], dtype=float)


def shekel(p: Mapping[str, Any]) -> float:
    x = _x(p, 4)
    return float(-np.sum(1 / (np.sum((x[:, None] - _SHEKEL_C) ** 2, axis=0) + _SHEKEL_BETA)))


def michalewicz(p: Mapping[str, Any], d: int = 5) -> float:
    x = _x(p, d)
    i = np.arange(1, d + 1)
    return float(-np.sum(np.sin(x) * np.sin(i * x**2 / np.pi) ** 20))


def griewank(p: Mapping[str, Any], d: int = 8) -> float:
    x = _x(p, d)
    return float(np.sum(x**2) / 4000 - np.prod(np.cos(x / np.sqrt(np.arange(1, d + 1)))) + 1)


def rastrigin(p: Mapping[str, Any], d: int = 10) -> float:
    x = _x(p, d)
    return float(10 * d + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


# ---- mixed spaces ---------------------------------------------------------------------------
_OPTIMISER_OFFSET = {"adamw": 0.0, "adam": 0.01, "sgd": 0.04, "rmsprop": 0.03}


def uresnet_response(p: Mapping[str, Any]) -> float:
    """Validation loss of a sparse U-ResNet as a closed form of its hyperparameters: the best
    learning rate grows with the batch size (linear scaling, log-space), too little depth
    or width underfits, too much overfits at this data size, dropout helps a little, weight
    decay has a broad optimum, and the optimiser shifts the whole curve. Minimum 0.20 at
    adamw, depth 4, filters 32, lr 2e-3 * batch/32 with batch 32, dropout 0.1, wd 1e-4."""
    lr, batch = float(p["lr"]), int(p["batch_size"])
    lr_best = 2e-3 * batch / 32
    loss = 0.20 + 0.08 * math.log10(lr / lr_best) ** 2
    loss += 0.015 * math.log2(batch / 32) ** 2  # small batches are noisy, big ones generalise worse
    loss += 0.012 * (int(p["depth"]) - 4) ** 2
    loss += 0.02 * math.log2(int(p["filters"]) / 32) ** 2
    loss += 0.3 * (float(p["dropout"]) - 0.1) ** 2
    loss += 0.01 * math.log10(float(p["weight_decay"]) / 1e-4) ** 2
    return loss + _OPTIMISER_OFFSET[str(p["optimizer"])]


def mixed_ackley(p: Mapping[str, Any]) -> float:
    """Ackley over 3 floats, 2 integers (one log-scaled, mapped to [-5, 5]) and a
    categorical that shifts the optimum's location; minimum 0 at x = shift, n1 = 0, n2 = 1."""
    shift = {"a": 0.0, "b": 1.0, "c": -1.5}[str(p["kind"])]
    floats = [float(p[f"x{i}"]) - shift for i in (1, 2, 3)]
    n2 = 5 * math.log(int(p["n2"])) / math.log(1024)  # log int 1..1024 -> 0..5
    value = _ackley(np.array([*floats, float(p["n1"]), n2]))
    return value + (0.0 if p["kind"] == "a" else 0.5)


def _named(fn: Callable[..., float], **kwargs: int) -> Callable[[Mapping[str, Any]], float]:
    return lambda p: fn(p, **kwargs)


PROBLEMS = {problem.name: problem for problem in (
    Problem("branin", {"x1": {"type": "float", "low": -5.0, "high": 10.0},
                       "x2": {"type": "float", "low": 0.0, "high": 15.0}}, branin, 0.397887, 50),
    Problem("camel6", {"x1": {"type": "float", "low": -3.0, "high": 3.0},
                       "x2": {"type": "float", "low": -2.0, "high": 2.0}},
            six_hump_camel, -1.031628, 50),
    Problem("hartmann3", _box(3, 0.0, 1.0), hartmann3, -3.86278, 80),
    Problem("levy4", _box(4, -10.0, 10.0), _named(levy, d=4), 0.0, 100),
    Problem("rosenbrock4", _box(4, -5.0, 10.0), _named(rosenbrock, d=4), 0.0, 100),
    Problem("shekel10", _box(4, 0.0, 10.0), shekel, -10.5364, 100),
    Problem("ackley5", _box(5, -32.768, 32.768), _named(ackley, d=5), 0.0, 100),
    Problem("styblinski5", _box(5, -5.0, 5.0), _named(styblinski_tang, d=5),
            -39.16599 * 5, 100),
    Problem("michalewicz5", _box(5, 0.0, math.pi), _named(michalewicz, d=5), -4.687658, 150),
    Problem("hartmann6", _box(6, 0.0, 1.0), hartmann6, -3.32237, 150),
    Problem("griewank8", _box(8, -600.0, 600.0), _named(griewank, d=8), 0.0, 200),
    Problem("rastrigin10", _box(10, -5.12, 5.12), _named(rastrigin, d=10), 0.0, 200),
    Problem("uresnet", {
        "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
        "batch_size": {"type": "int", "low": 8, "high": 256, "log": True},
        "depth": {"type": "int", "low": 2, "high": 7},
        "filters": {"type": "int", "low": 8, "high": 128, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
        "optimizer": {"type": "categorical", "choices": ["sgd", "adam", "adamw", "rmsprop"]},
    }, uresnet_response, 0.20, 100),
    Problem("mixed_ackley", {
        **_box(3, -5.0, 5.0),
        "n1": {"type": "int", "low": -5, "high": 5},
        "n2": {"type": "int", "low": 1, "high": 1024, "log": True},
        "kind": {"type": "categorical", "choices": ["a", "b", "c"]},
    }, mixed_ackley, 0.0, 100),
)}
