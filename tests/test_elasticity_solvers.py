"""Elasticity linear solvers (solver/mechanics.py) vs MUMPS: CG with the P2 -> P1 p-multigrid (P1 level
factorised, or GAMG with the rigid-body near-nullspace on it for large meshes) for P2, CG + GAMG for P1.

Issue 12 (item 4, verification): iterative and direct solves agree to 1e-8 relative on a small 3D
case, at the default iterative tolerance (1e-8 on the unpreconditioned residual). Physics check of
the iterative solve: the laterally constrained (uniaxial-strain) block under a stack pressure p on
top has the exact state sigma_zz = -p, sigma_xx = sigma_yy = nu/(1 - nu) sigma_zz in every layer
(mechanics.md, "Elasticity"; Timoshenko & Goodier, Theory of Elasticity, uniaxial strain), which
P1/P2 elements reproduce to round-off, so the solver tolerance is what is tested.
"""

from __future__ import annotations

import numpy as np
import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402

from licoat.meshes import build_mesh  # noqa: E402
from licoat.solver import mechanics as me  # noqa: E402

COMM = MPI.COMM_WORLD
P = 1e6
LI = me.Solid(G=3.4e9, nu=0.42)
COAT = me.Solid(G=60e9, nu=0.25)  # an Al2O3-like film: 18x stiffer than Li


def coated_planar_3d():
    return build_mesh(COMM, dict(kind="planar", dim=3, width=2e-6, depth=2e-6, electrolyte_thickness=2e-6,
                                 mesh_size=0.5e-6, anode_thickness=2e-6, coating_thickness=0.2e-6,
                                 coating_model="resolved"))


@pytest.mark.parametrize("degree, coarse_direct_max, preconditioner",
                         [(2, me.COARSE_DIRECT_MAX_DOFS, "p-multigrid P2 -> P1 (Galerkin), MUMPS on P1"),
                          (2, 0, "p-multigrid P2 -> P1 (Galerkin), GAMG on P1"), (1, 0, "GAMG")])
def test_iterative_equals_mumps_in_3d(degree, coarse_direct_max, preconditioner, monkeypatch):
    """Both coarse levels of the p-multigrid (factorised P1, and GAMG on P1 as for large meshes)."""
    monkeypatch.setattr(me, "COARSE_DIRECT_MAX_DOFS", coarse_direct_max)
    tm = coated_planar_3d()
    solids = {"anode": LI, "coating": COAT}
    it = me.solve_elasticity(COMM, tm, solids, P, lateral="pressure", linear_solver="iterative", degree=degree)
    di = me.solve_elasticity(COMM, tm, solids, P, lateral="pressure", linear_solver="direct", degree=degree)
    assert it.solver_info["method"] == "iterative" and di.solver_info["method"] == "direct"
    assert it.solver_info["preconditioner"].startswith(preconditioner)
    assert 0 < it.solver_info["krylov_iterations"] < 200
    a, b = it.u.x.petsc_vec, di.u.x.petsc_vec
    diff = a.copy()
    diff.axpy(-1.0, b)
    assert b.norm() > 0
    assert diff.norm() / b.norm() < 1e-8


def test_iterative_equals_mumps_on_a_curved_2d_interface():
    """Plane strain under a sinusoidal coated interface (a non-uniform stress): the p-multigrid solve
    (2D, block size 2) and MUMPS give the same displacement and Monroe–Newman interface means."""
    tm = build_mesh(COMM, dict(kind="sinusoid", dim=2, width=4e-6, amplitude=0.3e-6, wavelength=4e-6,
                               electrolyte_thickness=2e-6, mesh_size=0.4e-6, anode_thickness=2e-6,
                               coating_thickness=0.2e-6, coating_model="resolved"))
    solids = {"anode": LI, "coating": COAT}
    it = me.solve_elasticity(COMM, tm, solids, P, linear_solver="iterative")
    di = me.solve_elasticity(COMM, tm, solids, P, linear_solver="direct")
    assert it.solver_info["preconditioner"].startswith("p-multigrid")
    diff = it.u.x.petsc_vec.copy()
    diff.axpy(-1.0, di.u.x.petsc_vec)
    assert diff.norm() / di.u.x.petsc_vec.norm() < 1e-8
    mi, md = (me.interface_stress_means(st, "anode_coating", V_M=1.3e-5, V_plus=1e-6) for st in (it, di))
    for k in ("p_e", "p_s", "tau_e", "tau_s", "delta_mu"):
        assert mi[k] == pytest.approx(md[k], rel=1e-8)


def test_auto_is_iterative_in_3d_and_direct_for_small_2d():
    assert me.elasticity_method("auto", 3, 1000) == "iterative"
    assert me.elasticity_method("auto", 2, 1000) == "direct"
    assert me.elasticity_method("auto", 2, 10 * me.DIRECT_MAX_DOFS_2D) == "iterative"
    with pytest.raises(ValueError, match="linear_solver = 'lu'"):
        me.elasticity_method("lu", 3, 10)


def test_uniaxial_strain_state_with_gamg():
    tm = coated_planar_3d()
    st = me.solve_elasticity(COMM, tm, {"anode": LI, "coating": COAT}, P, linear_solver="auto")
    assert st.solver_info["method"] == "iterative"
    for region, solid in (("anode", LI), ("coating", COAT)):
        dx = ufl.Measure("dx", domain=st.mesh, subdomain_data=st.tm.cell_tags)(st.tm.tag(region))
        vol = st.integrate(fem.Constant(st.mesh, 1.0) * dx)
        s = [st.integrate(st.sigma[i, i] * dx) / vol for i in range(3)]
        assert s[2] == pytest.approx(-P, rel=1e-7)
        for i in (0, 1):
            assert s[i] == pytest.approx(solid.nu / (1 - solid.nu) * -P, rel=1e-7)
    assert np.isfinite(st.solver_info["linear_solve_s"])


def test_auto_falls_back_to_mumps(monkeypatch):
    """An automatic iterative solve that does not converge (here: 2 CG iterations allowed) is repeated
    with MUMPS on the same (BAIJ) matrix."""
    tm = coated_planar_3d()
    solids = {"anode": LI, "coating": COAT}
    di = me.solve_elasticity(COMM, tm, solids, P, linear_solver="direct")
    monkeypatch.setitem(me.PMG_OPTIONS, "ksp_max_it", 2)
    st = me.solve_elasticity(COMM, tm, solids, P, linear_solver="auto")
    assert st.solver_info["method"] == "direct" and "fallback" in st.solver_info
    diff = st.u.x.petsc_vec.copy()
    diff.axpy(-1.0, di.u.x.petsc_vec)
    assert diff.norm() / di.u.x.petsc_vec.norm() < 1e-12
