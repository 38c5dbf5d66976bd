"""On-disk mesh cache keyed by the geometry parameters, stored in a parallel format (XDMF/HDF5).

Key: SHA-256 of the canonical JSON of the geometry dict, the licoat version, the generator sources
and the cache format. An entry is a directory ``<key>/`` holding

* ``mesh.xdmf`` + ``mesh.h5``: the mesh (metres) with its ``cell_tags`` and ``facet_tags``, written
  and read collectively by all ranks with :class:`dolfinx.io.XDMFFile` (parallel HDF5);
* ``meta.json``: the physical groups (name -> [dim, tag]), the generator info and the writer's
  partition (owned cells per rank, in file order);
* ``cell_values.npy``, ``facet_cells.npy``: the tags by cell position in the file, and
  ``shared_nodes.npy``: the file's node indices on the writer's process boundaries.

On a miss the generator (Gmsh) runs and the entry is written into ``<key>.<pid>.tmp/``, which
rank 0 renames to ``<key>/`` once complete, so a crashed or concurrent writer never leaves a
half-written entry that another run would read. On a hit Gmsh does not run at all. Read on as many
ranks as wrote it, each rank takes back the writer's cells and DOLFINx builds the topology from them
directly (no dual graph, no graph partitioner, no cell reordering: the file holds the writer's
ordered cells): 1.4 M tetrahedra load in about half the time of DOLFINx's ``read_mesh``
(``benchmarks/mesh_cache_io.py``). On another rank count the entry is read and partitioned afresh
(``GhostMode.none``). Tags are addressed by name, so the solver sees the same mesh either way; cells
may be numbered differently.

Directory: ``cache_dir``, else ``$LICOAT_CACHE_DIR``, else ``~/.cache/licoat/meshes``.
``timing`` (a dict), when given, receives ``mesh_io_s``: wall time spent reading or writing the
cache entry (not the meshing itself).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from licoat import __version__
from licoat.meshes.common import TaggedMesh, write_tagged_xdmf

import dolfinx  # noqa: E402
from dolfinx.io import XDMFFile  # noqa: E402

FORMAT = 3  # 1: Gmsh .msh read by rank 0; 2: XDMF/HDF5 read collectively; 3: + the writer's partition


def _generator_source_hash() -> str:
    """Hash of the generator sources: a changed generator never reuses an old mesh."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()


def cache_key(p: dict) -> str:
    doc = json.dumps({"p": p, "licoat": __version__, "source": _generator_source_hash(), "format": FORMAT},
                     sort_keys=True, default=repr)
    return hashlib.sha256(doc.encode()).hexdigest()


def cache_directory(cache_dir=None) -> Path:
    return Path(cache_dir or os.environ.get("LICOAT_CACHE_DIR") or Path.home() / ".cache" / "licoat" / "meshes")


def _tags_by_file_cell(tm: TaggedMesh) -> tuple[np.ndarray, np.ndarray]:
    """Tags in terms of the cells' positions in the XDMF file (owned cells, rank by rank, in local order).

    Returns (cell values, int32 by file cell; -1 untagged) and facet rows (file cell, local facet,
    value), one row per tagged facet and adjacent owned cell.
    """
    mesh, tdim = tm.mesh, tm.dim
    imap = mesh.topology.index_map(tdim)
    n, offset = imap.size_local, imap.local_range[0]
    cvals = np.full(n, -1, dtype=np.int32)
    own = tm.cell_tags.indices < n
    cvals[tm.cell_tags.indices[own]] = tm.cell_tags.values[own]
    mesh.topology.create_connectivity(tdim, tdim - 1)
    c2f = mesh.topology.connectivity(tdim, tdim - 1)
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    nf = tdim + 1  # simplices
    c2f_arr = c2f.array.reshape(-1, nf)
    rows = []
    for f, v in zip(tm.facet_tags.indices, tm.facet_tags.values):
        for c in f2c.links(f):
            if c < n:
                rows.append((offset + c, int(np.flatnonzero(c2f_arr[c] == f)[0]), v))
    return cvals, np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def write_entry(tm: TaggedMesh, directory: Path) -> None:
    """Write ``tm`` collectively into ``directory``.

    ``mesh.xdmf``/``.h5`` (mesh, cell_tags, facet_tags; parallel HDF5), ``meta.json`` (groups, info)
    and two small index files, ``cell_values.npy`` and ``facet_cells.npy``, giving the tags by cell
    position in the file (read back through ``topology.original_cell_index``, which is much cheaper
    than matching tagged entities by their vertices).
    """
    comm = tm.mesh.comm
    if comm.rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    write_tagged_xdmf(tm, directory / "mesh.xdmf")
    simplex = tm.mesh.topology.cell_type in (dolfinx.mesh.CellType.triangle, dolfinx.mesh.CellType.tetrahedron)
    if simplex:
        cvals, frows = _tags_by_file_cell(tm)
        cvals, frows = comm.gather(cvals, root=0), comm.gather(frows, root=0)
    partition = comm.gather(tm.mesh.topology.index_map(tm.dim).size_local, root=0)
    # a node on a process boundary is a ghost on at least one rank (GhostMode.none): their union
    geo = tm.mesh.geometry.index_map()
    shared = comm.gather(np.asarray(geo.ghosts, dtype=np.int64), root=0)
    if comm.rank == 0:
        if simplex:
            np.save(directory / "cell_values.npy", np.concatenate(cvals))
            np.save(directory / "facet_cells.npy", np.concatenate(frows))
        np.save(directory / "shared_nodes.npy", np.unique(np.concatenate(shared)))
        doc = {"groups": {k: list(v) for k, v in tm.groups.items()}, "info": tm.info, "partition": partition}
        (directory / "meta.json").write_text(json.dumps(doc, default=float))
    comm.barrier()


def _tags_from_file_cells(mesh, directory: Path):
    """Cell and facet MeshTags from the index files (each rank maps its cells' original indices)."""
    tdim = mesh.topology.dim
    orig = np.asarray(mesh.topology.original_cell_index, dtype=np.int64)
    n = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    orig = orig[:n]
    cvals = np.load(directory / "cell_values.npy", mmap_mode="r")[orig]
    tagged = np.flatnonzero(cvals >= 0).astype(np.int32)
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, tagged, np.ascontiguousarray(cvals[tagged], dtype=np.int32))
    rows = np.load(directory / "facet_cells.npy")
    order = np.argsort(orig)
    pos = np.searchsorted(orig, rows[:, 0], sorter=order)
    pos = np.minimum(pos, len(orig) - 1)
    local = order[pos] if len(orig) else pos
    mine = (orig[local] == rows[:, 0]) if len(orig) else np.zeros(len(rows), bool)
    mesh.topology.create_connectivity(tdim, tdim - 1)
    c2f = mesh.topology.connectivity(tdim, tdim - 1).array.reshape(-1, tdim + 1)
    facets = c2f[local[mine], rows[mine, 1]]
    facets, first = np.unique(facets, return_index=True)
    fvals = rows[mine, 2][first]
    facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, facets.astype(np.int32), fvals.astype(np.int32))
    return cell_tags, facet_tags


def _equal_split(comm, n_local: int) -> np.ndarray:
    """Offsets of the contiguous file ranges the ranks read (XDMF reads an equal share each)."""
    return np.concatenate([[0], np.cumsum(comm.allgather(n_local))]).astype(np.int64)


def _exchange(comm, blocks: list[np.ndarray], dtype, width: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """All-to-all of one array per destination rank (rows of ``width``). Returns what arrived,
    concatenated in source-rank order, and the number of rows from each source."""
    send = np.ascontiguousarray(np.concatenate([np.asarray(b, dtype=dtype).ravel() for b in blocks]), dtype=dtype)
    counts = np.array([np.asarray(b).size for b in blocks], dtype=np.int64)
    rcounts = np.empty_like(counts)
    comm.Alltoall(counts, rcounts)
    recv = np.empty(int(rcounts.sum()), dtype=dtype)
    comm.Alltoallv([send, counts], [recv, rcounts])  # MPI datatype from the buffers' dtype
    return recv.reshape(-1, width), rcounts // width


def _read_partitioned(comm, f, directory: Path, partition: list[int]):
    """The mesh on the writer's partition: each rank builds the topology of its own cells.

    XDMF reads an equal share of cells and nodes on every rank; the cells move to the rank that owned
    them when the entry was written, the nodes to the ranks whose cells use them. The vertices shared
    with other ranks are known from the file (``shared_nodes.npy``), so DOLFINx's ``create_topology``
    needs no dual graph, and the cells keep the writer's (locality-preserving) order.
    """
    from dolfinx import cpp as _cpp

    cells = f.read_topology_data(name="mesh").astype(np.int64)
    x = f.read_geometry_data(name="mesh")
    nv, gdim = cells.shape[1], x.shape[1]
    mine = _equal_split(comm, cells.shape[0])
    want = np.concatenate([[0], np.cumsum(partition)]).astype(np.int64)
    r = comm.rank
    # cells: the overlap of my file range with each rank's partition range
    blocks = []
    for d in range(comm.size):
        lo, hi = max(mine[r], want[d]), min(mine[r + 1], want[d + 1])
        blocks.append(cells[lo - mine[r]:max(hi, lo) - mine[r]])
    cells = _exchange(comm, blocks, np.int64, nv)[0]  # sources in rank order = file order
    original = np.arange(want[r], want[r + 1], dtype=np.int64)
    # nodes: ask the rank that read each needed node for its coordinates; the replies come back by
    # source rank, i.e. in the order of the requests sorted by owner
    xoff = _equal_split(comm, x.shape[0])
    used = np.zeros(xoff[-1], dtype=bool)  # a mark per file node: 10x faster than np.unique here
    used[cells.ravel()] = True
    nodes = np.flatnonzero(used).astype(np.int64)
    del used
    owner = np.searchsorted(xoff, nodes, side="right") - 1
    asked, n_asked = _exchange(comm, [nodes[owner == d] for d in range(comm.size)], np.int64)
    asked = np.split(asked.ravel() - xoff[r], np.cumsum(n_asked)[:-1])
    coords = _exchange(comm, [x[i] for i in asked], np.float64, gdim)[0]
    x_nodes = np.empty((len(nodes), gdim))
    x_nodes[np.argsort(owner, kind="stable")] = coords
    shared = np.load(directory / "shared_nodes.npy", mmap_mode="r")
    boundary = nodes[np.isin(nodes, shared)] if len(shared) else np.empty(0, np.int64)
    cell_type = f.read_cell_type(name="mesh")[0]
    topology = _cpp.mesh.create_topology(comm, [cell_type], [cells.ravel()], [original],
                                         [np.empty(0, dtype=np.int32)], boundary, 1)
    cmap = dolfinx.fem.coordinate_element(cell_type, 1)
    geometry = _cpp.mesh.create_geometry(topology, [cmap._cpp_object], nodes, cells.ravel(), x_nodes.ravel(), gdim)
    import basix.ufl
    import ufl

    domain = ufl.Mesh(basix.ufl.element("Lagrange", cell_type.name, 1, shape=(gdim,)))
    mesh = dolfinx.mesh.Mesh(_cpp.mesh.Mesh_float64(comm, topology, geometry), domain)
    mesh.name = "mesh"
    return mesh


def read_entry(comm, directory: Path, index_files: bool = True, partition: bool = True) -> TaggedMesh:
    """Read a cache entry collectively on ``comm`` (every rank reads its share of the HDF5 data).

    ``partition=True`` takes back the writer's partition when ``comm`` has as many ranks as wrote the
    entry (and the mesh is affine simplicial with index files); otherwise DOLFINx's ``read_mesh``
    partitions the cells afresh. ``index_files=False`` reads the tags from the XDMF file instead
    (slower; the same tags; implies ``partition=False``).
    """
    doc = comm.bcast(json.loads((directory / "meta.json").read_text()) if comm.rank == 0 else None, root=0)
    fast_tags = index_files and (directory / "facet_cells.npy").exists()
    stored = doc.get("partition")
    with XDMFFile(comm, str(directory / "mesh.xdmf"), "r") as f:
        if partition and fast_tags and stored and len(stored) == comm.size \
                and (directory / "shared_nodes.npy").exists() and f.read_cell_type(name="mesh")[1] == 1:
            mesh = _read_partitioned(comm, f, directory, stored)
        else:
            mesh = f.read_mesh(ghost_mode=dolfinx.mesh.GhostMode.none, name="mesh")
        mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
        if fast_tags:
            cell_tags, facet_tags = _tags_from_file_cells(mesh, directory)
        else:
            cell_tags = f.read_meshtags(mesh, name="cell_tags")
            facet_tags = f.read_meshtags(mesh, name="facet_tags")
    groups = {k: (int(v[0]), int(v[1])) for k, v in doc["groups"].items()}
    return TaggedMesh(mesh, cell_tags, facet_tags, groups, doc["info"])


def build_mesh_cached(comm, p: dict, cache_dir=None, timing: dict | None = None) -> tuple[TaggedMesh, bool]:
    """The mesh for geometry parameters ``p``: read from the cache, else generated and stored.

    Returns (TaggedMesh, hit). ``timing["mesh_io_s"]`` (if ``timing`` is given): cache I/O time, s.
    """
    from licoat.meshes.registry import build_mesh

    d = cache_directory(cache_dir)
    key = cache_key(p)
    entry = d / key
    hit = comm.bcast((entry / "meta.json").exists() if comm.rank == 0 else None, root=0)
    t0 = time.perf_counter()
    if hit:
        tm = read_entry(comm, entry)
        if timing is not None:
            timing["mesh_io_s"] = time.perf_counter() - t0
        return tm, True
    tm = build_mesh(comm, p)
    t0 = time.perf_counter()
    tmp = d / f"{key}.{comm.bcast(os.getpid(), root=0)}.tmp"
    try:
        write_entry(tm, tmp)
        if comm.rank == 0:
            try:
                tmp.replace(entry)
            except OSError:  # another run stored the same entry meanwhile: keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
    except Exception:
        if comm.rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    comm.barrier()
    if timing is not None:
        timing["mesh_io_s"] = time.perf_counter() - t0
    return tm, False
