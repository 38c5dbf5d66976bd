"""Geometry facts measured on a tagged mesh, and writing a mesh with its tags.

All functions are collective: call them on every rank; the results are identical on all ranks.

Coating thickness (resolved shells): for every ``coating_electrolyte`` facet midpoint the exact
distance to the nearest facet of the inner interfaces (``anode_coating``, ``host_coating``,
``collector_coating``) is computed (point-to-triangle / point-to-segment distance, candidates
from a k-d tree of facet centroids, the inner surface gathered on every rank); min/mean/max
over those points (mean area-weighted). ``volume_over_area`` = V_coating / A_coating_electrolyte
is reported alongside.

Quality: scaled radius ratio, d·r_in/r_circ (1 for the equilateral simplex, 0 for a degenerate one).

Host layer (3D-host kinds): 0 <= z <= host_thickness (pillar height for pillars); cells crossing
the layer top are clipped exactly (volume of a simplex below a plane from the divided-difference
formula of its vertex heights).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from licoat.meshes.common import TaggedMesh, write_tagged_xdmf
from mpi4py import MPI

import dolfinx  # noqa: E402

INNER = ("anode_coating", "host_coating", "collector_coating")


def _owned_cells(mesh):
    return mesh.topology.index_map(mesh.topology.dim).size_local


def _cell_coords(mesh, cells):
    x = mesh.geometry.x[:, : mesh.geometry.dim]
    dm = mesh.geometry.dofmaps[0] if hasattr(mesh.geometry, "dofmaps") else mesh.geometry.dofmap
    return x[dm[cells]]


def simplex_volumes(X):
    """Volumes (areas) of simplices with vertex coordinates X (n, d+1, d)."""
    d = X.shape[2]
    E = X[:, 1:, :] - X[:, :1, :]
    return np.abs(np.linalg.det(E)) / math.factorial(d)


def fraction_below(z, H):
    """Fraction of each simplex's volume with vertical coordinate below H; z: (n, d+1) vertex heights."""
    n, m = z.shape
    d = m - 1
    out = np.where(z.max(axis=1) <= H, 1.0, 0.0)
    cross = (z.min(axis=1) < H) & (z.max(axis=1) > H)
    if np.any(cross):
        zc = z[cross]
        span = zc.max(axis=1, keepdims=True) - zc.min(axis=1, keepdims=True)
        zc = zc + span * 1e-6 * np.arange(m)[None, :]  # separate equal heights
        f = np.zeros(len(zc))
        for i in range(m):
            den = np.ones(len(zc))
            for j in range(m):
                if j != i:
                    den *= zc[:, j] - zc[:, i]
            f += np.clip(H - zc[:, i], 0, None) ** d / den
        out[cross] = np.clip(f, 0.0, 1.0)
    return out


def facet_coords(mesh, facets):
    """Vertex coordinates of the given local facets, (n, d, gdim)."""
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    ent = dolfinx.mesh.entities_to_geometry(mesh, tdim - 1, np.asarray(facets, dtype=np.int32))
    return mesh.geometry.x[:, : mesh.geometry.dim][ent]


def facet_measures(X):
    if X.shape[1] == 2:
        return np.linalg.norm(X[:, 1] - X[:, 0], axis=1)
    return 0.5 * np.linalg.norm(np.cross(X[:, 1] - X[:, 0], X[:, 2] - X[:, 0]), axis=1)


def _owned_facets(mesh, facets):
    fmap = mesh.topology.index_map(mesh.topology.dim - 1)
    return facets[facets < fmap.size_local]


def _group_entities(tm: TaggedMesh, name: str):
    d, tag = tm.groups[name]
    if d == tm.dim:
        c = tm.cell_tags.indices[tm.cell_tags.values == tag]
        return c[c < _owned_cells(tm.mesh)]
    f = tm.facet_tags.indices[tm.facet_tags.values == tag]
    return _owned_facets(tm.mesh, f)


def _sum(comm, v):
    return float(comm.allreduce(float(v), op=MPI.SUM))


def group_measures(tm: TaggedMesh) -> tuple[dict, dict]:
    """({facet group: area}, {cell group: volume}) in SI, summed over ranks."""
    areas, vols = {}, {}
    for name, (d, _) in sorted(tm.groups.items()):
        ents = _group_entities(tm, name)
        if d == tm.dim:
            vols[name] = _sum(tm.mesh.comm, simplex_volumes(_cell_coords(tm.mesh, ents)).sum())
        elif d == tm.dim - 1:
            areas[name] = _sum(tm.mesh.comm, facet_measures(facet_coords(tm.mesh, ents)).sum())
    return areas, vols


def min_quality(mesh) -> float:
    X = _cell_coords(mesh, np.arange(_owned_cells(mesh)))
    d = X.shape[2]
    vol = simplex_volumes(X)
    if d == 2:
        a = np.linalg.norm(X[:, 1] - X[:, 2], axis=1)
        b = np.linalg.norm(X[:, 0] - X[:, 2], axis=1)
        c = np.linalg.norm(X[:, 0] - X[:, 1], axis=1)
        r_in = 2 * vol / (a + b + c)
        r_circ = a * b * c / (4 * vol)
        q = 2 * r_in / r_circ
    else:
        faces = [(1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2)]
        area = sum(0.5 * np.linalg.norm(np.cross(X[:, j] - X[:, i], X[:, k] - X[:, i]), axis=1) for i, j, k in faces)
        r_in = 3 * vol / area
        # circumradius: |a|^2 (b x c) + |b|^2 (c x a) + |c|^2 (a x b) over 12 V
        a, b, c = X[:, 1] - X[:, 0], X[:, 2] - X[:, 0], X[:, 3] - X[:, 0]
        num = (np.sum(a * a, 1)[:, None] * np.cross(b, c) + np.sum(b * b, 1)[:, None] * np.cross(c, a)
               + np.sum(c * c, 1)[:, None] * np.cross(a, b))
        r_circ = np.linalg.norm(num, axis=1) / (12 * vol)
        q = 3 * r_in / r_circ
    local = float(q.min()) if len(q) else 1.0
    return float(mesh.comm.allreduce(local, op=MPI.MIN))


def _point_segment(P, A, B):
    AB = B - A
    s = np.clip(np.einsum("...i,...i", P - A, AB) / np.einsum("...i,...i", AB, AB), 0, 1)
    return np.linalg.norm(P - (A + s[..., None] * AB), axis=-1)


def _point_triangle(P, A, B, C):
    """Exact distance from points P to triangles ABC (broadcast over leading axes)."""
    AB, AC = B - A, C - A
    n = np.cross(AB, AC)
    nn = np.einsum("...i,...i", n, n)
    AP = P - A
    # barycentric of the projection
    d00, d01, d11 = (np.einsum("...i,...i", AB, AB), np.einsum("...i,...i", AB, AC), np.einsum("...i,...i", AC, AC))
    d20, d21 = np.einsum("...i,...i", AP, AB), np.einsum("...i,...i", AP, AC)
    den = d00 * d11 - d01 * d01
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    inside = (v >= 0) & (w >= 0) & (v + w <= 1)
    dplane = np.abs(np.einsum("...i,...i", AP, n)) / np.sqrt(nn)
    dedge = np.minimum(np.minimum(_point_segment(P, A, B), _point_segment(P, B, C)), _point_segment(P, C, A))
    return np.where(inside, dplane, dedge)


def coating_thickness(tm: TaggedMesh) -> dict | None:
    """Measured thickness of a resolved coating shell (see module docstring), or None."""
    if not tm.has("coating") or not tm.has("coating_electrolyte"):
        return None
    from scipy.spatial import cKDTree

    comm = tm.mesh.comm
    inner = [n for n in INNER if n in tm.groups]
    Xi = facet_coords(tm.mesh, np.concatenate([_group_entities(tm, n) for n in inner]))
    Xi = np.concatenate(comm.allgather(Xi))
    Xo = facet_coords(tm.mesh, _group_entities(tm, "coating_electrolyte"))
    P = Xo.mean(axis=1)
    w = facet_measures(Xo)
    if len(P):
        k = min(12, len(Xi))
        _, idx = cKDTree(Xi.mean(axis=1)).query(P, k=k)
        idx = idx.reshape(len(P), k)
        T = Xi[idx]  # (n, k, d, g)
        Pk = np.repeat(P[:, None, :], k, axis=1)
        if T.shape[2] == 2:
            dist = _point_segment(Pk, T[:, :, 0], T[:, :, 1])
        else:
            dist = _point_triangle(Pk, T[:, :, 0], T[:, :, 1], T[:, :, 2])
        d = dist.min(axis=1)
        lo, hi, s, sw = d.min(), d.max(), (d * w).sum(), w.sum()
    else:
        lo, hi, s, sw = np.inf, -np.inf, 0.0, 0.0
    lo = comm.allreduce(float(lo), op=MPI.MIN)
    hi = comm.allreduce(float(hi), op=MPI.MAX)
    s, sw = _sum(comm, s), _sum(comm, sw)
    areas, vols = group_measures(tm)
    return {"min": lo, "mean": s / sw, "max": hi,
            "volume_over_area": vols.get("coating", 0.0) / areas["coating_electrolyte"],
            "method": "distance from coating_electrolyte facet midpoints to the nearest inner-interface facet"}


def host_layer_top(tm: TaggedMesh, p: dict) -> float | None:
    kind = p.get("kind")
    if kind == "pillars":
        return float(p["pillar_height"])
    if kind in ("fibers", "foam"):
        return float(p["host_thickness"])
    return None


def geometry_report(tm: TaggedMesh, p: dict, mesh_s: float | None = None) -> dict:
    """Porosity, specific surface, areas, volumes, coating thickness, cell count and quality (SI)."""
    mesh = tm.mesh
    comm = mesh.comm
    areas, vols = group_measures(tm)
    rep = {"kind": p.get("kind"), "dim": tm.dim}
    H = host_layer_top(tm, p)
    if H is not None:
        z = _cell_coords(mesh, np.arange(_owned_cells(mesh)))[:, :, -1]
        V = simplex_volumes(_cell_coords(mesh, np.arange(_owned_cells(mesh)))) * fraction_below(z, H)
        below = {}
        for name in ("electrolyte", "coating", "host"):
            if name in tm.groups:
                c = _group_entities(tm, name)
                below[name] = _sum(comm, V[c].sum())
            else:
                below[name] = 0.0
        # layer volume: cells above the collector top (z >= 0) and below H
        zc = z.mean(axis=1)
        V_layer = _sum(comm, V[zc > 0].sum())
        rep["host_layer_m"] = [0.0, H]
        rep["porosity"] = below["electrolyte"] / V_layer
        rep["host_volume_fraction"] = below["host"] / V_layer
        host_area = areas.get("host_coating", 0.0) + areas.get("host_electrolyte", 0.0)
        rep["specific_surface_area_1_m"] = host_area / V_layer
    else:
        rep["porosity"] = rep["host_volume_fraction"] = rep["specific_surface_area_1_m"] = None
    rep["interface_areas_m2"] = areas
    rep["volumes_m3"] = vols
    rep["coating_thickness_m"] = coating_thickness(tm)
    rep["cells"] = int(comm.allreduce(_owned_cells(mesh), op=MPI.SUM))
    rep["vertices"] = int(mesh.geometry.index_map().size_global)
    rep["min_quality"] = min_quality(mesh)
    rep["mesh_s"] = mesh_s
    return rep


def write_mesh(tm: TaggedMesh, directory, report: dict | None = None) -> Path:
    """Write ``mesh.xdmf`` (mesh + cell and facet tags, parallel) and ``geometry.json`` (rank 0)."""
    directory = Path(directory)
    comm = tm.mesh.comm
    if comm.rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    write_tagged_xdmf(tm, directory / "mesh.xdmf")
    if comm.rank == 0:
        doc = {"groups": {k: list(v) for k, v in tm.groups.items()}, "info": tm.info, "report": report}
        tmp = directory / f".geometry.json.{os.getpid()}"
        tmp.write_text(json.dumps(doc, indent=2, default=float))
        tmp.replace(directory / "geometry.json")
    comm.barrier()
    return directory / "mesh.xdmf"
