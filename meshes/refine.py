"""Fine fibre-host meshes fast: a coarse conforming Gmsh mesh refined in parallel by DOLFINx, with the
new surface vertices placed on the analytic fibre surfaces (issue 12, item 3).

Gmsh meshes a 3D host on one rank at ~1e4-1e5 tetrahedra per second; uniform refinement
(:func:`refine_uniform`) runs on every rank and multiplies the cells by 8 per level. Each
refinement puts the new vertex of a surface edge on the chord of the coarse polygonal surface, so it
inherits the coarse geometric error; :func:`refine_snapped` therefore moves every vertex of a fibre
surface group (``host_electrolyte``/``host_coating`` at radius r, ``coating_electrolyte`` at r + t for a
resolved film) radially onto the exact cylinder around the nearest fibre axis (the layout of
:mod:`licoat.meshes.fibers`, same seed, so identical on every rank). A vertex on a lateral face of the
cell moves within that face; a vertex whose move would exceed ``min(0.15 r, gap/2)`` (one not really on
that fibre, or on a cell edge) stays. Only the first-level move is O(h^2/8r): the cells next to the
surface deform by a fraction of their size and stay valid (the minimum quality is reported).

The refinement keeps every refined cell on its parent's rank and builds no ghost layer, like the
generated meshes (``GhostMode.none``). It is licoat's own (:func:`refine_uniform`, tested against
``dolfinx.mesh.refine`` entity by entity and by a manufactured solution) because DOLFINx's, even
without redistribution (``partitioner=None``), builds a dual graph, reorders the cells and renumbers
the vertices of the refined mesh: on the 1 M-DOF fibre host (2 ranks) the two levels took 12.2 s
there and 4.2 s here, the whole mesh step 24.5 -> 10.4 s. (With DOLFINx 0.11's default identity
partitioner, which rebuilds a ghost layer, ``entities_to_geometry`` on the refined mesh returned
out-of-range nodes on 2 ranks.)

Measured (``benchmarks/refine_fibers.py``, ``benchmarks/results/refine_fibers.json``; cases/fibers.toml
host, 2 ranks on 2 shared cores under load ~9): Gmsh at (1.2, 0.3) um, 237,948 cells in 113 s, then
refine + snap to 1,903,584 cells in 20 s (134 s total) against 711 s for Gmsh directly at (0.6, 0.15)
um (1,074,730 cells): 5.3x faster for 1.8x the cells; porosity and specific surface area differ from
the direct mesh by 0.03 % and 0.06 %; minimum quality 0.049 (direct 0.20: Plaza refinement of
tetrahedra lowers the worst shape; snapping moves vertices by < 0.15 r). Gmsh on the coarse mesh is
now the bottleneck at one level; two levels (``geometry.refine_levels = 2``: Gmsh at (2.4, 0.6) um, 52,800
cells in 3.2 s, refine + snap in 10.4 s) give 3,379,200 cells in 13.6 s on 2 ranks, porosity and specific
surface area within 0.02 % and 0.04 % of the direct (0.6, 0.15) um mesh, minimum quality 0.021. Solved on
both (``--solve``, refined from (2, 0.5) um vs direct (1, 0.25) um): cell voltage 0.04 %, plating cv 0.1 %,
max/mean 0.01 % apart.

Tags go to the children (cells) and the child facets (facets), so every group keeps its name;
``info`` gains ``refinement_levels`` and ``snapped_vertices``. The figures above were measured with
``dolfinx.mesh.refine``; with :func:`refine_uniform` (same benchmark): one level on 1 rank, refine + snap
5.0 s instead of 20.6 s, minimum quality 0.167 instead of 0.049 (the red refinement keeps the shapes),
the solved cell voltage, plating cv and max/mean 0.008 %, 0.7 % and 0.04 % from the direct mesh's; two
levels on 2 ranks, 3.4 M cells in 7.6 s (Gmsh 3.5 s), porosity and specific surface area within 0.003 %
and 0.004 % of the direct mesh, minimum quality 0.017.
"""

from __future__ import annotations

import numpy as np

from licoat import import_stack

import_stack()
import basix  # noqa: E402
from mpi4py import MPI  # noqa: E402

import dolfinx.mesh  # noqa: E402

from licoat.meshes import fibers  # noqa: E402
from licoat.meshes.common import GeometryError, TaggedMesh, mesh_from_local_numbering  # noqa: E402


def _axes(p: dict, fibres) -> list[tuple]:
    """Each fibre as (in-plane unit normal n, offset s, period P, height z) with the in-plane distance
    of a point X to the axis = the nearest of (X . n - s) mod P (SI)."""
    W, D = p["width"], p.get("depth", p["width"])
    out = []
    for f in fibres:
        if f[0] == "y":  # aligned along y at (x, z); periodic copies x +- W
            out.append((np.array([1.0, 0.0]), f[1], W, f[2]))
            continue
        a, b, s, z = f
        v = np.array([a * W, b * D])
        lv = float(np.linalg.norm(v))
        out.append((np.array([-v[1], v[0]]) / lv, s, W * D / lv, z))
    return out


def _radial(X: np.ndarray, axes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For points X (n, 3): index of the nearest fibre axis, signed in-plane and vertical offsets to it,
    and the radial distance."""
    best = np.full(len(X), np.inf)
    idx = np.zeros(len(X), dtype=np.int64)
    dp_best = np.zeros(len(X))
    dz_best = np.zeros(len(X))
    for k, (n, s, P, z) in enumerate(axes):
        m = (X[:, :2] @ n - s) % P
        dp = np.where(m > P / 2, m - P, m)
        dz = X[:, 2] - z
        rad = np.hypot(dp, dz)
        closer = rad < best
        best[closer], idx[closer], dp_best[closer], dz_best[closer] = rad[closer], k, dp[closer], dz[closer]
    return idx, dp_best, dz_best, best


def snap_to_fibres(tm: TaggedMesh, p: dict, fibres=None) -> int:
    """Move the vertices of the fibre surface groups of ``tm`` onto the exact fibre cylinders (in place).

    Returns the number of vertices moved on this rank (owned and ghost nodes alike, consistently:
    the move depends only on the coordinates)."""
    mesh = tm.mesh
    tdim, fdim = mesh.topology.dim, mesh.topology.dim - 1
    if tdim != 3:
        raise ValueError("snap_to_fibres: 3D fibre hosts only")
    fibres = fibres if fibres is not None else fibers.layout(p)
    axes = _axes(p, fibres)
    r = p["fiber_diameter"] / 2
    t = p.get("coating_thickness", 0.0) if p.get("coating_model", "resolved") == "resolved" else 0.0
    tol = min(0.15 * r, 0.5 * fibers.min_gap(p))
    W, D = p["width"], p.get("depth", p["width"])
    x = mesh.geometry.x
    eps = 1e-9 * max(W, D)
    # vertex -> geometry node (P1 geometry: the cell's vertices and nodes come in the same order)
    mesh.topology.create_connectivity(tdim, 0)
    mesh.topology.create_connectivity(fdim, 0)
    c2v = mesh.topology.connectivity(tdim, 0).array
    v2n = np.full(c2v.max() + 1 if c2v.size else 0, -1, dtype=np.int64)
    v2n[c2v] = mesh.geometry.dofmaps[0].ravel()
    f2v = mesh.topology.connectivity(fdim, 0)
    moved = 0
    for group, R in (("host_electrolyte", r), ("host_coating", r), ("coating_electrolyte", r + t)):
        if group not in tm.groups:
            continue
        facets = tm.facets(group)
        if facets.size == 0:
            continue
        verts = np.concatenate([f2v.links(f) for f in facets])
        nodes = np.unique(v2n[verts])
        nodes = nodes[nodes >= 0]
        X = x[nodes]
        k, dp, dz, rad = _radial(X, axes)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = R / rad
        new = X.copy()
        n_vec = np.array([axes[i][0] for i in k]).reshape(-1, 2)
        new[:, :2] += ((scale - 1.0) * dp)[:, None] * n_vec
        new[:, 2] += (scale - 1.0) * dz
        # vertices on a lateral face move within it: vertical move only (dp kept)
        on_x = (np.abs(X[:, 0]) < eps) | (np.abs(X[:, 0] - W) < eps)
        on_y = (np.abs(X[:, 1]) < eps) | (np.abs(X[:, 1] - D) < eps)
        face = on_x | on_y
        # but an aligned fibre's axis is normal to y = 0, D: the radial move already stays in that face
        aligned = np.array([abs(axes[i][0][1]) < 1e-12 for i in k]) if len(k) else np.zeros(0, bool)
        vertical = face & ~(on_y & ~on_x & aligned)
        z_axis = np.array([axes[i][3] for i in k]) if len(k) else np.zeros(0)
        zv = z_axis + np.sign(dz) * np.sqrt(np.maximum(R * R - dp * dp, 0.0))
        new[vertical, :2] = X[vertical, :2]
        new[vertical, 2] = zv[vertical]
        step = np.linalg.norm(new - X, axis=1)
        ok = np.isfinite(new).all(axis=1) & (step < tol) & ~(on_x & on_y) & (np.abs(rad - R) < tol)
        x[nodes[ok]] = new[ok]
        moved += int(np.count_nonzero(ok & (step > 0)))
    return moved


SNAPPED_ORIENTATIONS = ("aligned", "random-in-plane")


def refinable(p) -> str | None:
    """None if the mesh of geometry ``p`` can be refined with its surfaces kept exact, else why not.

    Fibre hosts in 3D (aligned or random-in-plane: their surfaces are snapped onto the cylinders)
    and planar cells (every interface is flat, so midpoint refinement is exact) qualify."""
    kind, dim = p.get("kind"), int(p.get("dim"))
    if kind == "planar":
        return None
    if kind == "fibers" and dim == 3 and p.get("orientation", "aligned") in SNAPPED_ORIENTATIONS:
        return None
    return (f"kind = '{kind}' (dim {dim}, orientation '{p.get('orientation')}'): refinement that keeps the surfaces "
            "exact is available for 'planar' cells and 3D 'fibers' hosts (aligned or random-in-plane)")


def _check_not_inverted(mesh, x_before: np.ndarray, p: dict, levels: int, level: int):
    """GeometryError (exit 2) when snapping the surface vertices onto the cylinders (``x_before``: the nodes
    before) turned cells inside out or flat: the coarse mesh under-resolves the fibres (its facets lie too far
    inside the cylinders for the refined cells next to them to take the move). Only the owned cells with a
    moved node are looked at."""
    x = mesh.geometry.x
    moved = np.any(x != x_before, axis=1)
    dm = mesh.geometry.dofmaps[0][: mesh.topology.index_map(3).size_local]
    dm = dm[moved[dm].any(axis=1)]

    def vol6(X):  # 6x the signed volumes
        return np.linalg.det(X[:, 1:, :] - X[:, :1, :])

    before, after = vol6(x_before[dm]), vol6(x[dm])
    bad = np.count_nonzero((np.sign(after) != np.sign(before)) | (np.abs(after) <= 1e-6 * np.abs(before)))
    bad = mesh.comm.allreduce(int(bad), op=MPI.SUM)
    if bad:
        h = p.get("interface_mesh_size", p.get("mesh_size"))
        raise GeometryError(
            f"geometry.refine_levels = {levels}: snapping the fibre surfaces onto the cylinders at level {level} "
            f"inverted or flattened {bad} cells: the coarse mesh (interface size {h * 1e6:.3g} um for "
            f"fibres of diameter {p['fiber_diameter'] * 1e6:.3g} um) is too coarse for the fibres; use fewer levels "
            "or smaller mesh sizes")


def refine_snapped(tm: TaggedMesh, p: dict, levels: int = 1, snap: bool = True) -> TaggedMesh:
    """Refine the mesh ``tm`` ``levels`` times (8x cells each in 3D, 4x in 2D, in parallel, no
    redistribution) and snap the fibre surfaces after each level (``snap=False``: plain refinement,
    for comparison; planar cells need no snapping). ``p``: the geometry the coarse mesh was built from."""
    why = refinable(p)
    if why:
        raise ValueError(f"refine_snapped: {why}")
    if levels < 0:
        raise ValueError(f"levels = {levels} must be >= 0")
    snap = snap and p.get("kind") == "fibers"
    fibres = fibers.layout(p) if snap else None
    moved = 0
    for level in range(1, levels + 1):
        tm = refine_uniform(tm)
        new = tm.mesh
        if snap:
            x_before = new.geometry.x.copy()
            moved += snap_to_fibres(tm, p, fibres)
            _check_not_inverted(new, x_before, p, levels, level)
    total = tm.mesh.comm.allreduce(moved, op=MPI.SUM)
    tm.info.update(refinement_levels=int(tm.info.get("refinement_levels", 0)) + levels, snapped_vertices=total)
    return tm



# ---------------------------------------------------------------- uniform refinement
# Children of a simplex in terms of its points: its vertices 0..d, then its edge midpoints in the
# reference cell's edge order (basix: triangle [12, 02, 01]; tetrahedron [23, 13, 12, 03, 02, 01]).
_TRIANGLE = np.array([[0, 5, 4], [5, 1, 3], [4, 3, 2], [5, 3, 4]])
_m23, _m13, _m12, _m03, _m02, _m01 = range(4, 10)
_CORNERS = np.array([[0, _m01, _m02, _m03], [_m01, 1, _m12, _m13], [_m02, _m12, 2, _m23], [_m03, _m13, _m23, 3]])
# the inner octahedron split along one of its three diagonals (a, b) around the ring c1..c4
_DIAGONALS = np.array([[_m02, _m13], [_m01, _m23], [_m03, _m12]])
_RINGS = np.array([[_m01, _m03, _m23, _m12], [_m02, _m03, _m13, _m12], [_m01, _m02, _m23, _m13]])
_OCTAHEDRA = np.array([[[a, b, r[i], r[(i + 1) % 4]] for i in range(4)] for (a, b), r in zip(_DIAGONALS, _RINGS)])


def refine_uniform(tm: TaggedMesh) -> TaggedMesh:
    """Uniform refinement of an affine simplex mesh without ghost cells: every edge split at its
    midpoint, each triangle into 4, each tetrahedron into 8 (its 4 corners and the inner octahedron
    split along its shortest diagonal; Bey 1995, Zhang 1995).
    Every child stays on its parent's rank, after its siblings in the parent's order; cell tags go
    to the children, facet tags to the child facets.

    The same vertices, edges and facets as ``dolfinx.mesh.refine`` (uniform, no redistribution),
    whose Plaza (longest-edge bisection) pattern splits the cells differently, built without what
    makes that call slow on large meshes (a dual graph, a cell reordering and a vertex numbering of
    the new mesh: 536 k -> 4.3 M tetrahedra 11 s on 2 ranks): the new vertices are the old vertices and the edges, whose index maps already
    number them across the ranks, so the topology is constructed directly."""
    mesh = tm.mesh
    comm, top, tdim = mesh.comm, mesh.topology, mesh.topology.dim
    cell_type = top.cell_type
    ghost_cells = comm.allreduce(top.index_map(tdim).num_ghosts, op=MPI.SUM)
    if cell_type not in (dolfinx.mesh.CellType.triangle, dolfinx.mesh.CellType.tetrahedron) \
            or mesh.geometry.cmaps[0].degree != 1 or ghost_cells:
        raise ValueError("refine_uniform: affine triangles or tetrahedra without ghost cells only")
    top.create_entities(1)
    top.create_entities(tdim - 1)
    top.create_connectivity(tdim - 1, tdim)
    edges = np.array(basix.topology(basix.CellType[cell_type.name])[1])
    nvc, ncells = tdim + 1, top.index_map(tdim).size_local
    c2v = top.connectivity(tdim, 0).array.reshape(ncells, nvc)
    c2e = top.connectivity(tdim, 1).array.reshape(ncells, len(edges))
    vmap, emap = top.index_map(0), top.index_map(1)
    nv, ne, gv, ge = vmap.size_local, emap.size_local, vmap.num_ghosts, emap.num_ghosts
    owned = nv + ne  # new owned vertices: the owned vertices, then the owned edges' midpoints
    offset = comm.exscan(owned) or 0
    # (new offset, first old vertex, owned vertices, first edge) of every rank: the ghosts' new numbers
    ranks = np.array(comm.allgather((offset, vmap.local_range[0], nv, emap.local_range[0])), dtype=np.int64)
    vo, eo = np.asarray(vmap.owners), np.asarray(emap.owners)
    ghosts = np.concatenate([ranks[vo, 0] + np.asarray(vmap.ghosts) - ranks[vo, 1],
                             ranks[eo, 0] + ranks[eo, 2] + np.asarray(emap.ghosts) - ranks[eo, 3]]).astype(np.int64)
    # old local vertex / edge -> new local vertex: owned vertices, owned edges, ghost vertices, ghost edges
    vnew = np.concatenate([np.arange(nv), owned + np.arange(gv)])
    enew = np.concatenate([nv + np.arange(ne), owned + gv + np.arange(ge)])
    pts = np.concatenate([vnew[c2v], enew[c2e]], axis=1)  # (cells, points) in the new local numbering
    gdim = mesh.geometry.dim
    X = np.empty((owned + gv + ge, 3))
    X[pts[:, :nvc].ravel()] = mesh.geometry.x[mesh.geometry.dofmaps[0][:ncells].ravel()]
    X[pts[:, nvc:].ravel()] = (0.5 * (X[pts[:, edges[:, 0]]] + X[pts[:, edges[:, 1]]])).reshape(-1, 3)
    if tdim == 2:
        children = pts[:, _TRIANGLE]
    else:
        # the inner octahedron split along its shortest diagonal (Zhang 1995: the children's shape
        # stays bounded under repeated refinement)
        diag = np.linalg.norm(X[pts[:, _DIAGONALS[:, 0]]] - X[pts[:, _DIAGONALS[:, 1]]], axis=2)
        inner = pts[np.arange(ncells)[:, None, None], _OCTAHEDRA[np.argmin(diag, axis=1)]]
        children = np.concatenate([pts[:, _CORNERS], inner], axis=1)
    nch = children.shape[1]
    cells = np.ascontiguousarray(children.reshape(-1, nvc), dtype=np.int32)
    numbers = np.concatenate([offset + np.arange(owned), ghosts])  # new global number of each local vertex
    order = np.argsort(numbers)
    new = mesh_from_local_numbering(comm, cell_type, cells, owned, ghosts, np.concatenate([vo, eo]),
                                    (comm.exscan(len(cells)) or 0) + np.arange(len(cells)), numbers[order],
                                    numbers[cells], X[order, :gdim])
    new.topology.create_entities(tdim - 1)
    new.topology.create_connectivity(tdim - 1, tdim)

    # cell tags: every child its parent's value
    parent = np.full(ncells, -1, dtype=np.int32)
    own = tm.cell_tags.indices < ncells
    parent[tm.cell_tags.indices[own]] = tm.cell_tags.values[own]
    child = np.repeat(parent, nch)
    tagged = np.flatnonzero(child >= 0).astype(np.int32)
    cell_tags = dolfinx.mesh.meshtags(new, tdim, tagged, child[tagged])
    # facet tags: a tagged facet (through one of its cells c, as the facet opposite vertex k) covers the
    # child facets of c's children whose vertices all lie among its points (its vertices and midpoints)
    f2c = top.connectivity(tdim - 1, tdim)
    c2f = top.connectivity(tdim, tdim - 1).array.reshape(ncells, nvc)
    f = np.asarray(tm.facet_tags.indices)
    c = f2c.array[f2c.offsets[f]]
    k = np.argmax(c2f[c] == f[:, None], axis=1)
    on_facet = np.array([[j for j in range(nvc) if j != kk] + [nvc + e for e, ab in enumerate(edges) if kk not in ab]
                         for kk in range(nvc)])
    S = pts[c[:, None], on_facet[k]]  # (tagged, points on the facet)
    ch = children[c]  # (tagged, children, vertices)
    inside = (ch[..., None] == S[:, None, None, :]).any(axis=-1)
    covered = (inside.sum(axis=-1, keepdims=True) - inside) == nvc - 1  # the child facet opposite vertex j
    t, j, kk = np.nonzero(covered)
    new_c2f = new.topology.connectivity(tdim, tdim - 1).array.reshape(-1, nvc)
    facets, first_row = np.unique(new_c2f[c[t] * nch + j, kk], return_index=True)
    values = np.asarray(tm.facet_tags.values)[t[first_row]]
    facet_tags = dolfinx.mesh.meshtags(new, tdim - 1, facets.astype(np.int32), values.astype(np.int32))
    return TaggedMesh(new, cell_tags, facet_tags, dict(tm.groups), dict(tm.info))
