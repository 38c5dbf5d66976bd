"""Remeshing the moving interface's mesh (2D: Gmsh from its current boundary; 3D: mmg3d), and moving a problem
onto it.

Used by :class:`licoat.solver.moving_mesh.MovingInterface` when the moved mesh would lose quality (issue 9,
item 2). Tetrahedral meshes go to mmg3d (solver/remesh3d.py; same gather, same distribution path and tags,
the transfer below). Why Gmsh and not MMG (mmgpy) in 2D: Gmsh is already licoat's mesher, so the new mesh
is distributed by the same path as the initial one (``dolfinx.io.gmsh.model_to_mesh`` from rank 0, physical
groups as tags), and the plating surface can be kept node for node (each of its edges a two-node transfinite
curve): the surface state (q, θ, X) then transfers exactly where no node is removed, and the volume mesh,
where the motion piles up, is regenerated. Where nodes are removed, ∫q dS is restored by rescaling q (solver/moving_mesh.py), a global and
not a local conservation (the correction is reported).

:func:`remesh` (collective; 2D meshes of triangles)
    The problem's mesh (the ionic submesh: electrolyte and resolved coating layers) is gathered on rank 0 in
    a canonical order (nodes sorted by their coordinates, rounded to 1e-12 of the extent; facet edits in a
    sorted order), so that the new mesh does not depend on the partition. Every region's boundary is one
    closed polygon of tagged edges. The interface curves (the plating surface, the faces of resolved
    layers) keep their nodes and edges, except that an edge shorter than 0.3 × the curve's initial spacing,
    or a node where the curve turns sharper than 100° (a valley the deposit closes, or a tip), loses a node,
    and an edge longer than 2.5 × the spacing is split into equal pieces (exact for P1 fields); the straight
    outer sides (``top``, ``left``, ``right``, ``bottom``) become one line from corner to corner that Gmsh
    meshes anew. Each region (electrolyte, and each coating layer as the thin strip between its two faces) is
    meshed by Gmsh (frontal-Delaunay) with the initial mesh's sizes: the interface spacing at the interfaces
    growing to ``h`` over 2h, as the generators do; shared curves are shared Gmsh lines, regions are
    counter-clockwise (positive cells). Cell regions and facet groups keep their names and tags, and the
    topology record (sides of every facet group) is the original one.

:func:`remesh` (3D meshes of tetrahedra)
    The same gather, then mmg3d on rank 0 (solver/remesh3d.py): the interfaces kept node for node, or the bare
    plating surface remeshed too (its new nodes on the old surface) where that gives clearly better cells.
    The fields then move by :func:`transfer`: surface fields by their trace on the old surface, gathered on
    every rank (no point location in the distributed old mesh: partition-independent), volume fields by
    non-matching interpolation.

:func:`rebuild` (collective)
    Re-creates the cell problem on the new mesh with the same component objects (their ``declare`` makes
    the new spaces; forms are recompiled or taken from the JIT cache) and transfers, with DOLFINx's
    non-matching interpolation (``create_interpolation_data`` + ``Function.interpolate_nonmatching``, in
    parallel), every unknown, the two BDF2 history levels of c and the surface state (q, θ, X and their
    start-of-step copies). Surface fields are then zeroed off the plating surface: there the interpolant
    of a surface field means nothing. Real (global) unknowns are copied; the components' constants (e.g. a
    control's hold state), the load and the time keep their values.
"""

from __future__ import annotations

import weakref

import numpy as np

from licoat import import_stack

import_stack()
import dolfinx  # noqa: E402
from dolfinx import fem  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.meshes.common import GMSH_UNIT, TaggedMesh, to_dolfinx  # noqa: E402

STRAIGHT = ("top", "bottom", "left", "right")


class RemeshError(RuntimeError):
    """The mesh cannot be regenerated (the message says why)."""


# ------------------------------------------------------------------------------------------ gather
def _gather(tm: TaggedMesh, q: fem.Function | None = None):
    """(node coordinates, cells, cell tags, {sorted facet nodes: tag}, nodal values of the P1 field ``q`` or None)
    of the whole mesh on rank 0 (else None)."""
    msh = tm.mesh
    d = msh.topology.dim
    comm = msh.comm
    n_own = msh.topology.index_map(d).size_local
    gmap = msh.geometry.index_map()
    n_nodes = gmap.size_local + gmap.num_ghosts
    glob = gmap.local_to_global(np.arange(n_nodes, dtype=np.int32))
    cells = glob[msh.geometry.dofmaps[0][:n_own]]
    ctag = np.full(n_own, -1, np.int32)
    own = tm.cell_tags.indices < n_own
    ctag[tm.cell_tags.indices[own]] = tm.cell_tags.values[own]
    msh.topology.create_connectivity(d - 1, d)
    fnodes = dolfinx.mesh.entities_to_geometry(msh, d - 1, tm.facet_tags.indices)
    facets = glob[fnodes] if len(fnodes) else np.zeros((0, d), np.int64)
    qn = np.zeros(n_nodes)
    if q is not None:  # P1: the dofs of a cell are its geometry nodes
        n_all = msh.topology.index_map(d).size_local + msh.topology.index_map(d).num_ghosts
        qn[msh.geometry.dofmaps[0][:n_all].ravel()] = q.x.array[q.function_space.dofmap.list[:n_all].ravel()]
    parts = comm.gather((glob, msh.geometry.x[:, :d].copy(), cells, ctag, facets, tm.facet_tags.values.copy(), qn),
                        root=0)
    if comm.rank != 0:
        return None
    gl = np.concatenate([p[0] for p in parts])
    xs = np.concatenate([p[1] for p in parts])
    ids, first = np.unique(gl, return_index=True)
    X = xs[first]
    Q = np.concatenate([p[6] for p in parts])[first]
    # canonical node order (by coordinates), so that the new mesh does not depend on the partition
    scale = float(np.abs(X).max()) or 1.0
    X = np.round(X / scale, 12) * scale  # round-off of the partition's solves out of Gmsh's input
    key = np.round(X / scale, 10)
    order = np.lexsort(key.T[::-1])
    X, Q = X[order], Q[order]
    rank_of = np.empty(len(order), np.int64)
    rank_of[order] = np.arange(len(order))
    renum = lambda a: rank_of[np.searchsorted(ids, a)]  # noqa: E731 - global node id -> row of X
    C = renum(np.concatenate([p[2] for p in parts]))
    T = np.concatenate([p[3] for p in parts])
    corder = np.lexsort(np.sort(C, axis=1).T[::-1])
    C, T = C[corder], T[corder]
    fmap = {}
    for p in parts:
        for f, v in zip(renum(p[4]), p[5]):
            fmap[tuple(sorted(int(i) for i in f))] = int(v)
    return X, C, T, dict(sorted(fmap.items())), Q  # sorted: the edits do not depend on the partition either


# ------------------------------------------------------------------------------------------ 2D remesh
def _loop(tri: np.ndarray) -> list[int]:
    """The boundary of a set of triangles as one closed node loop (RemeshError if it is not one loop)."""
    edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    uniq, count = np.unique(edges, axis=0, return_counts=True)
    bnd = uniq[count == 1]
    nbr: dict[int, list[int]] = {}
    for a, b in bnd:
        nbr.setdefault(int(a), []).append(int(b))
        nbr.setdefault(int(b), []).append(int(a))
    if any(len(v) != 2 for v in nbr.values()):
        raise RemeshError("the electrolyte's boundary is not a simple closed curve (the surface touches itself)")
    start = int(bnd[0, 0])
    loop, prev, cur = [start], None, start
    while True:
        a, b = nbr[cur]
        nxt = a if a != prev else b
        if nxt == start:
            break
        loop.append(nxt)
        prev, cur = cur, nxt
    if len(loop) != len(nbr):
        raise RemeshError("the electrolyte's boundary has more than one closed curve")
    return loop


def _collinear(P: np.ndarray) -> bool:
    chord = P[-1] - P[0]
    L = np.linalg.norm(chord)
    if L == 0:
        return False
    rel = P - P[0]
    dev = np.abs(rel[:, 0] * chord[1] - rel[:, 1] * chord[0]) / L
    return bool(dev.max() <= 1e-9 * L)


def _edit_curves(X, fmap, spacing: dict, straight: set, Q=None, charged=()):
    """Collapse the short edges and split the long ones of the interface curves (every tagged curve that is not a
    straight outer side): an edge shorter than ``COLLAPSE`` × its curve's initial spacing loses one of its nodes
    (one whose two tagged edges both lie on that curve, so junctions and ends stay), and an edge longer than
    ``SPLIT`` × the spacing is cut into equal pieces. Returns (removed nodes, {edge: tag} of the edited curves,
    {edge: [inserted points]} with the points appended to X, {node: new q}).

    ``Q``: nodal values of the plated charge q on the curves with tags in ``charged``. A removed node's lumped
    charge q_j m_j (m_j = half its two edges) goes to its two neighbours, the nearer one getting more
    (weights |jb|, |ja| over |ja| + |jb|), whose q is set so that q'_a m'_a = q_a m_a + w_a q_j m_j with their
    new lumped measures: ∫q dS = Σ q_j m_j (exact for P1) is conserved curve by curve, except that no new q
    exceeds the largest of the three (no new extremes; the rest is restored by the global rescale)."""
    qnew: dict[int, float] = {}
    deg: dict[int, list] = {}
    for (a, b), tag in fmap.items():
        deg.setdefault(a, []).append(tag)
        deg.setdefault(b, []).append(tag)
    nb: dict[int, dict[int, list[int]]] = {}
    for (a, b), tag in fmap.items():
        if tag in straight:
            continue
        nb.setdefault(tag, {}).setdefault(a, []).append(b)
        nb[tag].setdefault(b, []).append(a)
    removed = set()

    def length(a, b):
        return float(np.linalg.norm(X[a] - X[b]))

    for tag, adj in nb.items():
        h = spacing.get(tag)
        if not h:
            continue
        changed = True
        while changed:
            changed = False
            for j in sorted(adj):
                if j in removed or len(adj[j]) != 2 or len(deg[j]) != 2 or deg[j][0] != deg[j][1]:
                    continue
                a, b = adj[j]
                ab = length(a, b)
                u, w = X[a] - X[j], X[b] - X[j]
                cos = float(np.dot(u, w) / max(np.linalg.norm(u) * np.linalg.norm(w), 1e-300))
                # a short edge, or a sharp corner (a valley the deposit closes, or a tip)
                if (min(length(j, a), length(j, b)) < COLLAPSE * h or cos > SHARP) and ab < SPLIT * h:
                    if Q is not None and tag in charged:
                        qv_of = lambda i: qnew.get(i, Q[i])  # noqa: E731
                        m_of = lambda i: 0.5 * sum(length(i, k) for k in adj[i])  # noqa: E731
                        ja, jb = length(j, a), length(j, b)
                        Qj = qv_of(j) * m_of(j)
                        cap = max(qv_of(a), qv_of(j), qv_of(b))  # no new extremes (what is left: the rescale)
                        upd = {}
                        for n, w, old in ((a, jb / (ja + jb), ja), (b, ja / (ja + jb), jb)):
                            m_old = m_of(n)
                            m_new = m_old - 0.5 * old + 0.5 * ab
                            upd[n] = min((qv_of(n) * m_old + w * Qj) / m_new, cap)
                        qnew.update(upd)
                    adj[a][adj[a].index(j)] = b
                    adj[b][adj[b].index(j)] = a
                    del adj[j]
                    removed.add(j)
                    changed = True
    edges, inserted, extra = {}, {}, []
    n = len(X)
    for tag, adj in nb.items():
        h = spacing.get(tag)
        for a, bs in adj.items():
            for b in bs:
                if a < b:
                    edges[(a, b)] = tag
                    L = length(a, b)
                    if h and L > SPLIT * h:
                        k = int(np.ceil(L / h))
                        pts = [X[a] + (X[b] - X[a]) * i / k for i in range(1, k)]
                        inserted[(a, b)] = list(range(n + len(extra), n + len(extra) + len(pts)))
                        extra.extend(pts)
    X2 = np.vstack([X] + ([np.array(extra)] if extra else []))
    return removed, edges, inserted, X2, {i: v for i, v in qnew.items() if i not in removed}


COLLAPSE, SPLIT = 0.3, 2.5  # x the initial spacing of the interface curve
SHARP = np.cos(np.radians(100.0))  # a surface node whose edges meet at less than 100 degrees is removed


def _build_2d(gmsh, data, groups: dict, interfaces: set, spacing: dict, h: float, charged=()):
    """The Gmsh model (micrometres) of every region remeshed from its edited boundary (module docstring).
    Returns {"q_corrections": [(x, y, q), ...]}: the new q at the kept neighbours of removed nodes (metres)."""
    X, C, T, fmap, Q = data
    X = X / GMSH_UNIT
    h = h / GMSH_UNIT
    name_of = {tag: n for n, (dd, tag) in groups.items() if dd == 1}
    cname = {tag: n for n, (dd, tag) in groups.items() if dd == 2}
    straight = {tag for tag, n in name_of.items() if n in STRAIGHT}
    sp = {groups[n][1]: v / GMSH_UNIT for n, v in spacing.items() if n in groups}
    if np.any(T < 0):
        raise RemeshError("a cell of the mesh carries no region tag")
    charged_tags = {groups[n][1] for n in charged if n in groups}
    removed, edited, inserted, X, qnew = _edit_curves(X, fmap, sp, straight, Q, charged_tags)
    geo = gmsh.model.geo
    point_of: dict[int, int] = {}

    def point(i):
        if i not in point_of:
            point_of[i] = geo.addPoint(X[i, 0], X[i, 1], 0.0, h)
        return point_of[i]

    line_of: dict[tuple, int] = {}
    lines_by_tag: dict[int, list[int]] = {}
    transfinite, surface_lines = [], []

    def line(a, b, tag, fixed):
        key = (min(a, b), max(a, b))
        if key not in line_of:
            line_of[key] = geo.addLine(point(key[0]), point(key[1]))
            lines_by_tag.setdefault(tag, []).append(line_of[key])
            if fixed:
                transfinite.append(line_of[key])
            if name_of.get(tag) in interfaces:
                surface_lines.append(line_of[key])
        return line_of[key] if a == key[0] else -line_of[key]

    surfaces = {}
    for region in np.unique(T):
        loop = [i for i in _loop(C[T == region]) if i not in removed]
        P = X[loop]
        if np.sum(P[:, 0] * np.roll(P[:, 1], -1) - np.roll(P[:, 0], -1) * P[:, 1]) < 0:
            loop = loop[::-1]  # counter-clockwise: positively oriented triangles, as in the initial mesh
        n = len(loop)
        tags = []
        for k in range(n):
            a, b = loop[k], loop[(k + 1) % n]
            key = (min(a, b), max(a, b))
            tag = edited.get(key, fmap.get(key))
            if tag is None:
                raise RemeshError(f"a boundary edge of region '{cname.get(int(region))}' at {X[a]} um carries no facet tag")
            tags.append(tag)
        change = [k for k in range(n) if tags[k] != tags[k - 1]]
        s0 = change[0] if change else 0
        loop, tags = loop[s0:] + loop[:s0], tags[s0:] + tags[:s0]
        curve, k = [], 0
        while k < n:
            j = k
            while j + 1 < n and tags[j + 1] == tags[k]:
                j += 1
            nodes = [loop[i % n] for i in range(k, j + 2)]
            tag = tags[k]
            if tag in straight and _collinear(X[nodes]):
                curve.append(line(nodes[0], nodes[-1], tag, False))
            else:
                for a, b in zip(nodes[:-1], nodes[1:]):
                    key = (min(a, b), max(a, b))
                    pts = inserted.get(key, [])
                    chain = [key[0]] + pts + [key[1]]
                    if a != key[0]:
                        chain = chain[::-1]
                    curve += [line(p, q, tag, True) for p, q in zip(chain[:-1], chain[1:])]
            k = j + 1
        surfaces[int(region)] = geo.addPlaneSurface([geo.addCurveLoop(curve)])
    geo.synchronize()
    for ln in transfinite:
        gmsh.model.mesh.setTransfiniteCurve(ln, 2)
    h_fine = min(sp.values()) if sp else h
    f = gmsh.model.mesh.field
    if surface_lines and h_fine < h:
        dist = f.add("Distance")
        f.setNumbers(dist, "CurvesList", surface_lines)
        f.setNumber(dist, "Sampling", 10)
        th = f.add("Threshold")
        f.setNumber(th, "InField", dist)
        f.setNumber(th, "SizeMin", h_fine)
        f.setNumber(th, "SizeMax", h)
        f.setNumber(th, "DistMin", 0.5 * h_fine)
        f.setNumber(th, "DistMax", 0.5 * h_fine + 2.0 * h)
        f.setAsBackgroundMesh(th)
    opt = gmsh.option
    opt.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    opt.setNumber("Mesh.MeshSizeFromPoints", 0)
    opt.setNumber("Mesh.MeshSizeFromCurvature", 0)
    opt.setNumber("Mesh.MeshSizeMax", h)
    opt.setNumber("Mesh.MeshSizeMin", min(h_fine, h))
    opt.setNumber("Mesh.Algorithm", 6)
    opt.setNumber("General.NumThreads", 1)
    gmsh.model.mesh.generate(2)
    for region, srf in surfaces.items():
        gmsh.model.addPhysicalGroup(2, [srf], region, cname.get(region, f"region_{region}"))
    for tag, ents in lines_by_tag.items():
        gmsh.model.addPhysicalGroup(1, ents, tag, name_of.get(tag, f"facets_{tag}"))
    return {"q_corrections": [(float(X[i, 0] * GMSH_UNIT), float(X[i, 1] * GMSH_UNIT), float(v))
                              for i, v in sorted(qnew.items())]}


def remesh(tm: TaggedMesh, h: float, spacing: dict, q: fem.Function | None = None):
    """A new mesh of the same regions (see the module docstring; collective). Raises RemeshError.
    Returns (TaggedMesh, [(x, y, q)]): with the plated charge ``q`` (P1 on ``tm.mesh``), the values q takes at
    the kept neighbours of removed surface nodes, so that ∫q dS is conserved (:func:`apply_point_values`)."""
    comm = tm.mesh.comm
    d = tm.dim
    data = _gather(tm, q)
    if d == 3:
        return _remesh_3d(tm, data, h, spacing), []
    interfaces = {n for n in tm.groups if tm.groups[n][0] == d - 1 and tm.sides(n)[1] is not None}
    interfaces |= set(tm.plating_surfaces())
    groups = dict(tm.groups)
    try:
        charged = tm.plating_surfaces() if q is not None else []
        new = to_dolfinx(comm, lambda gmsh: _build_2d(gmsh, data, groups, interfaces, spacing, h, charged), gdim=d)
    except RemeshError:
        raise
    except Exception as exc:  # noqa: BLE001 - Gmsh errors: one message
        raise RemeshError(f"Gmsh could not remesh the electrolyte: {exc}") from exc
    corrections = new.info.get("q_corrections", [])
    return TaggedMesh(new.mesh, new.cell_tags, new.facet_tags, groups, dict(tm.info)), corrections


def _remesh_3d(tm: TaggedMesh, data, h: float, spacing: dict) -> TaggedMesh:
    """mmg3d on rank 0 (solver/remesh3d.py), distributed as the initial mesh. Where the bare plating surface was
    remeshed too, its new nodes are registered with their closest points on the old surface (:func:`transfer`)."""
    from licoat.solver import remesh3d

    groups = dict(tm.groups)
    movable = [s for s in tm.plating_surfaces() if not tm.coated(s)]

    def build(gmsh):
        try:
            mesh, gap, moved = remesh3d.mmg_remesh(data, groups, spacing, h, movable)
        except remesh3d._Error as exc:
            raise RemeshError(str(exc)) from exc
        remesh3d.build_model(gmsh, mesh, groups)
        return {"remesh_gap": gap, "surface_remeshed": moved}

    try:
        new = to_dolfinx(tm.mesh.comm, build, gdim=3)
    except RemeshError:
        raise
    except Exception as exc:  # noqa: BLE001 - mmg3d/Gmsh/distribution errors: one message
        raise RemeshError(f"mmg3d could not remesh the electrolyte: {exc}") from exc
    # the fields are carried from this mesh (the problem's, e.g. the ionic submesh) to the problem made on the
    # new one (a submesh of it, another Mesh object): the old mesh is the key
    _REMESHED[tm.mesh] = (tm.facets(*tm.plating_surfaces()), float(new.info.get("remesh_gap", 0.0)))
    out = TaggedMesh(new.mesh, new.cell_tags, new.facet_tags, groups, dict(tm.info))
    out.info["surface_remeshed"] = bool(new.info.get("surface_remeshed"))
    return out


def apply_point_values(f: fem.Function, values: list, tol: float = 1e-9) -> None:
    """Set a P1 function at the dofs that sit at the given points [(x, y, value), ...] (all ranks hold the list)."""
    if not values:
        return
    from scipy.spatial import cKDTree

    V = f.function_space
    x = V.tabulate_dof_coordinates()[:, :2]
    pts = np.array([(a, b) for a, b, _ in values])
    vals = np.array([v for _, _, v in values])
    scale = float(np.abs(pts).max()) or 1.0
    dist, idx = cKDTree(pts).query(x, distance_upper_bound=tol * scale)
    hit = np.isfinite(dist)
    f.x.array[hit] = vals[idx[hit]]
    f.x.scatter_forward()


def min_angle_deg(msh) -> float:
    """Smallest interior angle of the owned triangles, or smallest dihedral angle of the owned tetrahedra
    [degrees] (a quality measure; collective)."""
    d = msh.topology.dim
    n = msh.topology.index_map(d).size_local
    p = msh.geometry.x[msh.geometry.dofmaps[0][:n]][:, :, :d]
    if d == 3:
        from licoat.solver.remesh3d import min_dihedral_deg

        return msh.comm.allreduce(float(min_dihedral_deg(p).min(initial=180.0)), op=MPI.MIN)
    best = 180.0
    for k in range(d + 1):
        a, b, c = p[:, k], p[:, (k + 1) % (d + 1)], p[:, (k + 2) % (d + 1)]
        u, v = b - a, c - a
        cos = np.einsum("ij,ij->i", u, v) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
        if len(cos):
            best = min(best, float(np.degrees(np.arccos(np.clip(cos, -1, 1))).min()))
    return msh.comm.allreduce(best, op=MPI.MIN)


# ------------------------------------------------------------------------------------------ transfer
def _is_real(V) -> bool:
    return V.dofmap.index_map.size_global * V.dofmap.index_map_bs <= 1


#: 3D meshes that mmg3d replaced: (their plating-surface facets, the largest distance of a new surface node
#: from the old surface [m])
_REMESHED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def transfer(new: fem.Function, old: fem.Function, padding: float = 1e-12, surface: bool = False) -> None:
    """new ← old by non-matching interpolation (parallel); real (global) functions are copied.

    Onto a 3D mesh made by mmg3d (:func:`remesh`): a ``surface`` field (P1, nonzero only on the plating surface)
    is carried by its trace (:func:`_transfer_trace`), and volume fields are interpolated with a padding that
    covers the gap between the new and the old surface (zero where the new surface nodes lie on the old
    surface), so that the closest old cell's polynomial is used (exact for fields that it reproduces)."""
    Vn, Vo = new.function_space, old.function_space
    if _is_real(Vo):
        new.x.array[:] = old.x.array[0] if old.x.array.size else 0.0
        return
    msh = Vn.mesh
    d = msh.topology.dim
    entry = _REMESHED.get(Vo.mesh)
    trace = entry is not None and _is_p1(Vn) and _is_p1(Vo)
    if trace and surface:
        _transfer_trace(new, old, entry[0], entry[1])
        return
    if entry is not None:
        padding = max(padding, 2.0 * entry[1])
    cells = np.arange(msh.topology.index_map(d).size_local, dtype=np.int32)
    data = fem.create_interpolation_data(Vn, Vo, cells, padding=padding)
    new.interpolate_nonmatching(old, cells, data)
    if trace and entry[1] == 0.0:
        # the new surface nodes lie on the old surface: their values are the old trace there, taken from the
        # gathered surface rather than from whichever cell the point location picked (partition-independent)
        _transfer_trace(new, old, entry[0], 0.0, only_near=True)
    new.x.scatter_forward()


def _is_p1(V) -> bool:
    return V.dofmap.list.shape[1] == V.mesh.geometry.dofmaps[0].shape[1]  # dofs = the cell's vertices


def _surface_trace(f: fem.Function, facets: np.ndarray):
    """(triangles (m, 3, 3) [m], nodal values (m, 3, bs)) of the P1 function ``f`` on the given facets, gathered
    on every rank in a canonical order (sorted by centroid), so that the result does not depend on the partition."""
    from dolfinx.mesh import entities_to_geometry

    V = f.function_space
    msh = V.mesh
    d = msh.topology.dim
    bs = V.dofmap.index_map_bs
    n_all = msh.topology.index_map(d).size_local + msh.topology.index_map(d).num_ghosts
    node_dof = np.full(msh.geometry.x.shape[0], -1, np.int64)
    node_dof[msh.geometry.dofmaps[0][:n_all].ravel()] = V.dofmap.list[:n_all].ravel()
    own = facets[facets < msh.topology.index_map(d - 1).size_local]
    tri = entities_to_geometry(msh, d - 1, own) if own.size else np.zeros((0, d), np.int32)
    P = msh.geometry.x[tri][:, :, :d]
    vals = f.x.array.reshape(-1, bs)[node_dof[tri]] if own.size else np.zeros((0, d, bs))
    parts = msh.comm.allgather((P, vals))
    P = np.concatenate([p[0] for p in parts])
    vals = np.concatenate([p[1] for p in parts])
    scale = float(np.abs(P).max(initial=0.0)) or 1.0
    order = np.lexsort(np.round(P.mean(axis=1) / scale, 10).T[::-1])
    return P[order], vals[order]


def _transfer_trace(new: fem.Function, old: fem.Function, old_facets: np.ndarray, gap: float,
                    only_near: bool = False) -> None:
    """new ← old on the plating surface by its trace: each new dof within ``gap`` (+ round-off) of the old surface
    takes the old P1 trace at its closest point there (barycentric on that triangle; the dofs of kept nodes get
    their old values), the others zero (the new surface's nodes lie within the gap; mmg3d keeps the interior
    ones ≥ hmin = 0.3 × the spacing away). The old surface's triangles are gathered on every rank, so no point
    has to be located in the distributed old mesh (a point on its boundary may be assigned to a neighbouring
    cell, off the surface, differently on different partitions). ``only_near``: the other dofs keep their values."""
    from licoat.solver.remesh3d import barycentric, closest_points

    P, vals = _surface_trace(old, old_facets)
    V = new.function_space
    bs = V.dofmap.index_map_bs
    d = V.mesh.topology.dim
    arr = new.x.array.reshape(-1, bs)
    if not only_near:
        arr[:] = 0.0
    if len(P) and len(arr):
        x = V.tabulate_dof_coordinates()[:, :d]
        foot, tri = closest_points(x, P)
        near = np.linalg.norm(foot - x, axis=1) <= 1.5 * gap + 1e-9 * (float(np.abs(P).max()) or 1.0)
        w = barycentric(foot[near], P[tri[near]])
        arr[near] = np.einsum("nk,nkb->nb", w, vals[tri[near]])
    new.x.scatter_forward()


def surface_dofs(prob, V) -> np.ndarray:
    return fem.locate_dofs_topological(V, prob.dim - 1, prob.tm.facets(*prob.surfaces))


def only_on_surface(prob, f: fem.Function) -> None:
    """Zero a surface field (P1, scalar or vector) away from the plating surface."""
    V = f.function_space
    bs = V.dofmap.index_map_bs
    keep = np.zeros(V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts, bool)
    keep[surface_dofs(prob, V)] = True
    f.x.array[~np.repeat(keep, bs)] = 0.0
    f.x.scatter_forward()


FLAGS = ("holding",)  # component flags that declare() resets (the Cycler's voltage hold)
COUNTERS = ("newton_iterations", "linear_iterations", "solve_s", "assembly_s", "linear_solve_s")


def rebuild(cell, tm_new: TaggedMesh) -> None:
    """Re-create ``cell`` (a CellProblem) on ``tm_new`` in place, with its fields and state (collective)."""
    from licoat.solver.problem import CellProblem
    from licoat.solver.surface_state import SurfaceState

    d = cell.dim
    old_unknowns = {f.name: f.function for f in cell.registry.ordered()}
    old_bdf = (cell.c_n, cell.c_nm1) if cell.time_scheme is not None else None
    states = []
    for comp in cell.components:
        if isinstance(comp, SurfaceState):
            states.append((comp, {n: getattr(comp, n) for n in SurfaceState.FIELDS},
                           dict(_pending=comp._pending, _limit_ratio=comp._limit_ratio), float(comp.dt.value)))
    kw = dict(electrolyte=cell.el, kinetics=cell.kin, options=cell.opts,
              volumes=list(cell.ionic_volumes) + list(cell.metal_volumes), surfaces=list(cell.surfaces),
              kin_of=dict(cell.kin_of), length_scale=cell.ell, i_scale=1.0 / (cell.s_v * cell.ell ** (d - 1)),
              footprint_area=cell.footprint, thermal_voltage=cell.Vt, transient=cell.transient, degree=cell.degree,
              stack_asr=cell.stack_asr)
    keep = {k: getattr(cell, k) for k in COUNTERS if hasattr(cell, k)}
    # the components' constants (e.g. a control's hold state) and flags keep their values
    consts = [(comp, {k: v.value.copy() for k, v in vars(comp).items() if isinstance(v, fem.Constant)},
               {k: v for k, v in vars(comp).items() if k in FLAGS}) for comp in cell.components]
    load, time_value = float(cell.load.value), float(cell.time.value)
    comm, components = cell.comm, cell.components
    cell.__dict__.clear()  # every cache on the old mesh goes (forms, dofs, the nonlinear problem)
    CellProblem.__init__(cell, comm, tm_new, components, **kw)
    cell.__dict__.update(keep)
    for comp, values, flags in consts:
        for k, v in values.items():
            if isinstance(getattr(comp, k, None), fem.Constant):
                getattr(comp, k).value = v
        comp.__dict__.update(flags)
    cell.scale_load(load)
    cell.time.value = time_value
    for f in cell.registry.ordered():
        transfer(f.function, old_unknowns[f.name])
    if old_bdf is not None:
        transfer(cell.c_n, old_bdf[0])
        transfer(cell.c_nm1, old_bdf[1])
    for comp, fields, flags, dt in states:
        for name, old in fields.items():
            new = getattr(comp, name)
            transfer(new, old, surface=True)
            only_on_surface(cell, new)
        comp.__dict__.update(flags)
        comp.dt.value = dt
