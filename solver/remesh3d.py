"""3D remeshing of a moving interface's mesh with MMG (mmg3d, through the ``mmgpy`` wheel) on rank 0.

Used by :func:`licoat.solver.remesh.remesh` for tetrahedral meshes (issue 9, item 2). The mesh gathered by
:func:`licoat.solver.remesh._gather` (canonical node and cell order, so that the result does not depend on
the partition) goes to mmg3d with cell references = region tags and boundary triangles (on the mesh's
boundary and between regions) with references = facet tags. mmg3d runs twice:

1. *surfaces kept*: every interface (the plating surface, the faces of resolved coating layers, any facet
   group that is not a flat outer side) is made of required triangles, kept node for node and triangle for
   triangle; the surface state then transfers exactly (P1 at the same nodes) and ∫q dS to round-off;
2. *bare plating surface remeshed*: as 1, but a plating surface under the electrolyte (no resolved layer on
   it) is remeshed too, within hausd of its current shape; its new nodes are then put on the current
   (piecewise-linear) surface, at their closest points (Ericson, Real-Time Collision Detection, 2005,
   §5.1.5), unless that lowers the smallest dihedral angle below 0.9 × mmg3d's or turns a cell over: mmg3d
   places them on a smooth interpolant of the surface, which would change the electrolyte's volume by
   ~hausd × area at every remesh.

Run 1 is taken when its smallest dihedral angle is at least 0.9 × that of run 2: the moving surface's own
triangles degrade as it moves (in a filling valley they shrink), and tetrahedra on them cannot be better.
In both, the flat outer sides (``top``, ``bottom``, ``left``, ``right``, ``front``, ``back``) are remeshed
on their planes (their edges with each other and with the interfaces are ridges), and the volume to the
initial mesh's sizes: an isotropic size map h_fine (the finest interface spacing) within h_fine/2 of the
interfaces growing linearly to ``h`` over 2h, as the generators and the 2D remesher grade; hmin =
0.3 h_fine, hmax = h, hausd = 0.1 h_fine, gradation 1.3. Resolved coating layers keep both faces (their
thin cells would not survive a remeshed face).

The result is written into a discrete Gmsh model (one volume entity per region, one surface entity per
facet group, the physical groups with their names and tags) and distributed by
:func:`licoat.meshes.common.to_dolfinx`, the path of the initial mesh and of the 2D remesher.

Why mmg3d and not Gmsh from the current surface: mmg3d remeshes a tetrahedral mesh as it is, keeps required
surfaces exactly and regenerates the free ones on their planes and ridges, without a CAD model rebuilt from
the discrete surface (Gmsh would need classifySurfaces + createGeometry, fragile at thin coating layers
and at the ridges of the cell's box).
"""

from __future__ import annotations

import numpy as np

from licoat.meshes.common import GMSH_UNIT

FLAT_SIDES = ("top", "bottom", "left", "right", "front", "back")
HMIN, HAUSD, HGRAD = 0.3, 0.1, 1.3  # x the finest interface spacing (hmin, hausd); size gradation
KEEP = 0.9  # the surfaces are kept node for node when the smallest dihedral angle is >= 0.9 x that with it remeshed


class _Error(RuntimeError):
    pass


def _boundary_faces(C: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Sorted node triples of the faces that bound a region (on the mesh boundary or between two regions)."""
    faces = np.concatenate([C[:, [1, 2, 3]], C[:, [0, 2, 3]], C[:, [0, 1, 3]], C[:, [0, 1, 2]]])
    reg = np.tile(T, 4)
    faces = np.sort(faces, axis=1)
    uniq, inv, count = np.unique(faces, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    r_min = np.full(len(uniq), np.iinfo(np.int64).max)
    r_max = np.full(len(uniq), np.iinfo(np.int64).min)
    np.minimum.at(r_min, inv, reg)
    np.maximum.at(r_max, inv, reg)
    return uniq[(count == 1) | (r_min != r_max)]


def _planar(P: np.ndarray) -> bool:
    """The points lie on one plane (to 1e-9 of their extent)."""
    c = P - P.mean(axis=0)
    ext = float(np.abs(c).max()) or 1.0
    return bool(np.linalg.svd(c / ext, compute_uv=False)[-1] <= 1e-9 * np.sqrt(len(P)))


def size_map(X: np.ndarray, surface_nodes: np.ndarray, h_fine: float, h: float) -> np.ndarray:
    """Isotropic target size at the nodes: h_fine within h_fine/2 of the interfaces, growing linearly to h over 2h."""
    from scipy.spatial import cKDTree

    if not len(surface_nodes) or h_fine >= h:
        return np.full(len(X), h)
    dist, _ = cKDTree(X[surface_nodes]).query(X)
    s = np.clip((dist - 0.5 * h_fine) / (2.0 * h), 0.0, 1.0)
    return h_fine + (h - h_fine) * s


def closest_points(P: np.ndarray, tri: np.ndarray, k: int = 12):
    """The closest point to each row of ``P`` on the triangles ``tri`` ((m, 3, 3) corners), and the index of its
    triangle: among the k triangles with the nearest centroids, by the region tests of Ericson, Real-Time
    Collision Detection (2005), §5.1.5."""
    from scipy.spatial import cKDTree

    k = min(k, len(tri))
    _, cand = cKDTree(tri.mean(axis=1)).query(P, k=k)
    cand = cand.reshape(len(P), k)
    best = np.full(P.shape, np.nan)
    which = np.zeros(len(P), np.int64)
    dbest = np.full(len(P), np.inf)
    for j in range(k):
        a, b, c = (tri[cand[:, j], i] for i in range(3))
        q = _closest_on_triangle(P, a, b, c)
        dist = np.linalg.norm(q - P, axis=1)
        better = dist < dbest
        best[better], dbest[better], which[better] = q[better], dist[better], cand[better, j]
    return best, which


def barycentric(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (n, 3) of the points ``p`` (n, 3) in their triangles ``tri`` (n, 3, 3)."""
    v0, v1, v2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], p - tri[:, 0]
    dot = lambda u, v: np.einsum("ij,ij->i", u, v)  # noqa: E731
    d00, d01, d11, d20, d21 = dot(v0, v0), dot(v0, v1), dot(v1, v1), dot(v2, v0), dot(v2, v1)
    den = d00 * d11 - d01 * d01
    den = np.where(den != 0, den, 1.0)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    lam = np.clip(np.stack([1.0 - v - w, v, w], axis=1), 0.0, 1.0)
    return lam / lam.sum(axis=1)[:, None]


def _closest_on_triangle(p, a, b, c):
    dot = lambda u, v: np.einsum("ij,ij->i", u, v)  # noqa: E731
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = dot(ab, ap), dot(ac, ap)
    bp, cp = p - b, p - c
    d3, d4, d5, d6 = dot(ab, bp), dot(ac, bp), dot(ab, cp), dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    den = np.where(va + vb + vc != 0, va + vb + vc, 1.0)
    v, w = vb / den, vc / den
    out = a + ab * v[:, None] + ac * w[:, None]  # inside the face
    safe = lambda x, y: x / np.where(y != 0, y, 1.0)  # noqa: E731
    # edges (bc, ac, ab), then vertices (c, b, a): later assignments take precedence
    m = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
    t = safe(d4 - d3, (d4 - d3) + (d5 - d6))
    out[m] = (b + (c - b) * t[:, None])[m]
    m = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    t = safe(d2, d2 - d6)
    out[m] = (a + ac * t[:, None])[m]
    m = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    t = safe(d1, d1 - d3)
    out[m] = (a + ab * t[:, None])[m]
    out[(d6 >= 0) & (d5 <= d6)] = c[(d6 >= 0) & (d5 <= d6)]
    out[(d3 >= 0) & (d4 <= d3)] = b[(d3 >= 0) & (d4 <= d3)]
    out[(d1 <= 0) & (d2 <= 0)] = a[(d1 <= 0) & (d2 <= 0)]
    return out


def _mmg(X, C, T, faces, refs, required, sizes, h_fine, h):
    import mmgpy

    mesh = mmgpy.MmgMesh3D()
    mesh.set_mesh_size(vertices=len(X), tetrahedra=len(C), triangles=len(faces))
    mesh.set_vertices(np.ascontiguousarray(X))
    mesh.set_tetrahedra(np.ascontiguousarray(C, np.int32), refs=np.ascontiguousarray(T, np.int64))
    mesh.set_triangles(np.ascontiguousarray(faces, np.int32), refs=refs)
    if len(required):
        mesh.set_required_triangles(np.ascontiguousarray(required, np.int32))
    mesh["metric"] = sizes[:, None]
    try:
        mesh.remesh(hmin=HMIN * h_fine, hmax=h, hausd=HAUSD * h_fine, hgrad=HGRAD, verbose=-1)
    except Exception as exc:  # noqa: BLE001 - one message
        raise _Error(f"mmg3d failed: {exc}") from exc
    Xn = np.asarray(mesh.get_vertices(), float)
    tets, tref = mesh.get_elements_with_refs()
    tris, fref = mesh.get_triangles_with_refs()
    return Xn, np.asarray(tets, np.int64), np.asarray(tref, np.int64), np.asarray(tris, np.int64), np.asarray(fref)


def mmg_remesh(data, groups: dict, spacing: dict, h: float, movable=()):
    """mmg3d on the gathered mesh ``data`` (rank 0; module docstring). ``movable``: the facet groups (bare plating
    surfaces) that mmg3d may remesh when keeping them node for node does not raise the smallest dihedral angle.
    Returns ((X [µm], tets, tet refs, triangles, triangle refs), gap, remeshed): ``gap`` [m] the largest distance
    of a new surface node from the old surface (0 where the surfaces were kept or the new nodes projected onto
    the old surface), ``remeshed``: the plating surface was remeshed."""
    X, C, T, fmap, _ = data
    X = np.asarray(X, float) / GMSH_UNIT
    h = h / GMSH_UNIT
    name_of = {tag: n for n, (dd, tag) in groups.items() if dd == 2}
    if np.any(T < 0):
        raise _Error("a cell of the mesh carries no region tag")
    faces = _boundary_faces(C, T)
    refs = np.array([fmap.get(tuple(int(i) for i in f), -1) for f in faces], np.int64)
    if np.any(refs < 0):
        bad = X[faces[np.flatnonzero(refs < 0)[0]]].mean(axis=0)
        raise _Error(f"a boundary face at {bad} um carries no facet tag")
    flat = {tag for tag, name in name_of.items()
            if name in FLAT_SIDES and np.any(refs == tag) and _planar(X[np.unique(faces[refs == tag])])}
    interface = ~np.isin(refs, list(flat))  # every group but a flat outer side
    sp = [v / GMSH_UNIT for n, v in spacing.items() if n in groups and groups[n][0] == 2 and groups[n][1] not in flat]
    h_fine = min(sp) if sp else h
    sizes = size_map(X, np.unique(faces[interface]), h_fine, h)
    kept = _mmg(X, C, T, faces, refs, np.flatnonzero(interface), sizes, h_fine, h)
    moving = np.isin(refs, [groups[n][1] for n in movable if n in groups])
    if not moving.any():
        return _tagged(kept, name_of), 0.0, False
    # the bare plating surface remeshed too: better tetrahedra where its own triangles have degraded
    out = _mmg(X, C, T, faces, refs, np.flatnonzero(interface & ~moving), sizes, h_fine, h)
    quality = [float(min_dihedral_deg(m[0][m[1]]).min(initial=180.0)) for m in (kept, out)]
    if quality[0] >= KEEP * quality[1]:  # nearly as good with the surface kept node for node: keep it
        return _tagged(kept, name_of), 0.0, False
    Xn, tets, _, tris, fref = out
    on = np.unique(tris[np.isin(fref, np.unique(refs[moving]))])
    feet, _ = closest_points(Xn[on], X[faces[moving]])
    # the new surface nodes onto the old (piecewise linear) surface: mmg3d puts them on a smooth interpolant
    # of it, which would change the electrolyte's volume by ~hausd x area at every remesh; kept unless that
    # spoils the tetrahedra
    Xp = Xn.copy()
    Xp[on] = feet
    if float(min_dihedral_deg(Xp[tets]).min(initial=180.0)) >= KEEP * quality[1] and \
            np.all(np.sign(_volumes(Xp[tets])) == np.sign(_volumes(Xn[tets]))):
        return _tagged((Xp,) + out[1:], name_of), 0.0, True
    return _tagged(out, name_of), float(np.linalg.norm(Xn[on] - feet, axis=1).max()) * GMSH_UNIT, True


def _volumes(p):
    return np.linalg.det(p[:, 1:] - p[:, :1]) / 6.0


def _tagged(out, name_of):
    Xn, tets, tref, tris, fref = out
    keep = np.isin(fref, list(name_of))  # triangles at no tagged group (none expected) are dropped
    return Xn, tets, tref, tris[keep], fref[keep]


def build_model(gmsh, mesh, groups: dict) -> dict:
    """The mmg3d mesh as a discrete Gmsh model (micrometres): one volume per region, one surface per facet group."""
    X, tets, tref, tris, fref = mesh
    cname = {tag: n for n, (dd, tag) in groups.items() if dd == 3}
    fname = {tag: n for n, (dd, tag) in groups.items() if dd == 2}
    model = gmsh.model
    regions = sorted(int(r) for r in np.unique(tref))
    for r in regions:
        model.addDiscreteEntity(3, r)
    node_tags = np.arange(1, len(X) + 1)
    model.mesh.addNodes(3, regions[0], node_tags, X.ravel())
    next_el = 1
    for r in regions:
        el = tets[tref == r] + 1
        model.mesh.addElementsByType(r, 4, np.arange(next_el, next_el + len(el)), el.ravel())
        next_el += len(el)
        model.addPhysicalGroup(3, [r], r, cname.get(r, f"region_{r}"))
    for t in sorted(int(v) for v in np.unique(fref)):
        model.addDiscreteEntity(2, t)
        el = tris[fref == t] + 1
        model.mesh.addElementsByType(t, 2, np.arange(next_el, next_el + len(el)), el.ravel())
        next_el += len(el)
        model.addPhysicalGroup(2, [t], t, fname.get(t, f"facets_{t}"))
    return {}


def min_dihedral_deg(p: np.ndarray) -> np.ndarray:
    """Smallest dihedral angle of each tetrahedron [degrees] (``p``: (n, 4, 3) node coordinates)."""
    best = np.full(len(p), 180.0)
    pairs = [(0, 1, 2, 3), (0, 2, 1, 3), (0, 3, 1, 2), (1, 2, 0, 3), (1, 3, 0, 2), (2, 3, 0, 1)]
    for a, b, c, d in pairs:  # the edge ab, between the faces abc and abd
        e = p[:, b] - p[:, a]
        e = e / np.linalg.norm(e, axis=1)[:, None]
        u = p[:, c] - p[:, a]
        v = p[:, d] - p[:, a]
        u -= np.einsum("ij,ij->i", u, e)[:, None] * e
        v -= np.einsum("ij,ij->i", v, e)[:, None] * e
        cos = np.einsum("ij,ij->i", u, v) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
        best = np.minimum(best, np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return best
