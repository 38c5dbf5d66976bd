"""More ranks than cells (issue 13, item 5): a rank without cells is invalid input, on every rank."""

import pytest
from dolfinx import mesh
from mpi4py import MPI

from licoat.solver.sanity import check_ranks


class _Tagged:  # the part of a TaggedMesh that check_ranks reads
    def __init__(self, msh):
        self.mesh = msh


@pytest.mark.skipif(MPI.COMM_WORLD.size < 2, reason="needs 2 ranks")
def test_more_ranks_than_cells_is_exit_2_on_every_rank():
    comm = MPI.COMM_WORLD
    one_cell = mesh.create_unit_interval(comm, 1)  # one cell for 2 ranks
    with pytest.raises(ValueError, match=f"{comm.size} MPI ranks for a mesh of 1 cells: 1 rank"):
        check_ranks(comm, _Tagged(one_cell))
    check_ranks(comm, _Tagged(mesh.create_unit_interval(comm, 8)))  # every rank owns cells: fine
