"""Defects on 1 vs N ranks: a random crack layout is generated from the seed alone, and the defect metrics
of a solved cell (thin film with random cracks; resolved film with lattice cracks) agree to 1e-8.

Run as: mpiexec -n 2 python -m mpi4py -m pytest tests/test_defects_mpi.py
(each rank also solves the cell alone on COMM_SELF as the serial reference).
"""

import gc

import pytest
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat.meshes.defects import asr_field, build_planar, defect_asr, layout
from licoat.solver.defect_metrics import defect_metrics
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Coating, Kinetics, Operation

W, L, T, KC = 10e-6, 10e-6, 25e-9, 1e-5


def metrics(comm, model, placement):
    lay = layout(dict(kind="cracks", width=0.5e-6, spacing=2.5e-6, placement=placement, seed=3), W, None, 2)
    lay["cells"] = 3
    p = dict(kind="planar", dim=2, width=W, electrolyte_thickness=L, mesh_size=2e-6, anode_thickness=2e-6,
             coating_thickness=T, coating_model=model, coating_cells=2, defects=lay)
    tm = build_planar(comm, p)
    kin = Kinetics(20.0, 0.5, 0.5, 0.0)
    coat = Coating("film", T, KC, model,
                   asr_field=asr_field(lay, T / KC, defect_asr(lay, T, KC, 1.0)) if model == "thin" else None)
    cell = SteadyCell(comm, tm, constant_electrolyte(), kin, Operation("galvanostatic", 20.0, None, 298.15),
                      coating=coat, length_scale=L)
    cell.solve()
    d = defect_metrics(cell, lay, 20.0, kinetics={n: kin for n in cell.surfaces} if model == "thin" else None)
    d["cell_voltage_V"] = cell.cell_voltage
    return lay, d


@pytest.mark.parametrize("model, placement", [("thin", "random"), ("resolved", "lattice")])
def test_defects_one_vs_n_ranks(model, placement):
    world = MPI.COMM_WORLD
    lay_n, par = metrics(world, model, placement)
    gc.collect()  # the distributed PETSc objects die now, on every rank together (not inside the serial solve)
    world.barrier()
    lay_1, ser = metrics(MPI.COMM_SELF, model, placement)
    assert world.allgather(lay_n["centres"]) == [lay_1["centres"]] * world.size  # same layout everywhere
    for k in ("cell_voltage_V", "current_focusing_factor", "defect_current_fraction", "defect_area_fraction"):
        assert par[k] == pytest.approx(ser[k], rel=1e-8, abs=1e-14), k
