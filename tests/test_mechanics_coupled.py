"""Elasticity on the solid cells and the Monroe–Newman interface potential (solver/mechanics.py).

Model and numbers: ``/work/shared/reference/mechanics.md`` ("Elasticity", "Stress-coupled kinetics");
Monroe & Newman, J. Electrochem. Soc. 152 (2005) A396:

    z Δμ = (V_M − V_+)/2 (p_e + p_s) + (V_M + V_+)/2 (τ_e − τ_s) − (V_M + V_+)/2 γ κ,
    p = −(σ_tt + σ_nn)/2,  τ = (σ_nn − σ_tt)/2  (n normal to the interface),

e = Li, s = the resolved coating above, or the liquid (p_s = liquid pressure, τ_s = 0) on a bare surface.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402

from licoat.constants import FARADAY, GAS_CONSTANT  # noqa: E402
from licoat.meshes import build_mesh  # noqa: E402
from licoat.solver import mechanics as me  # noqa: E402
from licoat.solver.submesh import restrict  # noqa: E402

V_M = 1.3e-5  # m^3/mol (mechanics.md)
P = 1e6  # 1 MPa
LI = me.Solid(G=3.4e9, nu=0.42)
COMM = MPI.COMM_WORLD


def planar(t=0.0):
    return build_mesh(COMM, dict(kind="planar", dim=2, width=2e-6, electrolyte_thickness=4e-6, mesh_size=0.5e-6,
                                 anode_thickness=2e-6, coating_thickness=t, coating_model="resolved"))


def sinusoid(t=0.1e-6, A=0.1e-6, lam=2e-6):
    return build_mesh(COMM, dict(kind="sinusoid", dim=2, width=lam / 2, electrolyte_thickness=2e-6,
                                 mesh_size=0.25e-6, interface_mesh_size=0.05e-6, anode_thickness=2e-6,
                                 coating_thickness=t, coating_model="resolved", amplitude=A, wavelength=lam))


def surface_values(f, tm, surface):
    """(x, value) of a parent P1 function at the vertices of ``surface``, gathered over ranks."""
    V = f.function_space
    dofs = fem.locate_dofs_topological(V, tm.dim - 1, tm.facets(surface))
    dofs = dofs[dofs < V.dofmap.index_map.size_local]
    x = V.tabulate_dof_coordinates()[dofs]
    pts = COMM.allgather(np.column_stack([x[:, 0], f.x.array[dofs]]))
    return np.concatenate(pts)


# ------------------------------------------------------------------------------------------ 1. hydrostatic
def test_hydrostatic_bare_li_shift():
    """Bare flat Li, all-round liquid pressure p (quarter block: left symmetry, right and top loaded):
    σ = −p I, Δμ = (V_M − V_+) p; V_+ = 0: V_M p / F = 0.1347 mV per MPa (mechanics.md), within 0.5 %.
    The projected parent-mesh P1 field has that value at every surface vertex and zero elsewhere."""
    tm = planar()
    st = me.solve_elasticity(COMM, tm, {"anode": LI}, P, lateral="pressure")
    s = me.interface_stress_means(st, "anode_electrolyte")
    assert s["p_e"] == pytest.approx(P, rel=1e-6) and abs(s["tau_e"]) < 1e-6 * P
    mv = me.mean_delta_mu(st, "anode_electrolyte", V_M=V_M, V_plus=0.0) / FARADAY * 1e3
    assert mv == pytest.approx(0.1347, rel=5e-3)
    assert mv == pytest.approx(V_M * P / FARADAY * 1e3, rel=1e-8)
    f = me.interface_potential(st, "anode_electrolyte", V_M=V_M, V_plus=0.0)
    xv = surface_values(f, tm, "anode_electrolyte")
    assert np.allclose(xv[:, 1], V_M * P, rtol=1e-8)
    n_nonzero = COMM.allreduce(int(np.count_nonzero(f.x.array[: f.function_space.dofmap.index_map.size_local])))
    assert n_nonzero == len(xv)


def test_hydrostatic_coated_bilayer_and_transfer():
    """Li + resolved coating with equal plane-strain bulk moduli G/(1 − 2ν) (Li 3.4 GPa, 0.42; coating
    8.5 GPa, 0.30): the bonded bilayer stays hydrostatic, p_e = p_s = p, τ = 0, so with V_+ = V_M/2
    Δμ = (V_M − V_+) p = 6.5 J/mol; moved onto the ionic (electrolyte + coating) submesh with
    to_submesh it keeps that value at the surface vertices."""
    tm = planar(t=0.2e-6)
    coat = me.Solid(G=8.5e9, nu=0.30, V_plus=0.5 * V_M)
    st = me.solve_elasticity(COMM, tm, {"anode": LI, "coating": coat}, P, lateral="pressure")
    s = me.interface_stress_means(st, "anode_coating")
    for k in ("p_e", "p_s"):
        assert s[k] == pytest.approx(P, rel=1e-6)
    dmu = me.mean_delta_mu(st, "anode_coating", V_M=V_M, V_plus=coat.V_plus)
    assert dmu == pytest.approx(0.5 * V_M * P, rel=5e-3)
    f = me.interface_potential(st, "anode_coating", V_M=V_M, V_plus=coat.V_plus)
    assert np.allclose(surface_values(f, tm, "anode_coating")[:, 1], 0.5 * V_M * P, rtol=1e-6)
    ion, _ = restrict(tm, ["electrolyte", "coating"])
    g = me.to_submesh(f, fem.functionspace(ion.mesh, ("Lagrange", 1)))
    assert np.allclose(surface_values(g, ion, "anode_coating")[:, 1], 0.5 * V_M * P, rtol=1e-6)
    ds = ufl.Measure("ds", domain=ion.mesh, subdomain_data=ion.facet_tags)(ion.tag("anode_coating"))
    mean = COMM.allreduce(fem.assemble_scalar(fem.form(g * ds)), op=MPI.SUM) / 2e-6
    assert mean == pytest.approx(0.5 * V_M * P, rel=1e-6)


# ------------------------------------------------------------------------------------------ 2. uniaxial
def by_hand(p, nu_e, p_s, tau_s, V_plus):
    """Laterally constrained Li under σ_yy = −p: σ_xx = ν/(1 − ν) σ_yy, so p_e = p / (2 (1 − ν)),
    τ_e = −p (1 − 2ν) / (2 (1 − ν)); Δμ = (V_M − V_+)/2 (p_e + p_s) + (V_M + V_+)/2 (τ_e − τ_s)."""
    p_e = p / (2 * (1 - nu_e))
    tau_e = -p * (1 - 2 * nu_e) / (2 * (1 - nu_e))
    return (V_M - V_plus) / 2 * (p_e + p_s) + (V_M + V_plus) / 2 * (tau_e - tau_s)


@pytest.mark.parametrize("coated", [False, True], ids=["bare", "coated"])
def test_uniaxial_stack_pressure(coated):
    """Stack pressure on top, symmetry sides, bottom fixed: σ_yy = −p and σ_xx = ν/(1 − ν) σ_yy in Li (and in
    the coating with its own ν); Δμ equals the hand value within 0.5 %. Bare: the liquid at p above
    (p_s = p, τ_s = 0), V_+ = 2 V_M; with V_+ = 0 both cases give V_M p / (2 (1 − ν_e)) = 0.1161 mV/MPa.
    Coated (G_s = 10 GPa, ν_s = 0.33, V_+ = 2 V_M): p_s, τ_s from the same uniaxial law."""
    V_plus = 2 * V_M
    if coated:
        tm = planar(t=0.2e-6)
        nu_s = 0.33
        solids = {"anode": LI, "coating": me.Solid(10e9, nu_s, V_plus)}
        surf = "anode_coating"
        p_s, tau_s = P / (2 * (1 - nu_s)), -P * (1 - 2 * nu_s) / (2 * (1 - nu_s))
    else:
        tm, solids, surf = planar(), {"anode": LI}, "anode_electrolyte"
        p_s, tau_s = P, 0.0
    st = me.solve_elasticity(COMM, tm, solids, P)
    # bulk Li stresses
    dx = ufl.Measure("dx", domain=st.mesh, subdomain_data=st.tm.cell_tags)(st.tm.tag("anode"))
    vol = st.integrate(fem.Constant(st.mesh, 1.0) * dx)
    sxx = st.integrate(st.sigma[0, 0] * dx) / vol
    syy = st.integrate(st.sigma[1, 1] * dx) / vol
    assert syy == pytest.approx(-P, rel=1e-6)
    assert sxx == pytest.approx(LI.nu / (1 - LI.nu) * syy, rel=1e-6)
    s = me.interface_stress_means(st, surf)
    assert s["snn_e"] == pytest.approx(-P, rel=1e-6)
    assert s["stt_e"] == pytest.approx(LI.nu / (1 - LI.nu) * -P, rel=1e-6)
    dmu = me.mean_delta_mu(st, surf, V_M=V_M, V_plus=V_plus)
    assert dmu == pytest.approx(by_hand(P, LI.nu, p_s, tau_s, V_plus), rel=5e-3)
    mv = me.mean_delta_mu(st, surf, V_M=V_M, V_plus=0.0) / FARADAY * 1e3
    assert mv == pytest.approx(V_M * 1e6 / (2 * (1 - LI.nu)) / FARADAY * 1e3, rel=5e-3)
    assert mv == pytest.approx(0.1161, rel=5e-3)


# ------------------------------------------------------------------------------------------ 3. sign
def test_sinusoid_peak_valley_and_surface_tension_sign():
    """Sinusoidal Li h = A cos kx (A = 0.1 µm, λ = 2 µm; peak at x = 0, valley at x = λ/2) under a stiff
    resolved coating (G_s = 30 GPa, ν_s = 0.25, V_+ = 2 V_M, t = 0.1 µm).

    (a) Stack pressure 1 MPa: Δμ varies along the surface (reported: peak − valley); finite.
    (b) Surface tension alone (no stack pressure, γ = 0.556 J/m², κ = −h'' = A k² cos kx): the peak has
        κ > 0, so Δμ_peak = −(V_M + V_+)/2 γ A k² < 0 < Δμ_valley (within 2 % at the vertices). With
        η = V − φ − Δμ/F and i0 → i0 exp((1 − α_a) Δμ / RT) (mechanics.md), the cathodic (plating) current
        −i = i0' [exp(−α_c f η) − exp(α_a f η)] at a common V − φ = −50 mV is smaller at the peak:
        "a curved peak (γκ > 0) must plate less"."""
    A, lam = 0.1e-6, 2e-6
    k = 2 * math.pi / lam
    tm = sinusoid(A=A, lam=lam)
    V_plus = 2 * V_M
    solids = {"anode": LI, "coating": me.Solid(30e9, 0.25, V_plus)}

    def peak_valley(f):
        xv = surface_values(f, tm, "anode_coating")
        return xv[np.argmin(xv[:, 0]), 1], xv[np.argmax(xv[:, 0]), 1], xv

    st = me.solve_elasticity(COMM, tm, solids, P)
    f = me.interface_potential(st, "anode_coating", V_M=V_M, V_plus=V_plus)
    pk, vl, xv = peak_valley(f)
    assert np.all(np.isfinite(xv[:, 1]))
    mean = me.mean_delta_mu(st, "anode_coating", V_M=V_M, V_plus=V_plus)
    if COMM.rank == 0:
        print(f"\nstack 1 MPa: dmu/F peak {pk / FARADAY * 1e6:.4f} uV, valley {vl / FARADAY * 1e6:.4f} uV, "
              f"mean {mean / FARADAY * 1e6:.4f} uV, peak - valley {(pk - vl) / FARADAY * 1e6:.4f} uV")
    assert abs(pk - vl) > 1e-3 * abs(mean)

    gamma = 0.556
    st0 = me.solve_elasticity(COMM, tm, solids, 0.0)
    kappa = lambda x: A * k**2 * np.cos(k * x[0])  # noqa: E731
    f = me.interface_potential(st0, "anode_coating", V_M=V_M, V_plus=V_plus, gamma=gamma, curvature=kappa)
    pk, vl, _ = peak_valley(f)
    expected = -(V_M + V_plus) / 2 * gamma * A * k**2
    assert pk == pytest.approx(expected, rel=0.02)
    assert vl == pytest.approx(-expected, rel=0.02)
    assert pk < 0 < vl

    RT = GAS_CONSTANT * 298.15
    aa = ac = 0.5

    def plating(dmu, vphi=-0.05):
        eta = vphi - dmu / FARADAY
        i0 = math.exp((1 - aa) * dmu / RT)
        return -i0 * (math.exp(aa * FARADAY * eta / RT) - math.exp(-ac * FARADAY * eta / RT))

    assert 0 < plating(pk) < plating(vl)


# ------------------------------------------------------------------------------------------ hook
def test_steadycell_hook_sign():
    """SteadyCell(mechanical_potential=mechanical_potential_hook(...)): a uniform Δμ = V_M p > 0 (bare Li,
    10 MPa all round, V_+ = 0) at a fixed electrode potential (−10 mV) raises the plating current
    (η = V − φ − Δμ/F more cathodic; i0 factor exp((1 − α_a) Δμ / RT) > 1)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from helpers import constant_electrolyte

    from licoat.solver.electrochemistry import SteadyCell
    from licoat.solver.properties import Kinetics, Operation

    tm = planar()
    st = me.solve_elasticity(COMM, tm, {"anode": LI}, 10 * P, lateral="pressure")
    dmu = {"anode_electrolyte": me.interface_potential(st, "anode_electrolyte", V_M=V_M, V_plus=0.0)}
    currents = []
    for hook in (None, me.mechanical_potential_hook(dmu)):
        cell = SteadyCell(COMM, tm, constant_electrolyte(), Kinetics(10.0, 0.5, 0.5, 0.5),
                          Operation("potentiostatic", None, -0.01, 298.15), mechanical_potential=hook)
        cell.solve()
        ds = cell.ds(cell.tm.tag("anode_electrolyte"))
        currents.append(cell._integrate(cell.plating_current["anode_electrolyte"] * ds))
    assert 0 < currents[0] < currents[1]
