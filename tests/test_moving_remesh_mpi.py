"""A remeshed moving-interface run on 1 and N ranks (issue 9), 2D (Gmsh) and 3D (mmg3d): the deposit statistics
agree to 1e-6 relative.

Run as: mpiexec -n 2 python -m mpi4py -m pytest tests/test_moving_remesh_mpi.py (each rank also runs the case
alone on COMM_SELF as the serial reference). The remeshers work on rank 0 from the gathered mesh in a canonical
(coordinate) node and cell order, so the new mesh does not depend on the partition (solver/remesh.py).
"""

import pytest
from mpi4py import MPI

from test_moving_remesh import moving_cell, moving_of, run
from test_moving_remesh3d import DURATION, cell3d

CASES = {"2D": (moving_cell, 900.0), "3D": (cell3d, DURATION)}


def deposit(comm, dim):
    build, duration = CASES[dim]
    cell, dm = build(comm)
    res = run(cell, dm, duration)
    return res.steps, moving_of(cell).remeshes, dm.summary(res.series)


@pytest.mark.parametrize("dim", sorted(CASES))
def test_remeshed_run_parallel_equals_serial(dim):
    n_par, r_par, par = deposit(MPI.COMM_WORLD, dim)
    n_ser, r_ser, ser = deposit(MPI.COMM_SELF, dim)
    assert r_ser >= 1 and (n_par, r_par) == (n_ser, r_ser)
    for k in ("thickness_mean_m", "thickness_rms_m", "thickness_max_over_mean", "plated_volume_m3",
              "roughness_growth_rate_1_s"):
        assert par[k] == pytest.approx(ser[k], rel=1e-6, abs=0), k
