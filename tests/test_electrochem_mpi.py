"""1 rank vs N ranks: the same case gives the same summary metrics to 1e-8 relative.

Run as: mpiexec -n 2 python -m mpi4py -m pytest tests/test_electrochem_mpi.py
(each rank also solves the case alone on COMM_SELF as the serial reference).
"""

import json

import numpy as np
import pytest
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat.case import validate
from licoat.meshes import build_mesh
from licoat.run import run_case
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Coating, Kinetics, Operation

KEYS = ["current_density_mean_A_m2", "current_density_min_A_m2", "current_density_max_A_m2", "cv",
        "max_over_mean", "uniform_fraction", "area_m2"]


def sinusoid_metrics(comm, model, counter, mode):
    p = dict(kind="sinusoid", dim=2, width=20e-6, electrolyte_thickness=30e-6, mesh_size=2e-6,
             amplitude=2e-6, wavelength=20e-6, anode_thickness=5e-6,
             coating_thickness=(200e-9 if model == "resolved" else 20e-9) if model else 0.0,
             coating_model=model or "resolved")
    tm = build_mesh(comm, p)
    op = Operation(mode, 50.0 if mode == "galvanostatic" else None, -0.08 if mode == "potentiostatic" else None,
                   298.15, counter)
    kin = Kinetics(100.0, 0.5, 0.5, 0.0 if model else 0.5)
    cell = SteadyCell(comm, tm, constant_electrolyte(), kin, op, counter_kinetics=kin,
                      coating=Coating("film", 200e-9 if model == "resolved" else 20e-9, 1e-5, model) if model else None,
                      length_scale=30e-6)
    m = cell.solve().metrics()
    out = {k: m["plating"][k] for k in KEYS}
    out["cell_voltage_V"] = m["cell_voltage_V"]
    out.update({f"eta_{k}": v for k, v in m["overpotentials_V"].items()})
    return out


@pytest.mark.parametrize("model, counter, mode", [
    (None, "reservoir", "galvanostatic"),
    ("thin", "lithium", "galvanostatic"),
    (None, "reservoir", "potentiostatic"),
    ("resolved", "reservoir", "galvanostatic"),  # interior coating|electrolyte facets on a submesh
])
def test_parallel_equals_serial(model, counter, mode):
    world = MPI.COMM_WORLD
    par = sinusoid_metrics(world, model, counter, mode)
    ser = sinusoid_metrics(MPI.COMM_SELF, model, counter, mode)
    assert par["cv"] > 1e-3  # a genuinely non-uniform distribution
    for k, v in ser.items():
        assert par[k] == pytest.approx(v, rel=1e-8, abs=1e-12), k


def test_run_case_in_parallel(shared_tmp):
    """End to end under mpiexec: one summary, written by rank 0, ranks = world size, VTX fields."""
    from pathlib import Path

    comm = MPI.COMM_WORLD
    case = validate({"geometry": {"kind": "sinusoid", "amplitude": "2 um", "wavelength": "20 um", "mesh_size": "2 um"},
                     "coating": {"material": "LiPON", "thickness": "50 nm", "model": "thin"},
                     "operation": {"current_density": "2 mA/cm^2"}})
    out = Path(shared_tmp) / "par"
    s = run_case(comm, case, out, verbose=False)
    comm.barrier()
    data = json.loads((out / "summary.json").read_text())
    assert data["ranks"] == comm.size
    assert np.isclose(data["plating"]["cv"], s["plating"]["cv"])
    assert (out / "fields" / "solution.bp").is_dir()


def test_transient_parallel_equals_serial():
    """Adaptive BDF2 run on a sinusoidal anode: same steps and same final state on 1 and N ranks."""
    from licoat.solver.transient import TransientOptions, integrate

    def final(comm):
        p = dict(kind="sinusoid", dim=2, width=20e-6, electrolyte_thickness=30e-6, mesh_size=2e-6,
                 amplitude=2e-6, wavelength=20e-6, anode_thickness=5e-6, coating_thickness=0.0, coating_model="resolved")
        cell = SteadyCell(comm, build_mesh(comm, p), constant_electrolyte(), Kinetics(100.0, 0.5, 0.5, 0.5),
                          Operation("galvanostatic", 100.0, None, 298.15), length_scale=30e-6, transient=True)
        res = integrate(cell, TransientOptions(duration=0.5, dt_initial=0.02, dt_max=0.1))
        return res.steps, res.series[-1]

    n_par, par = final(MPI.COMM_WORLD)
    n_ser, ser = final(MPI.COMM_SELF)
    assert n_par == n_ser
    for k, v in ser.items():
        assert par[k] == pytest.approx(v, rel=1e-8, abs=1e-12), k


def test_conducting_host_parallel_equals_serial():
    """Resolved electronic conduction in a comb host (metal|electrolyte facets inside the mesh)."""
    from licoat.meshes.comb import build as build_comb

    def metrics(comm):
        tm = build_comb(comm, dict(pitch=5.5e-6, gap=5e-6, fin_height=40e-6, electrolyte_thickness=10e-6,
                                   mesh_size=2.5e-6, with_metal=True, collector_thickness=2.5e-6))
        cell = SteadyCell(comm, tm, constant_electrolyte(tp=1.0), Kinetics(1.0, 0.5, 0.5, form="linear"),
                          Operation("galvanostatic", 10.0, None, 298.15), length_scale=40e-6,
                          metal_conductivity={"host": 20.0, "collector": 1e5})
        m = cell.solve().metrics()
        return {"V": m["cell_voltage_V"], **{k: m["plating"][k] for k in KEYS}}

    par, ser = metrics(MPI.COMM_WORLD), metrics(MPI.COMM_SELF)
    for k, v in ser.items():
        assert par[k] == pytest.approx(v, rel=1e-8, abs=1e-12), k
