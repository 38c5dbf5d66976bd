"""Repartitioning a submesh on its own (solver/submesh.py::rebalance), used for the elasticity solid when the
parent's partition leaves it on few ranks. Run: ``mpiexec -n 2 python -m mpi4py -m pytest tests/test_submesh_mpi.py``
(passes trivially on one rank). The solid (Li anode + resolved coating) of a 3D planar cell partitioned as a
whole by cell count sat on one rank (generated meshes now share every volume equally, meshes/partition.py;
a mesh from elsewhere may not); rebalanced, every rank owns its share (<= 1.2x the mean), and nothing is lost: the
same number of cells and facets under every tag, the same volume of every region and area of every facet
group (exact sums of the same simplices)."""

from __future__ import annotations

import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402


from licoat.meshes import build_mesh  # noqa: E402
from licoat.solver.submesh import cell_imbalance, rebalance, restrict  # noqa: E402
from helpers import tag_census  # noqa: E402

pytestmark = pytest.mark.mpi


def test_rebalanced_solid_keeps_every_tag_and_is_balanced():
    comm = MPI.COMM_WORLD
    tm = build_mesh(comm, dict(kind="planar", dim=3, width=10e-6, depth=10e-6, electrolyte_thickness=20e-6,
                               mesh_size=1e-6, anode_thickness=2e-6, coating_thickness=0.5e-6, coating_model="resolved"))
    solid, _ = restrict(tm, ["anode", "coating"])
    new = rebalance(solid)
    assert cell_imbalance(new) <= 1.2
    before, after = tag_census(solid), tag_census(new)
    assert before.keys() == after.keys() and {"anode", "coating", "bottom", "anode_coating"} <= before.keys()
    for name, (n, size) in before.items():
        assert after[name][0] == n, name
        assert after[name][1] == pytest.approx(size, rel=1e-12, abs=1e-30), name
