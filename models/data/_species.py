"""Range-energy relation of charged particles in liquid argon, vectorised.

Below a knee the CSDA range follows Bragg-Kleeman, R = a T^b (b = 1.77, proton
a = 0.0022 cm MeV^-b, scaled by mass for muons and pions); above it the particle is
minimum-ionising and loses 2.2 MeV/cm. The energy lost in a step is T(R) - T(R - step),
which gives the Bragg peak at the end of stopping tracks and keeps the total deposit
equal to the kinetic energy.
"""

from __future__ import annotations

import numpy as np

MIP_MEV_PER_CM = 2.2
_B = 1.77
_A_PROTON = 0.0022
_M_PROTON = 938.27

# Index of each species in the tables below.
MUON_SP, PION_SP, PROTON_SP, ELECTRON_SP = range(4)
MASS_MEV = np.array([105.66, 139.57, _M_PROTON, 0.511])


def _power_law(mass: float) -> tuple[float, float, float]:
    a = _A_PROTON * (_M_PROTON / mass) ** (_B - 1.0)
    t_knee = (1.0 / (MIP_MEV_PER_CM * a * _B)) ** (1.0 / (_B - 1.0))
    return a, t_knee, a * t_knee**_B


_MU, _PI = _power_law(MASS_MEV[MUON_SP]), _power_law(MASS_MEV[PION_SP])
RANGE_A = np.array([_MU[0], _PI[0], _A_PROTON, 1.0])
# Protons stay in the Bragg-Kleeman regime over our energies; electrons are all MIP.
KNEE_T = np.array([_MU[1], _PI[1], 1e12, 0.0])
KNEE_R = np.array([_MU[2], _PI[2], 1e12, 0.0])


def range_cm(species: np.ndarray, kinetic_mev: np.ndarray) -> np.ndarray:
    """CSDA range for kinetic energy T."""
    a, tk, rk = RANGE_A[species], KNEE_T[species], KNEE_R[species]
    low = a * np.minimum(kinetic_mev, tk) ** _B
    return np.where(kinetic_mev <= tk, low, rk + (kinetic_mev - tk) / MIP_MEV_PER_CM)


def kinetic_mev(species: np.ndarray, residual_cm: np.ndarray) -> np.ndarray:
    """Kinetic energy left with a residual range R (inverse of range_cm)."""
    rk = KNEE_R[species]
    out = KNEE_T[species] + (residual_cm - rk) * MIP_MEV_PER_CM
    # the power law only where needed: most steps of long tracks are minimum-ionising
    low = np.flatnonzero(residual_cm <= rk)
    if low.size:
        out[low] = (residual_cm[low] / RANGE_A[species[low]]) ** (1.0 / _B)
    return out
