"""Refined-and-snapped fibre host on N ranks = on one rank (meshes/refine.py): the refinement runs
in parallel without redistribution and the snap depends only on coordinates, so the host volume and
fibre surface area agree to round-off.

Run as: mpiexec -n 2 python -m mpi4py -m pytest tests/test_refine_snap_mpi.py
"""

import pytest
from mpi4py import MPI

from licoat.meshes import build_mesh
from licoat.meshes.refine import refine_snapped
from licoat.meshes.report import geometry_report

um = 1e-6
P = dict(kind="fibers", dim=3, orientation="random-in-plane", width=6 * um, depth=6 * um, fiber_diameter=2 * um,
         fiber_volume_fraction=0.2, host_thickness=5 * um, collector_thickness=1 * um, seed=3,
         electrolyte_thickness=4 * um, mesh_size=2 * um, interface_mesh_size=0.8 * um, coating_thickness=0.0,
         coating_model="resolved")


def test_parallel_refine_snap_equals_serial():
    par = geometry_report(refine_snapped(build_mesh(MPI.COMM_WORLD, P), P), P)
    ser = geometry_report(refine_snapped(build_mesh(MPI.COMM_SELF, P), P), P)
    assert par["cells"] == ser["cells"]
    for k in ("host", "electrolyte"):
        assert par["volumes_m3"][k] == pytest.approx(ser["volumes_m3"][k], rel=1e-12)
    assert par["interface_areas_m2"]["host_electrolyte"] == pytest.approx(ser["interface_areas_m2"]["host_electrolyte"],
                                                                          rel=1e-12)
