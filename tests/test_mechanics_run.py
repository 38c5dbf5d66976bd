"""Stress-coupled plating runs from case files ([mechanics], Monroe–Newman coupling).

References: mechanics.md (this project's physics desk); Monroe & Newman, J. Electrochem. Soc.
152 (2005) A396. z Δμ = (V_M − V+)/2 (p_e + p_s) + (V_M + V+)/2 (τ_e − τ_s) − (V_M + V+)/2 γ κ.
"""

import numpy as np
import pytest
from mpi4py import MPI

from licoat import setup
from licoat.case import CaseError, validate
from licoat.constants import FARADAY
from licoat.meshes import build_mesh
from licoat.run import solve_steady


def run(raw):
    case = validate(raw)
    tm = build_mesh(MPI.COMM_WORLD, setup.geometry_params(case))
    return solve_steady(MPI.COMM_WORLD, case, tm)


def test_flat_bare_li_under_uniaxial_stack_pressure():
    """Laterally constrained Li under a uniaxial stack pressure p transmitted by the liquid
    (p_s = p, tau_s = 0, V+ = 0): sigma_yy = -p, sigma_xx = nu/(1-nu) sigma_yy in Li, so
    p_e = p/(2(1-nu)), tau_e = -p(1-2nu)/(2(1-nu)) and Δμ/F = 0.1161 mV per MPa (nu_Li = 0.42)."""
    p, nu, V_M = 1e6, 0.42, 6.94e-3 / 534.0
    s = run({"geometry": {"mesh_size": "4 um", "electrolyte_thickness": "20 um"},
             "mechanics": {"enabled": True, "stress_coupling": "monroe-newman", "stack_pressure": "1 MPa"},
             "operation": {"current_density": "1 mA/cm^2"}})
    p_e, tau_e = p / (2 * (1 - nu)), -p * (1 - 2 * nu) / (2 * (1 - nu))
    dmu = V_M / 2 * (p_e + p) + V_M / 2 * tau_e
    assert dmu / FARADAY == pytest.approx(0.1161e-3, rel=2e-3)
    assert s["overpotentials_V"]["mechanical"] == pytest.approx(dmu / FARADAY, rel=5e-3)
    assert s["mechanics"]["plating_without_coupling"]["cv"] < 1e-6  # flat: uniform either way


def test_surface_tension_makes_the_peak_plate_less():
    """Sinusoidal Li (h = A cos kx, peak at x = 0), no stack pressure: the surface term
    -(V_M + V+) gamma kappa / 2 lowers Δμ at the peak, so the peak plates less with the coupling."""
    raw = {"geometry": {"kind": "sinusoid", "width": "1 um", "wavelength": "1 um", "amplitude": "0.05 um",
                        "electrolyte_thickness": "5 um", "anode_thickness": "2 um", "mesh_size": "0.25 um",
                        "interface_mesh_size": "0.02 um"},
           "anode": {"exchange_current_density": "100 mA/cm^2"},
           "mechanics": {"enabled": True, "stack_pressure": 0.0},
           "operation": {"current_density": "1 mA/cm^2"}}

    def peak_over_valley(summary):
        cell = summary.cell  # the solved problem of the typed run result
        j = cell.fields()["plating_current_density"]
        x = j.function_space.tabulate_dof_coordinates()
        on = cell.S_dofs[cell.S_dofs < j.function_space.dofmap.index_map.size_local]
        xs, js = x[on, 0], j.x.array[on]
        comm = MPI.COMM_WORLD
        peak = comm.allreduce(js[np.argmin(xs)] if xs.size and xs.min() < 1e-9 else -np.inf, op=MPI.MAX)
        near = np.abs(xs - 0.5e-6) < 1e-9  # valley at x = lambda/2
        valley = comm.allreduce(js[near][0] if near.any() else -np.inf, op=MPI.MAX)
        return peak / valley

    plain = peak_over_valley(run(raw))
    raw["mechanics"]["stress_coupling"] = "monroe-newman"
    coupled = run(raw)
    assert peak_over_valley(coupled) < plain  # surface energy pushes plating from the peak to the valley


def test_coupling_needs_mechanics_enabled():
    with pytest.raises(CaseError, match="mechanics.stress_coupling"):
        validate({"mechanics": {"stress_coupling": "monroe-newman"}})


def test_analytic_interface_curvatures():
    """Sinusoid: kappa = A k^2 cos kx (peak at x = 0); bump: (dim - 1)/R on the cap, 0 on the flat."""
    s = setup.interface_curvature(validate({"geometry": {"kind": "sinusoid", "amplitude": "1 um", "wavelength": "10 um"}}))
    k = 2 * np.pi / 10e-6
    assert s(np.array([[0.0, 5e-6], [0.0, 0.0], [0.0, 0.0]])) == pytest.approx([1e-6 * k**2, -1e-6 * k**2])
    b = setup.interface_curvature(validate({"geometry": {"kind": "bump", "dim": 3, "bump_radius": "2 um"}}))
    x = np.array([[0.0, 5e-6], [0.0, 5e-6], [2e-6, 0.0]])
    assert b(x) == pytest.approx([2 / 2e-6, 0.0])
