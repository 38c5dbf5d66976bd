"""On-disk mesh cache keyed by the geometry parameters, stored in a parallel format (XDMF/HDF5).

Key: SHA-256 of the canonical JSON of the geometry dict, the licoat version, the generator sources
and the cache format. An entry is a directory ``<key>/`` holding

* ``mesh.xdmf`` + ``mesh.h5``: the mesh (metres) with its ``cell_tags`` and ``facet_tags``, written
  and read collectively by all ranks with :class:`dolfinx.io.XDMFFile` (parallel HDF5);
* ``meta.json``: the physical groups (name -> [dim, tag]) and the generator info.

On a miss the generator (Gmsh) runs and the entry is written into ``<key>.<pid>.tmp/``, which
rank 0 renames to ``<key>/`` once complete, so a crashed or concurrent writer never leaves a
half-written entry that another run would read. On a hit Gmsh does not run at all. The mesh read
back is partitioned like a generated one (``GhostMode.none``), and tags are addressed by name, so
the solver sees the same mesh; cells may be numbered differently.

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

FORMAT = 2  # 1: Gmsh .msh read by rank 0; 2: XDMF/HDF5 read collectively


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
    if comm.rank == 0:
        if simplex:
            np.save(directory / "cell_values.npy", np.concatenate(cvals))
            np.save(directory / "facet_cells.npy", np.concatenate(frows))
        doc = {"groups": {k: list(v) for k, v in tm.groups.items()}, "info": tm.info}
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


def read_entry(comm, directory: Path, index_files: bool = True) -> TaggedMesh:
    """Read a cache entry collectively on ``comm`` (every rank reads its share of the HDF5 data).

    ``index_files=False`` reads the tags from the XDMF file instead (slower; the same tags).
    """
    with XDMFFile(comm, str(directory / "mesh.xdmf"), "r") as f:
        mesh = f.read_mesh(ghost_mode=dolfinx.mesh.GhostMode.none, name="mesh")
        mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
        if index_files and (directory / "facet_cells.npy").exists():
            cell_tags, facet_tags = _tags_from_file_cells(mesh, directory)
        else:
            cell_tags = f.read_meshtags(mesh, name="cell_tags")
            facet_tags = f.read_meshtags(mesh, name="facet_tags")
    doc = comm.bcast(json.loads((directory / "meta.json").read_text()) if comm.rank == 0 else None, root=0)
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
