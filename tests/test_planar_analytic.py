"""1D-equivalent steady state of a coated planar Li anode against closed-form results.

With constant properties and the reservoir counter (c = c0, phi = 0 at y = L), the steady
binary-electrolyte solution is (Newman & Thomas-Alyea, Electrochemical Systems, ch. 12; physics.md §6):

    c(0)   = c0 - i (1 - t+) L_e / (F D)
    i_lim  = F D c0 / ((1 - t+) L_e)
    V      = eta_BV + i t/kappa_c + i L_e/kappa + (2RT/F)(1 - t+) ln(c(0)/c0)    (signed, plating i < 0)

with eta_BV from Butler–Volmer at i0 (c(0)/c0)^alpha_a (bare) or i0 (coated, solid side).
Every check is to 0.5 % (the discretisation is exact up to the nonlinearity, so errors are ~1e-8).
"""

import numpy as np
import pytest
from mpi4py import MPI

from helpers import C0, D, KAPPA, TP, constant_electrolyte, planar
from licoat.constants import FARADAY, GAS_CONSTANT
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Coating, Kinetics, Operation

T = 298.15
VT = GAS_CONSTANT * T / FARADAY
L = 50e-6



def bv_eta(i_n, i0, aa, ac):
    """Solve i_n = i0[exp(aa eta/VT) - exp(-ac eta/VT)] for eta by bisection (monotone)."""
    lo, hi = -2.0, 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if i0 * (np.exp(aa * mid / VT) - np.exp(-ac * mid / VT)) > i_n:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def expected(i, t=0.0, kappa_c=None, i0=10.0, aa=0.5, ac=0.5):
    Le = L - t
    cs = C0 - i * (1 - TP) * Le / (FARADAY * D)
    i0_eff = i0 if t > 0 else i0 * (cs / C0) ** aa
    eta = bv_eta(-i, i0_eff, aa, ac)
    parts = {
        "kinetic": eta,
        "coating_ohmic": -i * t / kappa_c if t > 0 else 0.0,
        "electrolyte_ohmic": -i * Le / KAPPA,
        "concentration": 2 * VT * (1 - TP) * np.log(cs / C0),
    }
    return cs, sum(parts.values()), parts


@pytest.mark.parametrize("coated", [False, True])
@pytest.mark.parametrize("i, aa", [(20.0, 0.5), (200.0, 0.3)])
def test_steady_planar_closed_form(coated, i, aa):
    comm = MPI.COMM_WORLD
    t, kappa_c = (50e-9, 1e-4) if coated else (0.0, None)
    tm = planar(comm, L=L, t=t)
    kin = Kinetics(10.0, aa, 1 - aa, 0.0 if coated else aa)
    cell = SteadyCell(comm, tm, constant_electrolyte(), kin, Operation("galvanostatic", i, None, T),
                      coating=Coating("film", t, kappa_c) if coated else None, length_scale=L)
    m = cell.solve().metrics()
    cs, V, parts = expected(i, t, kappa_c, aa=aa, ac=1 - aa)
    assert m["surface_concentration_mean_mol_m3"] == pytest.approx(cs, rel=5e-3)
    assert m["cell_voltage_V"] == pytest.approx(V, rel=5e-3)
    for key, value in parts.items():
        assert m["overpotentials_V"][key] == pytest.approx(value, rel=5e-3, abs=1e-12), key
    assert m["plating"]["current_density_mean_A_m2"] == pytest.approx(i, rel=1e-9)
    assert m["plating"]["cv"] < 1e-5


@pytest.mark.parametrize("fraction", [0.9, 0.98])
def test_limiting_current(fraction):
    """Close to the transport limit the surface concentration extrapolates to zero at
    i_lim = F D c0 / ((1 - t+) L): i_lim,FEM = i / (1 - c(0)/c0) within 0.5 %."""
    comm = MPI.COMM_WORLD
    tm = planar(comm, L=L)
    i_lim = FARADAY * D * C0 / ((1 - TP) * L)
    cell = SteadyCell(comm, tm, constant_electrolyte(), Kinetics(10.0, 0.5, 0.5, 0.5),
                      Operation("galvanostatic", fraction * i_lim, None, T), length_scale=L)
    m = cell.solve().metrics()
    cs = m["surface_concentration_mean_mol_m3"]
    assert cs == pytest.approx((1 - fraction) * C0, rel=5e-3)
    assert fraction * i_lim / (1 - cs / C0) == pytest.approx(i_lim, rel=5e-3)


def test_symmetric_lithium_cell_conserves_salt():
    """Li|electrolyte|Li: c(y) linear about c0 (salt conserved), V = 2 eta + i L/kappa + conc (physics.md §6)."""
    comm = MPI.COMM_WORLD
    tm = planar(comm, L=L)
    i = 50.0
    kin = Kinetics(10.0, 0.5, 0.5, 0.0)  # no concentration factor: closed form below is exact
    cell = SteadyCell(comm, tm, constant_electrolyte(), kin, Operation("galvanostatic", i, None, T, "lithium"),
                      counter_kinetics=kin, length_scale=L)
    m = cell.solve().metrics()
    dc = i * (1 - TP) * L / (FARADAY * D)  # c(L) - c(0)
    c_low, c_high = C0 - dc / 2, C0 + dc / 2
    eta = bv_eta(-i, 10.0, 0.5, 0.5)
    V = 2 * eta - i * L / KAPPA + 2 * VT * (1 - TP) * np.log(c_low / c_high)
    assert m["surface_concentration_mean_mol_m3"] == pytest.approx(c_low, rel=5e-3)
    assert m["cell_voltage_V"] == pytest.approx(V, rel=5e-3)
