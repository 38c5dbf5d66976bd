"""Shared fixtures; after each test: gc.collect() and a barrier, so PETSc objects die together on all ranks."""

import gc

import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402


@pytest.fixture(autouse=True)
def _collect_and_sync():
    yield
    gc.collect()
    MPI.COMM_WORLD.barrier()


@pytest.fixture
def shared_tmp(tmp_path):
    """A temporary directory that is the same on every rank (rank 0's tmp_path)."""
    return MPI.COMM_WORLD.bcast(str(tmp_path), root=0)
