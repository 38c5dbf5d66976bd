"""Electronically resolved host: finite matrix conductivity in the Newman–Tobias transmission line.

General-σ linear-kinetics solution (Newman & Tobias, J. Electrochem. Soc. 109 (1962) 1183;
physics.md §6), y' from the collector (0) to the separator face (1):

    a j L / I = ν [ (σe/(κe+σe)) cosh(ν y') + (κe/(κe+σe)) cosh(ν (1 − y')) ] / sinh ν
    ν² = a i0 (α_a+α_c) F L² / (RT) · (1/κe + 1/σe)

Comb half-cell with the fin (host) and a collector meshed: κe = κ g/p, σe = σ (p − g)/p,
a = 2/p. With σe = κe/2 the current peaks at the collector (base), with σe = 2κe at the
separator face; the equipotential limit σ → ∞ is the test_transmission_line case.
"""

import numpy as np
import pytest
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat.constants import FARADAY, GAS_CONSTANT
from licoat.meshes.comb import build as build_comb
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.host_metrics import host_uniformity
from licoat.solver.properties import Kinetics, Operation

T = 298.15
VT = GAS_CONSTANT * T / FARADAY
KAPPA, GAP, L = 1.0, 5e-6, 100e-6
PITCH = 1.1 * GAP
A = 2.0 / PITCH
KE = KAPPA * GAP / PITCH
OFF = Kinetics(1.0, active=False)


def profile(yp, nu, ke, se):
    return nu * ((se / (ke + se)) * np.cosh(nu * yp) + (ke / (ke + se)) * np.cosh(nu * (1 - yp))) / np.sinh(nu)


@pytest.mark.parametrize("sigma_ratio", [0.5, 2.0])
def test_finite_matrix_conductivity(sigma_ratio):
    comm = MPI.COMM_WORLD
    se = sigma_ratio * KE
    sigma = se * PITCH / (PITCH - GAP)
    nu = 2.0
    i0 = nu**2 * VT / (A * L**2 * (1 / KE + 1 / se))  # alpha_a + alpha_c = 1
    tm = build_comb(comm, dict(pitch=PITCH, gap=GAP, fin_height=L, electrolyte_thickness=2 * GAP, mesh_size=2.5e-6,
                               interface_mesh_size=1.25e-6, with_metal=True, collector_thickness=2.5e-6))
    I = 10.0
    cell = SteadyCell(comm, tm, constant_electrolyte(kappa=KAPPA, tp=1.0), Kinetics(i0, 0.5, 0.5, form="linear"),
                      Operation("galvanostatic", I, None, T), length_scale=L, degree=2,
                      surface_kinetics={"anode_electrolyte": OFF, "collector_electrolyte": OFF},
                      metal_conductivity={"host": sigma, "collector": 1e4 * sigma})
    cell.solve()
    h = host_uniformity(cell, n_bins=20, host_thickness=L)
    bins = [b for b in h["depth_profile"] if b["current_density_A_m2"] is not None]
    for b in bins[1:-1]:  # interior bins: bin average of the analytic profile
        y = np.linspace(b["z_lo_m"], b["z_hi_m"], 201) / L
        expected = profile(y, nu, KE, se).mean() * I / (A * L)
        assert b["current_density_A_m2"] == pytest.approx(expected, rel=0.02), b
    # where the current peaks follows the conductivity ratio
    ratio = h["top_to_bottom_ratio"]
    assert (ratio > 1) == (sigma_ratio > 1)
