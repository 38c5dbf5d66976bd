"""Every volume shared equally by the ranks (meshes/partition.py). Run under
``mpiexec -n 2 python -m mpi4py -m pytest tests/test_partition_mpi.py`` (and on 3 ranks; on one rank the
balance is trivial and the census is still checked).

A graph partitioner balances cells: on a planar cell with a 10 um Li slab it gave one rank all of the
anode and the other 1.56x its electrolyte cells (the transport work). Checked here: a generated mesh and a
cache entry read on a new rank count give every rank an equal share (within 10 %) of every volume, and
nothing is lost or changed: the same number of cells and facets under every tag, the same volume of
every region and area of every facet group (sums of the same simplices) as the serial mesh.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402


from licoat.meshes import build_mesh  # noqa: E402
from licoat.meshes.cache import build_mesh_cached, cache_directory, cache_key, read_entry  # noqa: E402
from licoat.meshes.partition import pull  # noqa: E402
from helpers import tag_census  # noqa: E402

pytestmark = pytest.mark.mpi
WORLD = MPI.COMM_WORLD
SLAB = dict(kind="planar", dim=3, width=6e-6, depth=6e-6, electrolyte_thickness=12e-6, mesh_size=1e-6,
            anode_thickness=6e-6, coating_thickness=0.5e-6, coating_model="resolved")
SIN = dict(kind="sinusoid", dim=2, width=20e-6, amplitude=1e-6, wavelength=10e-6, electrolyte_thickness=20e-6,
           mesh_size=0.5e-6, anode_thickness=10e-6, coating_thickness=0.0)


def shares(tm):
    """{volume: owned cells on each rank}."""
    n = tm.mesh.topology.index_map(tm.dim).size_local
    return {name: WORLD.allgather(int(np.count_nonzero(tm.cells(name) < n)))
            for name, (dim, _) in tm.groups.items() if dim == tm.dim}


def assert_balanced_and_complete(tm, p):
    for name, counts in shares(tm).items():
        assert max(counts) <= 1.1 * sum(counts) / len(counts) + 1, (name, counts)
    serial, parallel = tag_census(build_mesh(MPI.COMM_SELF, p)), tag_census(tm)
    assert serial.keys() == parallel.keys()
    for name, (n, size) in serial.items():
        assert parallel[name][0] == n, name
        assert parallel[name][1] == pytest.approx(size, rel=1e-12, abs=1e-30), name


@pytest.mark.parametrize("p", [SLAB, SIN], ids=["3D coated Li slab", "2D sinusoid"])
def test_generated_mesh_shares_every_volume(p):
    tm = build_mesh(WORLD, p)
    assert {"anode", "electrolyte"} <= set(shares(tm))
    assert_balanced_and_complete(tm, p)


def test_cache_entry_read_on_a_new_rank_count_shares_every_volume(shared_tmp):
    """Written by one rank (its own partition), read on all: the first read distributes every volume
    equally and records that partition, the second takes it back (the same cells on the same ranks)."""
    if WORLD.rank == 0:
        build_mesh_cached(MPI.COMM_SELF, SLAB, Path(shared_tmp))
    WORLD.barrier()
    entry = cache_directory(Path(shared_tmp)) / cache_key(SLAB)
    first, again = read_entry(WORLD, entry), read_entry(WORLD, entry)
    assert_balanced_and_complete(first, SLAB)
    assert shares(first) == shares(again)
    n = first.mesh.topology.index_map(3).size_local
    assert np.array_equal(first.mesh.topology.original_cell_index[:n],
                          again.mesh.topology.original_cell_index[:again.mesh.topology.index_map(3).size_local])


def test_pull_fetches_values_by_global_position():
    n = 5 + 3 * WORLD.rank
    start = WORLD.exscan(n) or 0
    total = WORLD.allreduce(n, op=MPI.SUM)
    values = 10 * np.arange(start, start + n, dtype=np.int64) + 7
    rng = np.random.default_rng(WORLD.rank)
    positions = rng.integers(0, total, size=11)
    assert np.array_equal(pull(WORLD, values, positions), 10 * positions + 7)
