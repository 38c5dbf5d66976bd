"""A finished run frees what it holds: no MPI communicator outlives it.

MPICH gives a process 2048 communicator context ids, and every DOLFINx mesh, index map and PETSc solver holds
some. A problem kept alive by a reference cycle through a PETSc callback (the SNES holds its Python callbacks
from C, where the garbage collector cannot see them) leaked its communicators with it, about six per run, and a
long session in one process (this test suite, a sweep driven from Python) died with MPI_ERR_OTHER ("Too many
communicators", exit code 15) after ~340 runs. The check: as many communicators can be created after a steady
and a transient run, both solved with the iterative solver and Jacobian reuse, as before them."""

import gc

import pytest
from mpi4py import MPI

from licoat.cli import main

CASE = """
[geometry]
kind = "sinusoid"
width = "5 um"
wavelength = "5 um"
amplitude = "0.5 um"
electrolyte_thickness = "10 um"
anode_thickness = "5 um"
mesh_size = "1 um"
[solver]
linear_solver = "{solver}"
[output]
fields = false
[operation]
counter = "lithium"
{operation}
"""
STEADY = 'current_density = "1 mA/cm^2"'
TRANSIENT = """[[operation.step]]
current_density = "1 mA/cm^2"
duration = "2 s"
"""


def free_communicators() -> int:
    """How many more communicators this process can create (all are freed again)."""
    comms = []
    try:
        while len(comms) < 100_000:
            comms.append(MPI.COMM_SELF.Dup())
    except MPI.Exception:
        pass
    for c in comms:
        c.Free()
    return len(comms)


@pytest.mark.parametrize("solver", ["direct", "iterative"])
def test_runs_release_their_communicators(tmp_path, solver):
    def run(name, operation):
        case = tmp_path / f"{name}.toml"
        case.write_text(CASE.format(solver=solver, operation=operation))
        assert main(["run", str(case), "--out", str(tmp_path / name), "--quiet"]) == 0

    run("warm", STEADY)  # first-use caches (JIT modules, the failure communicator) are not leaks
    gc.collect()
    before = free_communicators()
    for k in range(3):
        run(f"steady{k}", STEADY)
        run(f"transient{k}", TRANSIENT)
    gc.collect()
    assert free_communicators() == before
