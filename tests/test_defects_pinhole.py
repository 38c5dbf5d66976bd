"""An isolated pinhole in a blocking film on flat Li: access resistance and current distribution.

Geometry (meshes.defects.isolated_pinhole): a quarter disk electrode of radius a (the pinhole
bottom) at the axis of a quarter cylinder of radius b = 20 a and height L = b, the rest of the base
blocked (a perfectly blocking film of vanishing thickness), P2 elements graded towards the disk edge.

* Primary distribution (fast kinetics, J = 1e4): the access resistance of a disk electrode in an
  insulating plane is R = 1/(4 kappa a) (Newman, J. Electrochem. Soc. 113 (1966) 501); in a tube of
  radius b it is the constriction resistance psi(eps)/(4 kappa a), eps = a/b, psi = 1 - 1.40925 eps
  + 0.29591 eps^3 + 0.05254 eps^5 (Roess's series, as tabulated by M. M. Yovanovich, J. Heat
  Transfer 1976 and later) in series with the tube L/(kappa pi b^2). Checked within 2 %.
* The current density on the disk is i(r) = (i_avg/2) (1 - r^2/a^2)^(-1/2) (Newman 1966; physics.md
  §13): annulus means within 3 % away from the edge.
* Kinetics (Newman, J. Electrochem. Soc. 113 (1966) 1235): with linear kinetics the ohmic part
  R_ohm = V/I - R_ct/A (exact: V - phi = R_ct i on the disk) falls monotonically with
  J = (alpha_a + alpha_c) F i0 a / (RT kappa) from the uniform-current value 8/(3 pi^2 kappa a)
  (the area-mean constriction of a uniform-flux disk; the tube shifts it by the same
  -1.40925/(4 kappa b) at first order) at J -> 0 to 1/(4 kappa a) at J -> infinity, while the
  current piles up at the edge.
"""

import math

import pytest
import ufl
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat.meshes.defects import isolated_pinhole
from licoat.solver.electrochemistry import SolverOptions, SteadyCell
from licoat.solver.metrics import integrate
from licoat.solver.properties import Kinetics, Operation

A_HOLE, B_CELL = 1e-6, 20e-6
KAPPA = 1.0
VT = 8.314462618 * 298.15 / 96485.33212


@pytest.fixture(scope="module")
def mesh():
    return isolated_pinhole(MPI.COMM_WORLD, A_HOLE, B_CELL, B_CELL)


def solve(tm, J):
    """Quarter cell at secondary parameter J; returns (cell, R_ohm kappa a for the quarter disk)."""
    i0 = J * VT * KAPPA / A_HOLE  # alpha_a + alpha_c = 1
    cell = SteadyCell(MPI.COMM_WORLD, tm, constant_electrolyte(kappa=KAPPA, diffusivity=1e-3),
                      Kinetics(i0, 0.5, 0.5, 0.0, form="linear"), Operation("galvanostatic", 1.0, None, 298.15),
                      length_scale=B_CELL, options=SolverOptions(linear_solver="direct"), degree=2)
    cell.solve()
    current = 1.0 * cell.footprint
    passed = integrate(cell.comm, cell.plating_current["anode_electrolyte"] * cell.sm["anode_electrolyte"])
    assert passed == pytest.approx(current, rel=1e-6)  # all of it through the hole
    r_total = abs(cell.cell_voltage) / current
    r_ct = VT / i0 / cell.area_S
    r_tube = B_CELL / (KAPPA * math.pi * B_CELL**2 / 4)
    return cell, (r_total - r_ct - r_tube) * KAPPA * A_HOLE


def test_primary_access_resistance_and_edge_singularity(mesh):
    eps = A_HOLE / B_CELL
    psi = 1 - 1.40925 * eps + 0.29591 * eps**3 + 0.05254 * eps**5
    cell, r = solve(mesh, 1e4)
    assert cell.area_S == pytest.approx(math.pi * A_HOLE**2 / 4, rel=1e-3)
    # quarter disk: four times the full disk's psi / (4 kappa a)
    assert r == pytest.approx(psi, rel=0.02)
    assert r != pytest.approx(psi * 8 / (3 * math.pi**2) * 4, rel=0.02)  # not the uniform-current value
    # annulus means of i(r) = (i_avg/2)(1 - rho^2)^(-1/2):  mean over [r1, r2] = (sqrt(1-r1^2) - sqrt(1-r2^2)) / (r2^2 - r1^2)
    x = ufl.SpatialCoordinate(cell.tm.mesh)
    rho2 = (x[0] ** 2 + x[1] ** 2) / A_HOLE**2
    j, ds = cell.plating_current["anode_electrolyte"], cell.sm["anode_electrolyte"]
    comm = cell.comm
    i_avg = integrate(comm, j * ds) / cell.area_S
    for r1, r2 in ((0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.85)):
        inside = ufl.conditional(ufl.And(rho2 >= r1**2, rho2 < r2**2), 1.0, 0.0)
        mean = integrate(comm, inside * j * ds) / integrate(comm, inside * ds)
        expected = (math.sqrt(1 - r1**2) - math.sqrt(1 - r2**2)) / (r2**2 - r1**2)
        assert mean / i_avg == pytest.approx(expected, rel=0.03), (r1, r2)


def test_kinetics_trend_with_J(mesh):
    eps = A_HOLE / B_CELL
    uniform = 32 / (3 * math.pi**2) - 1.40925 * eps  # quarter disk, uniform current (J -> 0)
    primary = 1 - 1.40925 * eps  # quarter disk, equipotential (J -> infinity)
    rs, edge = [], []
    for J in (0.01, 1.0, 100.0):
        cell, r = solve(mesh, J)
        rs.append(r)
        x = ufl.SpatialCoordinate(cell.tm.mesh)
        rho2 = (x[0] ** 2 + x[1] ** 2) / A_HOLE**2
        j, ds = cell.plating_current["anode_electrolyte"], cell.sm["anode_electrolyte"]
        centre = ufl.conditional(rho2 < 0.25, 1.0, 0.0)
        rim = ufl.conditional(rho2 > 0.81, 1.0, 0.0)
        m = lambda w: integrate(cell.comm, w * j * ds) / integrate(cell.comm, w * ds)  # noqa: E731
        edge.append(m(rim) / m(centre))
    assert rs[0] == pytest.approx(uniform, rel=0.01)
    assert uniform > rs[0] > rs[1] > rs[2] > primary * 0.98
    assert edge[0] == pytest.approx(1.0, abs=0.01)  # J -> 0: uniform
    assert 1.0 < edge[0] < edge[1] < edge[2]
