"""A resolved two-layer coating on a sinusoidal anode gives the same answer on 1 and N ranks (1e-8)."""

import pytest
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat.meshes import build_mesh
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Coating, CoatingStack, Kinetics, Operation


def metrics(comm):
    p = dict(kind="sinusoid", dim=2, width=20e-6, electrolyte_thickness=30e-6, mesh_size=2e-6,
             interface_mesh_size=0.5e-6, amplitude=3e-6, wavelength=20e-6, anode_thickness=5e-6,
             coating_thickness=0.4e-6, coating_model="resolved", coating_stack=[0.2e-6, 0.2e-6])
    stack = CoatingStack((Coating("inner", 0.2e-6, 1e-3), Coating("outer", 0.2e-6, 5e-3)))
    cell = SteadyCell(comm, build_mesh(comm, p), constant_electrolyte(), Kinetics(100.0, 0.5, 0.5, 0.0),
                      Operation("galvanostatic", 50.0, None, 298.15), coating=stack, length_scale=30e-6)
    return cell.solve().metrics()


def test_resolved_bilayer_parallel_equals_serial():
    par, ser = metrics(MPI.COMM_WORLD), metrics(MPI.COMM_SELF)
    assert ser["plating"]["cv"] > 0.01
    assert par["cell_voltage_V"] == pytest.approx(ser["cell_voltage_V"], rel=1e-8)
    for k in ("cv", "current_density_min_A_m2", "current_density_max_A_m2", "uniform_fraction"):
        assert par["plating"][k] == pytest.approx(ser["plating"][k], rel=1e-8), k
    for a, b in zip(par["coating_layer_drops_V"], ser["coating_layer_drops_V"]):
        assert a == pytest.approx(b, rel=1e-8)
