"""Manufactured solution for the coupled electrolyte–coating–kinetics system (P1).

Exact fields (scaled: ĉ = c/c0, φ̂ = Fφ/RT) on a planar stack with a resolved coating of
finite thickness, smooth across the coating|electrolyte interface and with zero normal
derivative on the lateral sides:

    ĉ = 1 + 0.2 cos(πx/W) (1 - y/L)²,      φ̂ = (y/L - 1)(1 + 0.3 cos(πx/W))

The solver subtracts the residual of the exact fields (volume, interface and Butler–Volmer
surface terms of the same weak form), so the exact fields solve the continuous problem with
the corresponding sources. P1 must converge at O(h²) in L2 and O(h) in H1 (Ciarlet, The Finite
Element Method for Elliptic Problems, Thm 3.2.2 / Aubin–Nitsche).
"""

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from helpers import constant_electrolyte, planar
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Coating, Electrolyte, Fit, Kinetics, Operation

W, L, T_COAT = 20e-6, 25e-6, 5e-6


def exact(x, t=None):
    cx = ufl.cos(np.pi * x[0] / W)
    c = 1 + 0.2 * cx * (1 - x[1] / L) ** 2
    phi = (x[1] / L - 1) * (1 + 0.3 * cx)
    return c, phi, None


def errors(h, electrolyte):
    comm = MPI.COMM_WORLD
    tm = planar(comm, width=W, L=L, h=h, h_fine=h, t=T_COAT, layers=int(round(T_COAT / h)))
    cell = SteadyCell(comm, tm, electrolyte, Kinetics(10.0, 0.6, 0.4, 0.0),
                      Operation("potentiostatic", None, -0.05, 298.15),
                      coating=Coating("film", T_COAT, 0.05), length_scale=L, manufactured=exact)
    cell.solve()
    x = ufl.SpatialCoordinate(cell.tm.mesh)
    c_ex, phi_ex, _ = exact(x)
    dx = ufl.Measure("dx", domain=cell.tm.mesh, subdomain_data=cell.tm.cell_tags, metadata={"quadrature_degree": 6})
    dx_e = dx(cell.tm.tag("electrolyte"))
    dx_all = dx(cell.tm.tag("electrolyte")) + dx(cell.tm.tag("coating"))

    def norm(form):
        return np.sqrt(comm.allreduce(fem.assemble_scalar(fem.form(form)), op=MPI.SUM))

    ec, ep = cell.c_hat - c_ex, cell.phi_hat - phi_ex
    return np.array([
        norm(ec**2 * dx_e) / L, norm(ufl.inner(ufl.grad(ec), ufl.grad(ec)) * dx_e),
        norm(ep**2 * dx_all) / L, norm(ufl.inner(ufl.grad(ep), ufl.grad(ep)) * dx_all),
    ])


@pytest.mark.parametrize("variable", [False, True], ids=["constant", "nyman-fits"])
def test_mms_convergence_rates(variable):
    el = constant_electrolyte()
    if variable:  # concentration-dependent kappa(c), D(c) of Nyman et al. (2008)
        el = Electrolyte("nyman", 1000.0, Fit(expression="0.1297*c**3 - 2.51*c**1.5 + 3.329*c"),
                         Fit(expression="8.794e-11*c**2 - 3.972e-10*c + 4.862e-10"), 0.2594, 1.0)
    hs = [2.5e-6, 1.25e-6, 0.625e-6]
    e = np.array([errors(h, el) for h in hs])
    rates = np.log2(e[:-1] / e[1:])
    l2_c, h1_c, l2_phi, h1_phi = rates[-1]
    assert l2_c > 1.85 and l2_phi > 1.85, rates
    assert 0.9 < h1_c < 1.2 and 0.9 < h1_phi < 1.2, rates
