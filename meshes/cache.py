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

from licoat import __version__
from licoat.meshes.common import TaggedMesh

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


def write_entry(tm: TaggedMesh, directory: Path) -> None:
    """Write ``tm`` collectively into ``directory`` (mesh.xdmf/.h5 + meta.json, rank 0 for JSON)."""
    comm = tm.mesh.comm
    if comm.rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    tm.mesh.topology.create_connectivity(tm.dim - 1, tm.dim)
    tm.mesh.name = "mesh"
    tm.cell_tags.name = "cell_tags"
    tm.facet_tags.name = "facet_tags"
    with XDMFFile(comm, str(directory / "mesh.xdmf"), "w") as f:
        f.write_mesh(tm.mesh)
        f.write_meshtags(tm.cell_tags, tm.mesh.geometry)
        f.write_meshtags(tm.facet_tags, tm.mesh.geometry)
    if comm.rank == 0:
        doc = {"groups": {k: list(v) for k, v in tm.groups.items()}, "info": tm.info}
        (directory / "meta.json").write_text(json.dumps(doc, default=float))
    comm.barrier()


def read_entry(comm, directory: Path) -> TaggedMesh:
    """Read a cache entry collectively on ``comm`` (every rank reads its share of the HDF5 data)."""
    with XDMFFile(comm, str(directory / "mesh.xdmf"), "r") as f:
        mesh = f.read_mesh(ghost_mode=dolfinx.mesh.GhostMode.none, name="mesh")
        mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
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
