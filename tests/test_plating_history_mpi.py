"""Plating history on 1 and N ranks (issue 9): the deposit statistics agree to 1e-6 relative.

Run as: mpiexec -n 2 python -m mpi4py -m pytest tests/test_plating_history_mpi.py (each rank also runs the
case alone on COMM_SELF as the serial reference). A Cu-foil sinusoid plated from bare: nucleation, coverage
and a non-uniform deposit, so every statistic is non-trivial.
"""

import pytest
from mpi4py import MPI

from licoat.case import validate
from licoat.meshes import build_mesh
from licoat.setup import geometry_params, surface_models
from licoat.solver.deposit_metrics import DepositMetrics
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Kinetics, Operation
from licoat.solver.transient import TransientOptions, integrate

from helpers import constant_electrolyte

CASE = validate({"geometry": {"kind": "sinusoid", "width": "10 um", "amplitude": "2 um", "wavelength": "10 um",
                              "electrolyte_thickness": "20 um", "anode_thickness": "5 um", "mesh_size": "2 um"},
                 "anode": {"material": "Cu"},
                 "operation": {"current_density": "2 mA/cm^2", "duration": "60 s"}})


def deposit(comm):
    tm = build_mesh(comm, geometry_params(CASE))
    models = surface_models(CASE, tm)
    kin = Kinetics(10.0, 0.5, 0.5, 0.5, nucleation_overpotential=0.1295)
    cell = SteadyCell(comm, tm, constant_electrolyte(), kin, Operation("galvanostatic", 20.0, None, 298.15),
                      length_scale=20e-6, transient=True, surface_models=models,
                      surface_kinetics={s: kin for s in models})
    dm = DepositMetrics(cell, "sinusoid")
    res = integrate(cell, TransientOptions(duration=60.0, dt_initial=0.01, dt_max=5.0),
                    on_step=lambda t, r: r.update(dm.step()))
    return res.steps, dm.summary(res.series)


def test_deposit_statistics_parallel_equals_serial():
    n_par, par = deposit(MPI.COMM_WORLD)
    n_ser, ser = deposit(MPI.COMM_SELF)
    assert n_par == n_ser
    assert 0.0 < ser["nucleated_fraction"] <= 1.0 and ser["thickness_rms_m"] > 0  # nucleated, rough
    for k in ("thickness_mean_m", "thickness_rms_m", "thickness_max_over_mean", "plated_volume_m3",
              "nucleated_fraction", "roughness_growth_rate_1_s"):
        assert par[k] == pytest.approx(ser[k], rel=1e-6, abs=0), k
