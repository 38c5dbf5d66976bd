"""Transient transport: Sand's time and the time-convergence order of variable-step BDF2."""

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from helpers import constant_electrolyte, planar
from licoat.constants import FARADAY
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Coating, Kinetics, Operation
from licoat.solver.transient import TransientOptions, integrate


def test_sand_time():
    """Galvanostatic plating on bare planar Li, semi-infinite electrolyte, constant properties:
    t_s = pi D (c0 F)^2 / (4 (i (1 - t+))^2) (Sand, Phil. Mag. 1 (1901) 45; Bard & Faulkner eq. 8.2.14;
    physics.md §6) = 235.9 s for D = 1.7694e-10 m^2/s, t+ = 0.2594, c0 = 1 M, i = 10 mA/cm^2.
    The electrolyte (1.2 mm) is 6 diffusion lengths sqrt(D t_s) thick. Within 2 %."""
    D, tp, i = 1.7694e-10, 0.2594, 100.0
    t_sand = np.pi * D * (1000.0 * FARADAY) ** 2 / (4 * (i * (1 - tp)) ** 2)
    assert t_sand == pytest.approx(235.9, rel=1e-3)
    comm = MPI.COMM_WORLD
    tm = planar(comm, width=2e-6, L=1.2e-3, h=40e-6, h_fine=0.5e-6)
    cell = SteadyCell(comm, tm, constant_electrolyte(1.0, D, tp), Kinetics(10.0, 0.5, 0.5, 0.5),
                      Operation("galvanostatic", i, None, 298.15), length_scale=1e-4, transient=True)
    res = integrate(cell, TransientOptions(duration=400.0, dt_initial=0.01, dt_max=5.0, max_surface_drop=0.02))
    assert res.depletion_time_s == pytest.approx(t_sand, rel=0.02)
    assert res.series[-1]["time_s"] < 400.0  # the run stopped at depletion


TAU, W, L, T_COAT = 4.0, 10e-6, 20e-6, 2e-6


def exact(x, t):
    """Linear in space (so P1 is exact in space), nonlinear in time: only the time error remains."""
    s = ufl.sin(t / TAU)
    c = 1 + 0.3 * s * (1 - x[1] / L)
    phi = (x[1] / L - 1) * (1 + 0.5 * s)
    dcdt = 0.3 * ufl.cos(t / TAU) / TAU * (1 - x[1] / L)
    return c, phi, None, dcdt


def final_error(dt):
    comm = MPI.COMM_WORLD
    tm = planar(comm, width=W, L=L, h=5e-6, h_fine=5e-6, t=T_COAT, layers=2)
    cell = SteadyCell(comm, tm, constant_electrolyte(1.0, 3e-12, 0.3), Kinetics(10.0, 0.5, 0.5, 0.0),
                      Operation("potentiostatic", None, -0.05, 298.15), coating=Coating("film", T_COAT, 0.05),
                      length_scale=L, manufactured=exact, transient=True)
    integrate(cell, TransientOptions(duration=4.0, dt_initial=dt, dt_max=dt, growth=1.0, max_surface_drop=10.0,
                                     stop_at_depletion=False))
    c_ex = exact(ufl.SpatialCoordinate(cell.tm.mesh), cell.time)[0]
    dx_e = cell.dx(cell.tm.tag("electrolyte"))
    e2 = comm.allreduce(fem.assemble_scalar(fem.form((cell.c_hat - c_ex) ** 2 * dx_e)), op=MPI.SUM)
    return np.sqrt(e2)


def test_transient_mms_second_order_in_time():
    """Manufactured transient solution of the coupled system: BDF2 converges at order 2 in dt."""
    errors = np.array([final_error(dt) for dt in (1.0, 0.5, 0.25)])
    rates = np.log2(errors[:-1] / errors[1:])
    assert rates[-1] > 1.8, (errors, rates)
