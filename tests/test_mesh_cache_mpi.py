"""The XDMF/HDF5 mesh cache: a mesh read back (collectively, on 1 or N ranks) is the generated mesh.

Run serially or as: mpiexec -n 2 python -m mpi4py -m pytest tests/test_mesh_cache_mpi.py
References are generated directly with Gmsh on COMM_SELF.
"""

from pathlib import Path

import pytest
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat.meshes import build_mesh
from licoat.meshes.cache import build_mesh_cached
from licoat.meshes.report import geometry_report
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Coating, Kinetics, Operation

um = 1e-6
SIN = dict(kind="sinusoid", dim=2, width=20 * um, electrolyte_thickness=30 * um, mesh_size=2 * um,
           amplitude=2 * um, wavelength=20 * um, anode_thickness=5 * um, coating_thickness=200e-9,
           coating_model="resolved")
PIL = dict(kind="pillars", dim=3, lattice="square", pillar_diameter=2 * um, pillar_height=4 * um, pitch=4 * um,
           collector_thickness=1 * um, electrolyte_thickness=5 * um, mesh_size=1.5 * um, interface_mesh_size=0.5 * um,
           coating_thickness=0.0, coating_model="resolved")


def _metrics(comm, tm):
    op = Operation("galvanostatic", 50.0, None, 298.15, "reservoir")
    cell = SteadyCell(comm, tm, constant_electrolyte(), Kinetics(100.0, 0.5, 0.5, 0.0), op,
                      coating=Coating("film", 200e-9, 1e-5, "resolved"), length_scale=30e-6)
    m = cell.solve().metrics()
    return dict(m["plating"], cell_voltage_V=m["cell_voltage_V"], dofs=m["dofs"])


def test_cached_mesh_solves_like_the_generated_one(shared_tmp):
    """Resolved coating (interior coating|electrolyte facets): same metrics to 1e-8 relative."""
    world = MPI.COMM_WORLD
    timing = {}
    tm_miss, hit_miss = build_mesh_cached(world, SIN, Path(shared_tmp), timing=timing)
    assert not hit_miss and timing["mesh_io_s"] > 0
    tm_hit, hit = build_mesh_cached(world, SIN, Path(shared_tmp), timing=timing)
    assert hit and timing["mesh_io_s"] > 0
    assert (Path(shared_tmp) / next(p.name for p in Path(shared_tmp).iterdir()) / "mesh.h5").exists()
    ref = _metrics(MPI.COMM_SELF, build_mesh(MPI.COMM_SELF, SIN))
    got = _metrics(world, tm_hit)
    assert ref["cv"] > 1e-3  # a genuinely non-uniform distribution, sensitive to the surface tags
    for k, v in ref.items():
        assert got[k] == pytest.approx(v, rel=1e-8, abs=1e-12), k


def test_cached_3d_host_keeps_every_group(shared_tmp):
    """Pillars on a collector (3D, several interfaces): every group's area/volume and the cell count."""
    world = MPI.COMM_WORLD
    build_mesh_cached(world, PIL, Path(shared_tmp))
    tm, hit = build_mesh_cached(world, PIL, Path(shared_tmp))
    assert hit
    ref_tm = build_mesh(MPI.COMM_SELF, PIL)
    ref, got = geometry_report(ref_tm, PIL), geometry_report(tm, PIL)
    assert got["cells"] == ref["cells"] and sorted(tm.groups) == sorted(ref_tm.groups)
    assert tm.info["kind"] == ref_tm.info["kind"] == "pillars"
    assert set(ref["interface_areas_m2"]) == set(got["interface_areas_m2"]) and ref["interface_areas_m2"]
    for name, v in ref["interface_areas_m2"].items():
        assert got["interface_areas_m2"][name] == pytest.approx(v, rel=1e-12), name
    for name, v in ref["volumes_m3"].items():
        assert got["volumes_m3"][name] == pytest.approx(v, rel=1e-12), name


def test_index_file_tags_equal_xdmf_tags(shared_tmp):
    """The fast tag path (file cell index -> original_cell_index) gives exactly the XDMF meshtags."""
    import numpy as np

    from licoat.meshes.cache import cache_directory, cache_key, read_entry

    world = MPI.COMM_WORLD
    build_mesh_cached(world, PIL, Path(shared_tmp))
    entry = cache_directory(Path(shared_tmp)) / cache_key(PIL)
    fast, slow = read_entry(world, entry, partition=False), read_entry(world, entry, index_files=False)
    assert (entry / "facet_cells.npy").exists()
    for a, b in ((fast.cell_tags, slow.cell_tags), (fast.facet_tags, slow.facet_tags)):
        # same mesh partition and numbering: the same (entity, value) pairs on every rank
        pa = sorted(zip(a.indices.tolist(), a.values.tolist()))
        pb = sorted(zip(b.indices.tolist(), b.values.tolist()))
        assert len(pa) > 0 and pa == pb
    present = set(np.concatenate(world.allgather(np.unique(fast.facet_tags.values))).tolist())
    assert present == {tag for d, tag in fast.groups.values() if d == 2}


def _cells_by_original_index(comm, tm):
    """{file cell index: its sorted vertex coordinates} over all ranks (owned cells only)."""
    import numpy as np

    msh, tdim = tm.mesh, tm.dim
    n = msh.topology.index_map(tdim).size_local
    x = msh.geometry.x[msh.geometry.dofmaps[0][:n]]  # (cells, vertices, 3)
    x = np.sort(np.round(x.reshape(n, -1, 3), 15), axis=1).reshape(n, -1)
    orig = np.asarray(msh.topology.original_cell_index[:n])
    out = {}
    for o, xx in comm.allgather((orig, x)):
        out.update(zip(o.tolist(), map(tuple, xx)))
    return out


@pytest.mark.parametrize("p", [SIN, PIL], ids=["2D sinusoid", "3D pillars"])
def test_partitioned_read_restores_the_writers_cells(shared_tmp, p):
    """Read on as many ranks as wrote it, every rank gets back the cells it owned when the entry was
    written, and the mesh equals DOLFINx's own read of the file (same file cells with the same
    vertices, same groups' areas and volumes, same geometric dimension)."""
    import numpy as np

    from licoat.meshes.cache import cache_directory, cache_key, read_entry

    world = MPI.COMM_WORLD
    written, hit = build_mesh_cached(world, p, Path(shared_tmp))
    assert not hit
    entry = cache_directory(Path(shared_tmp)) / cache_key(p)
    got, ref = read_entry(world, entry), read_entry(world, entry, partition=False)
    tdim = got.dim
    imap = got.mesh.topology.index_map(tdim)
    assert imap.size_local == written.mesh.topology.index_map(tdim).size_local
    start = world.exscan(imap.size_local) or 0
    assert np.array_equal(got.mesh.topology.original_cell_index[:imap.size_local],
                          np.arange(start, start + imap.size_local))
    assert got.mesh.geometry.x.shape[1] == ref.mesh.geometry.x.shape[1]
    assert got.mesh.ufl_domain().geometric_dimension == ref.mesh.ufl_domain().geometric_dimension
    assert _cells_by_original_index(world, got) == _cells_by_original_index(world, ref)
    for name in (0, tdim - 1, tdim):
        assert got.mesh.topology.index_map(name).size_global == ref.mesh.topology.index_map(name).size_global
    a, b = geometry_report(got, p), geometry_report(ref, p)
    assert a["cells"] == b["cells"]
    for key in ("interface_areas_m2", "volumes_m3"):
        assert set(a[key]) == set(b[key]) and a[key]
        for name, v in b[key].items():
            assert a[key][name] == pytest.approx(v, rel=1e-12), (key, name)


def test_entry_written_on_other_rank_count_is_partitioned_afresh(shared_tmp):
    """An entry written by one rank and read by all of them takes DOLFINx's partitioner the first
    time and records that partition; the next read takes it back: the same cells on the same ranks, in
the same local order."""
    import numpy as np

    from licoat.meshes.cache import cache_directory, cache_key, read_entry

    world = MPI.COMM_WORLD
    if world.rank == 0:
        build_mesh_cached(MPI.COMM_SELF, PIL, Path(shared_tmp))
    world.barrier()
    entry = cache_directory(Path(shared_tmp)) / cache_key(PIL)
    assert (entry / "partitions" / "1" / "owner.npy").exists()
    assert (entry / "partitions" / str(world.size) / "owner.npy").exists() == (world.size == 1)
    first = read_entry(world, entry)
    assert (entry / "partitions" / str(world.size) / "owner.npy").exists()
    again = read_entry(world, entry)
    ref = build_mesh(MPI.COMM_SELF, PIL)
    n = first.mesh.topology.index_map(3).size_local
    assert np.array_equal(first.mesh.topology.original_cell_index[:n],
                          again.mesh.topology.original_cell_index[:again.mesh.topology.index_map(3).size_local])
    assert _cells_by_original_index(world, first) == _cells_by_original_index(world, again)
    for tm in (first, again):
        a, b = geometry_report(tm, PIL), geometry_report(ref, PIL)
        assert a["cells"] == b["cells"]
        for name, v in b["interface_areas_m2"].items():
            assert a["interface_areas_m2"][name] == pytest.approx(v, rel=1e-12), name
