"""Parallel geometry: areas/volumes from a distributed mesh agree with a serial build of the same mesh.

Run: .venv/bin/mpiexec -n 2 .venv/bin/python -m mpi4py -m pytest tests/test_geometry_mpi.py
"""

from __future__ import annotations

import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

from licoat.meshes.registry import build_mesh  # noqa: E402
from licoat.meshes.report import geometry_report  # noqa: E402

um = 1e-6
CASES = [
    dict(kind="pillars", dim=3, pillar_diameter=2 * um, pillar_height=4 * um, pitch=4 * um, lattice="hexagonal",
         collector_thickness=1 * um, electrolyte_thickness=5 * um, mesh_size=1.5 * um, interface_mesh_size=0.5 * um),
    dict(kind="sinusoid", dim=2, width=10 * um, amplitude=1 * um, wavelength=10 * um, anode_thickness=3 * um,
         electrolyte_thickness=8 * um, mesh_size=1.5 * um, interface_mesh_size=0.3 * um, coating_thickness=0.25 * um,
         coating_model="resolved"),
    dict(kind="fibers", dim=3, width=10 * um, depth=10 * um, fiber_diameter=1.5 * um, fiber_volume_fraction=0.25,
         host_thickness=8 * um, orientation="random-in-plane", seed=3, collector_thickness=1 * um,
         electrolyte_thickness=5 * um, mesh_size=2 * um, interface_mesh_size=0.5 * um),
    dict(kind="fibers", dim=3, width=8 * um, depth=8 * um, fiber_diameter=1 * um, fiber_volume_fraction=0.1,
         host_thickness=6 * um, orientation="random3d", seed=1, collector_thickness=1 * um,
         electrolyte_thickness=3 * um, mesh_size=2 * um, interface_mesh_size=0.4 * um, coating_thickness=10e-9,
         coating_model="thin"),
]


@pytest.mark.mpi
@pytest.mark.parametrize("p", CASES, ids=[c["kind"] + ("_" + c["orientation"] if "orientation" in c else "")
                                          for c in CASES])
def test_parallel_matches_serial(p):
    comm = MPI.COMM_WORLD
    par = geometry_report(build_mesh(comm, p), p)
    ser = None
    if comm.rank == 0:
        ser = geometry_report(build_mesh(MPI.COMM_SELF, p), p)
    ser = comm.bcast(ser, root=0)
    assert par["cells"] == ser["cells"]
    for name, a in ser["interface_areas_m2"].items():
        assert par["interface_areas_m2"][name] == pytest.approx(a, rel=1e-10), name
    for name, v in ser["volumes_m3"].items():
        assert par["volumes_m3"][name] == pytest.approx(v, rel=1e-10), name
    for key in ("porosity", "min_quality"):
        if ser[key] is not None:
            assert par[key] == pytest.approx(ser[key], rel=1e-10)
    if ser["coating_thickness_m"]:
        assert par["coating_thickness_m"]["mean"] == pytest.approx(ser["coating_thickness_m"]["mean"], rel=1e-10)
    # identical on all ranks
    assert comm.allgather(par["interface_areas_m2"]) == [par["interface_areas_m2"]] * comm.size
