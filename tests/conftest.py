"""Shared fixtures; after each test: gc.collect() and a barrier, so PETSc objects die together on all ranks.

Under mpiexec the automatic (cyclic) garbage collector is off between those points: MPI tests run serial
references on COMM_SELF after a parallel solve, and a collection that started on one rank alone inside
that rank-local work destroyed the parallel solve's PETSc/DOLFINx objects there, a collective call the
other rank joined only after its FFCx compile lock (held by the blocked rank) had timed out (120 s, then
a failed test; the same pattern as ``licoat.sweep._rank0_only``)."""

import gc

import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

if MPI.COMM_WORLD.size > 1:
    gc.disable()


@pytest.fixture(autouse=True)
def _collect_and_sync():
    yield
    gc.collect()
    MPI.COMM_WORLD.barrier()


@pytest.fixture
def shared_tmp(tmp_path):
    """A temporary directory that is the same on every rank (rank 0's tmp_path)."""
    return MPI.COMM_WORLD.bcast(str(tmp_path), root=0)
