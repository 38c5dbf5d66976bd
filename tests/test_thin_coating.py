"""Thin-film coating model against a resolved coating shell (2D, sinusoidal Li surface).

A 20 nm film is far thinner than a tenth of the mesh size at the surface (0.5 um), the regime in
which "auto" picks the thin model. The thin model (film = interface with ASR t/kappa_c in series
with the Li|film kinetics) must reproduce the resolved shell (film meshed across its thickness)
within 1 % in cell voltage and in the plating-current distribution (min, mean, max; cv to 2 %).
"""

import pytest
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat.case import validate
from licoat.meshes import build_mesh
from licoat.setup import coating_model
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Coating, Kinetics, Operation


def solve(model):
    comm = MPI.COMM_WORLD
    p = dict(kind="sinusoid", dim=2, width=20e-6, electrolyte_thickness=30e-6, mesh_size=2e-6,
             interface_mesh_size=0.5e-6, amplitude=4e-6, wavelength=20e-6, anode_thickness=5e-6,
             coating_thickness=20e-9, coating_model=model)
    tm = build_mesh(comm, p)
    cell = SteadyCell(comm, tm, constant_electrolyte(), Kinetics(1000.0, 0.5, 0.5, 0.0),
                      Operation("galvanostatic", 50.0, None, 298.15), coating=Coating("film", 20e-9, 1e-3, model),
                      length_scale=30e-6)
    return cell.solve().metrics()


def test_thin_matches_resolved():
    res, thin = solve("resolved"), solve("thin")
    assert res["plating"]["cv"] > 0.05  # a genuinely non-uniform distribution
    assert thin["cell_voltage_V"] == pytest.approx(res["cell_voltage_V"], rel=0.01)
    for k in ("current_density_min_A_m2", "current_density_mean_A_m2", "current_density_max_A_m2"):
        assert thin["plating"][k] == pytest.approx(res["plating"][k], rel=0.01), k
    assert thin["plating"]["cv"] == pytest.approx(res["plating"]["cv"], rel=0.02)
    assert thin["overpotentials_V"]["coating_ohmic"] == pytest.approx(res["overpotentials_V"]["coating_ohmic"], rel=0.01)


def test_auto_picks_thin_below_a_tenth_of_the_surface_mesh_size():
    base = {"coating": {"material": "LiPON", "thickness": "20 nm", "model": "auto"},
            "geometry": {"mesh_size": "2 um", "interface_mesh_size": "0.5 um"}}
    assert coating_model(validate(base)) == "thin"
    base["coating"]["thickness"] = "100 nm"
    assert coating_model(validate(base)) == "resolved"


def test_iterative_field_split_matches_direct_3d():
    """3D sinusoid, thin coating: GMRES + field split (GAMG) gives the direct (MUMPS) answer."""
    from licoat.solver.electrochemistry import SolverOptions

    comm = MPI.COMM_WORLD
    out = {}
    for ls in ("direct", "iterative"):
        p = dict(kind="sinusoid", dim=3, width=20e-6, depth=20e-6, electrolyte_thickness=30e-6, mesh_size=4e-6,
                 amplitude=3e-6, wavelength=20e-6, anode_thickness=5e-6, coating_thickness=20e-9, coating_model="thin")
        tm = build_mesh(comm, p)
        cell = SteadyCell(comm, tm, constant_electrolyte(), Kinetics(100.0, 0.5, 0.5, 0.0),
                          Operation("galvanostatic", 50.0, None, 298.15), coating=Coating("film", 20e-9, 1e-5, "thin"),
                          length_scale=30e-6, options=SolverOptions(linear_solver=ls))
        out[ls] = cell.solve().metrics()
    assert out["iterative"]["linear_iterations"] > out["iterative"]["newton_iterations"]  # really Krylov
    assert out["iterative"]["cell_voltage_V"] == pytest.approx(out["direct"]["cell_voltage_V"], rel=1e-6)
    assert out["iterative"]["plating"]["cv"] == pytest.approx(out["direct"]["plating"]["cv"], rel=1e-4)


def test_electronic_leakage_through_a_thin_film():
    """A film that conducts electrons lets Li plate on top of it: with linear kinetics on both paths
    the split follows the two parallel resistances exactly (planar, uniform):
    ionic path  ASR_i = t/kappa_c + R_ct,  electronic path  ASR_e = t/sigma_e + R_ct,
    R_ct = RT/((alpha_a + alpha_c) F i0); fraction on top = (1/ASR_e) / (1/ASR_i + 1/ASR_e)."""
    from helpers import planar

    comm = MPI.COMM_WORLD
    t, kc, se, i0 = 20e-9, 1e-5, 4e-6, 10.0
    tm = planar(comm, L=20e-6, t=t, model="thin")
    kin = Kinetics(i0, 0.5, 0.5, 0.0, form="linear")
    cell = SteadyCell(comm, tm, constant_electrolyte(kappa=1e4, diffusivity=1e-3), kin,
                      Operation("galvanostatic", 10.0, None, 298.15),
                      coating=Coating("film", t, kc, "thin", electronic_conductivity=se), length_scale=20e-6)
    m = cell.solve().metrics()
    r_ct = 8.314462618 * 298.15 / 96485.33212 / i0
    g_i, g_e = 1 / (t / kc + r_ct), 1 / (t / se + r_ct)
    assert m["plating"]["above_coating_fraction"] == pytest.approx(g_e / (g_i + g_e), rel=1e-3)


def test_film_rows_carry_the_charge_balance_scale():
    """Every residual block O(1) (physics.md §10): the film equation's Jacobian diagonal on the surface is
    the charge balance's surface term d(i_film)/d(psi) in the same scale s_phi, i.e. within h/(kappa ASR)
    of the potential's diagonal there (here ~2e-3). Scaled ell (a length in m) smaller, the film rows were
    ~5e-8 of the others: invisible to the Krylov and Newton norms, so that on 2 ranks the first Newton step
    of the 3D ZnO-coated foam (cases/foam.toml) diverged and the solve needed 71 iterations and 53
    Jacobians in a load continuation instead of 6 and 1."""
    import numpy as np
    import ufl
    from dolfinx import fem

    comm = MPI.COMM_WORLD
    p = dict(kind="sinusoid", dim=2, width=20e-6, electrolyte_thickness=30e-6, mesh_size=2e-6,
             amplitude=3e-6, wavelength=20e-6, anode_thickness=5e-6, coating_thickness=20e-9, coating_model="thin")
    tm = build_mesh(comm, p)
    cell = SteadyCell(comm, tm, constant_electrolyte(), Kinetics(100.0, 0.5, 0.5, 0.0),
                      Operation("galvanostatic", 50.0, None, 298.15), coating=Coating("film", 20e-9, 1e-4, "thin"),
                      length_scale=30e-6)
    cell.initial_guess()
    forms = dict(zip(cell.registry.names, cell.forms))

    def surface_diagonal(name):
        u = cell.registry[name].function
        A = fem.assemble_matrix(fem.form(ufl.derivative(forms[name], u)))
        A.scatter_reverse()
        d = A.to_scipy().diagonal()
        return float(np.median(np.abs(d[cell.S_dofs[cell.S_dofs < d.size]])))

    ratio = surface_diagonal("film_potential") / surface_diagonal("potential")
    assert 1e-4 < ratio < 1e4, ratio
