"""On-disk mesh cache keyed by the geometry parameters.

Key: SHA-256 of the canonical JSON of the geometry dict plus the licoat version. On a miss the
generator runs with :data:`licoat.meshes.common.MSH_SINK` set, so rank 0 writes the Gmsh mesh
(``<key>.msh``, coordinates in micrometres like the Gmsh model) and ``<key>.json`` (generator
info); on a hit the mesh is read with ``dolfinx.io.gmsh.read_from_msh`` and scaled to metres.
Directory: ``cache_dir``, else ``$LICOAT_CACHE_DIR``, else ``~/.cache/licoat/meshes``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from licoat import __version__
from licoat.meshes.common import GMSH_UNIT, MSH_SINK, TaggedMesh, gmsh_model

import dolfinx.io.gmsh  # noqa: E402


def _generator_source_hash() -> str:
    """Hash of the generator sources: a changed generator never reuses an old mesh."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()


def cache_key(p: dict) -> str:
    doc = json.dumps({"p": p, "licoat": __version__, "source": _generator_source_hash(), "format": 1},
                     sort_keys=True, default=repr)
    return hashlib.sha256(doc.encode()).hexdigest()


def cache_directory(cache_dir=None) -> Path:
    return Path(cache_dir or os.environ.get("LICOAT_CACHE_DIR") or Path.home() / ".cache" / "licoat" / "meshes")


def build_mesh_cached(comm, p: dict, cache_dir=None) -> tuple[TaggedMesh, bool]:
    from licoat.meshes.registry import build_mesh

    d = cache_directory(cache_dir)
    key = cache_key(p)
    msh, meta = d / f"{key}.msh", d / f"{key}.json"
    hit = comm.bcast(msh.exists() and meta.exists() if comm.rank == 0 else None, root=0)
    if hit:
        with gmsh_model("licoat-cache") as gmsh:  # quiet Gmsh (read_from_msh would print its log)
            if comm.rank == 0:
                gmsh.merge(str(msh))
            data = dolfinx.io.gmsh.model_to_mesh(gmsh.model, comm, 0, gdim=int(p["dim"]))
        data.mesh.geometry.x[:] *= GMSH_UNIT
        info = comm.bcast(json.loads(meta.read_text()) if comm.rank == 0 else None, root=0)
        mesh = data.mesh
        mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
        groups = {n: (g.dim, g.tag) for n, g in data.physical_groups.items()}
        return TaggedMesh(mesh, data.cell_tags, data.facet_tags, groups, info), True
    if comm.rank == 0:
        d.mkdir(parents=True, exist_ok=True)
    tmp = d / f"{key}.{os.getpid()}.msh"
    token = MSH_SINK.set(tmp)
    try:
        tm = build_mesh(comm, p)
    finally:
        MSH_SINK.reset(token)
    if comm.rank == 0:
        tmp.replace(msh)
        t2 = d / f"{key}.{os.getpid()}.json"
        t2.write_text(json.dumps(tm.info, default=float))
        t2.replace(meta)
    comm.barrier()
    return tm, False
