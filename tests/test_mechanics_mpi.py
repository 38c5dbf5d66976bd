"""Parallel consistency of solver/mechanics.py (elasticity on the solid submesh, Monroe–Newman Δμ).

Run: ``mpiexec -n 2 python -m mpi4py -m pytest tests/test_mechanics_mpi.py``. Each rank builds the same
mesh and solves serially on ``MPI.COMM_SELF`` (reference) and distributed on ``MPI.COMM_WORLD``; the mean
Δμ (mechanics.md, "Stress-coupled kinetics"; Monroe & Newman, J. Electrochem. Soc. 152 (2005) A396)
must agree to 1e-8 relative, and so must the surface integral of the projected Δμ after it was moved onto
the ionic submesh (exercises the interior-facet restrictions, the sub -> parent reverse scatter and
to_submesh across ranks). Also passes (trivially) on one rank.
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

from licoat.meshes import build_mesh  # noqa: E402
from licoat.solver import mechanics as me  # noqa: E402
from licoat.solver.submesh import restrict  # noqa: E402

pytestmark = pytest.mark.mpi

V_M = 1.3e-5
A, LAM = 0.1e-6, 2e-6
K = 2 * math.pi / LAM


def run(comm, coated):
    t = 0.1e-6 if coated else 0.0
    tm = build_mesh(comm, dict(kind="sinusoid", dim=2, width=LAM / 2, electrolyte_thickness=2e-6, mesh_size=0.25e-6,
                               interface_mesh_size=0.05e-6, anode_thickness=2e-6, coating_thickness=t,
                               coating_model="resolved", amplitude=A, wavelength=LAM))
    solids = {"anode": me.Solid(3.4e9, 0.42)}
    if coated:
        solids["coating"] = me.Solid(30e9, 0.25, 2 * V_M)
    surf = "anode_coating" if coated else "anode_electrolyte"
    st = me.solve_elasticity(comm, tm, solids, 1e6)
    kw = dict(V_M=V_M, V_plus=2 * V_M, gamma=0.556, curvature=lambda x: A * K**2 * np.cos(K * x[0]))
    mean = me.mean_delta_mu(st, surf, **kw)
    f = me.interface_potential(st, surf, **kw)
    ion, _ = restrict(tm, ["electrolyte"] + (["coating"] if coated else []))
    g = me.to_submesh(f, fem.functionspace(ion.mesh, ("Lagrange", 1)))
    ds = ufl.Measure("ds", domain=ion.mesh, subdomain_data=ion.facet_tags)(ion.tag(surf))
    integral = comm.allreduce(fem.assemble_scalar(fem.form(g * ds)), op=MPI.SUM)
    return mean, integral, st.dofs


@pytest.mark.parametrize("coated", [False, True], ids=["bare", "coated"])
def test_mean_delta_mu_serial_equals_parallel(coated):
    m1, i1, n1 = run(MPI.COMM_SELF, coated)
    mn, i_n, nn = run(MPI.COMM_WORLD, coated)
    assert n1 == nn
    assert abs(mn - m1) <= 1e-8 * abs(m1)
    assert abs(i_n - i1) <= 1e-8 * abs(i1)
    vals = MPI.COMM_WORLD.allgather(mn)
    assert max(vals) == min(vals)
