"""Open-cell metal foam hosts on a Cu collector (e.g. Cu or Ni foam), optionally coated.

3D (default, ``network = "kelvin"``): a jittered periodic Kelvin (tetrakaidecahedral) skeleton, see
:func:`kelvin_lattice`: BCC cubes of side 2^(1/3) ``pore_size`` (``pore_size`` is the cube root of the
mean cell volume), stretched to a whole number of cubes across the cell, so the host is periodic in
x and y. The faces of the host layer lie on node layers (nodes on a face are jittered only in the
face), so the box cuts node spheres through their centres and in-plane struts along their axes;
no strut crosses a face between its nodes. Every node moves by a random vector (numpy
``default_rng([seed, attempt])``, at most ``jitter`` (0.2) strut lengths, less where the struts
would get too short) and is kept at least ``k R + 2 t + face_margin R`` off the faces. Struts are
cylinders of radius R, nodes spheres of radius k R with k = max(``node_factor`` (1.5), the value that
keeps the junction circles of two struts apart and those of struts leaving a face node off the
face) (about 1.8 to 2.2). Node jitter is halved where a check fails (struts closer than 2.2 node
radii, struts meeting at less than twice the junction half-angle plus 6°, junction circles near a
face, a strut surface grazing an edge of the box, a node sphere whose poles and seam cannot keep
clear of its junctions). Every sphere is oriented with one pole inside a strut and its seam between
the others, and every cylinder with its seam away from the sphere seams (coincident seams made
tiny edges and slivers). Given ``porosity``, R is the quantile of a distance field on a grid of the
layer (capsules plus node spheres), exact to ~0.1 % in porosity; the porosity refers to the bare
foam. A failing OpenCASCADE/Gmsh draw is retried with a new, smaller jitter (``foam_attempts``).

2D, or ``network = "voronoi"``: struts from a periodic Voronoi tessellation of random seeds
(numpy ``default_rng(seed)``; seeds keep a hard-core distance of 0.7 pore sizes, and Voronoi vertices
closer than ``merge_fraction`` (0.2) pore sizes are merged), with nodes of ``node_factor`` (1.25)
times the strut diameter, fused and clipped to the host layer; given ``porosity``, the diameter is
found by regula falsi on the host volume measured by OpenCASCADE. Robust in 2D; in 3D it often
fails to mesh or meshes slowly with slivers (kept as an option).
"""

from __future__ import annotations

import math

import numpy as np

from licoat.meshes.common import (SOLIDS, GeometryError, assemble, check_common, host_layout, host_model,
                                  size_fields, to_dolfinx)

# Generator constants (not case keys): skeleton construction and its bounded retries
MERGE_FRACTION = 0.2  # Voronoi vertices closer than this x pore size are merged (2D)
NODE_FACTOR_2D = 1.25  # node disc radius / strut radius (2D)
NODE_FACTOR_3D = 1.5  # minimum node sphere radius / strut radius (3D Kelvin skeleton)
FACE_MARGIN = 0.35  # nodes keep this x the strut radius away from the cell faces
JITTER = 0.2  # random node displacement / pore size (3D)
POROSITY_ITERATIONS = 12  # strut-diameter iterations to reach the porosity
POROSITY_SAMPLES = 250_000  # Monte-Carlo points for the 3D solid fraction
FOAM_ATTEMPTS_2D = 12  # seeds tried before a 2D cross-section is given up
FOAM_ATTEMPTS_3D = 6  # jittered skeletons tried before a 3D foam is given up
OPTIMIZE_NETGEN = 1  # Gmsh Netgen optimisation pass on 3D foam meshes
CURVATURE_CELLS = 12  # elements per 2 pi of strut curvature


def _seeds(rng, n, L, dmin):
    pts = []
    for _ in range(200 * n):
        if len(pts) == n:
            break
        q = rng.uniform(0, 1, len(L)) * L
        if all(np.linalg.norm((q - p0 + L / 2) % L - L / 2) >= dmin for p0 in pts):
            pts.append(q)
    while len(pts) < n:  # hard-core distance too large: relax
        pts.append(rng.uniform(0, 1, len(L)) * L)
    return np.array(pts)


def tessellation(p: dict, attempt: int = 0):
    """(nodes, edges) of the periodic Voronoi skeleton near the cell, SI; nodes (m, dim), edges (k, 2)."""
    from scipy.spatial import Voronoi

    dim = int(p["dim"])
    W, D, H = p["width"], p.get("depth", p["width"]), p["host_thickness"]
    L = np.array([W, D, H] if dim == 3 else [W, H])
    a = p["pore_size"]
    n = max(2, int(round(np.prod(L) / a**dim)))
    rng = np.random.default_rng([int(p.get("seed", 0)), attempt])
    pts = _seeds(rng, n, L, 0.7 * a)
    shifts = np.array(np.meshgrid(*[[-1, 0, 1]] * dim, indexing="ij")).reshape(dim, -1).T
    allp = np.concatenate([pts + s * L for s in shifts])
    vor = Voronoi(allp)
    V = vor.vertices
    # merge vertices closer than merge_fraction * pore size (short Voronoi edges make slivers)
    from scipy.spatial import cKDTree

    parent = np.arange(len(V))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in sorted(cKDTree(V).query_pairs(MERGE_FRACTION * a)):
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([root(i) for i in range(len(V))])
    Vm = np.zeros_like(V)
    np.add.at(Vm, roots, V)
    cnt = np.bincount(roots, minlength=len(V))
    Vm[cnt > 0] /= cnt[cnt > 0, None]
    V = Vm[roots]
    edges = set()
    for ridge in vor.ridge_vertices:
        if -1 in ridge:
            continue
        # every ridge of the 3^dim block; edges near the central cell are exact (the block spans -L..2L)
        if dim == 2:
            e = tuple(sorted(roots[list(ridge)]))
            if e[0] != e[1]:
                edges.add(e)
        else:
            for k in range(len(ridge)):
                e = tuple(sorted((roots[ridge[k]], roots[ridge[(k + 1) % len(ridge)]])))
                if e[0] != e[1]:
                    edges.add(e)
    E = np.array(sorted(edges))
    # canonical edges: midpoint in [0, L)
    mid = 0.5 * (V[E[:, 0]] + V[E[:, 1]])
    keep = np.all((mid >= 0) & (mid < L), axis=1)
    E = E[keep]
    segs = np.stack([V[E[:, 0]], V[E[:, 1]]], axis=1)  # (k, 2, dim)
    return segs, L, n


def _near_box(segs, L, R):
    """All periodic images of the segments that come within R of the box."""
    dim = len(L)
    shifts = np.array(np.meshgrid(*[[-1, 0, 1]] * dim, indexing="ij")).reshape(dim, -1).T
    out = []
    for s in shifts:
        sg = segs + s * L
        lo, hi = sg.min(axis=1), sg.max(axis=1)
        ok = np.all((hi >= -R) & (lo <= L + R), axis=1)
        out.append(sg[ok])
    return np.concatenate(out)


#: thinnest strut (diameter / pore size) licoat meshes: the strut surface needs ~12 cells around its
#: circumference, so the cell count grows like (pore size / strut diameter)^2 and a porosity close
#: to 1 (0.999 gives d/a = 0.017 for a Kelvin foam) would mesh for hours. Bounded work (issue 13).
MIN_STRUT_TO_PORE = 0.03


def _too_thin(p: dict, d: float, porosity_of=None) -> GeometryError | None:
    """GeometryError when the strut diameter ``d`` [m] is below MIN_STRUT_TO_PORE x pore size;
    ``porosity_of(R)`` (optional) gives the porosity at strut radius R, to name the largest one."""
    a = p["pore_size"]
    if d >= MIN_STRUT_TO_PORE * a:
        return None
    if p.get("strut_diameter") is not None:
        return GeometryError(f"geometry.strut_diameter = {d:g} m is too thin for geometry.pore_size = {a:g} m: "
                             f"struts thinner than {MIN_STRUT_TO_PORE:g} x the pore size ({MIN_STRUT_TO_PORE * a:g} m) "
                             "cannot be meshed at a bounded cost")
    hint = ""
    if porosity_of is not None:
        hint = f" (at most {porosity_of(0.5 * MIN_STRUT_TO_PORE * a):.4g} for this pore size)"
    return GeometryError(f"geometry.porosity = {p['porosity']:g} is too close to 1 for geometry.pore_size = {a:g} m: "
                         f"it needs struts of diameter {d:.3g} m, thinner than {MIN_STRUT_TO_PORE:g} x the pore size, "
                         f"which cannot be meshed at a bounded cost; lower the porosity{hint} or set "
                         "geometry.strut_diameter")


def check(p: dict) -> None:
    check_common(p, "width", "pore_size", "host_thickness", "electrolyte_thickness", "mesh_size")
    if p.get("strut_diameter") is None and p.get("porosity") is None:
        raise GeometryError("geometry.strut_diameter or geometry.porosity is required for geometry.kind = 'foam'")
    if p.get("strut_diameter") is not None and p["strut_diameter"] >= p["pore_size"]:
        raise GeometryError(f"geometry.strut_diameter = {p['strut_diameter']:g} m must be smaller than "
                            f"geometry.pore_size = {p['pore_size']:g} m")
    por = p.get("porosity")
    if por is not None and not 0.3 < por < 1:
        raise GeometryError(f"geometry.porosity = {por:g} must lie in (0.3, 1) for an open-cell foam")
    if p.get("strut_diameter") is not None and (err := _too_thin(p, p["strut_diameter"])) is not None:
        raise err


def _build_voronoi(comm, p: dict):
    lay = host_layout(p)
    lay.update(coating_cells=p.get("coating_cells", 2), algorithm3d=p.get("mesh_algorithm3d", 1))
    um, dim = lay["um"], lay["dim"]
    segs, Lsi, nseeds = tessellation(p)
    state = {"segs": segs * um, "attempt": 0}
    L = Lsi * um
    W, H = L[0], L[-1]
    D = L[1] if dim == 3 else W
    a = p["pore_size"] * um
    t = lay["t_res"]
    if t > 0 and p.get("strut_diameter") is not None and 2 * t >= 0.9 * (a - p["strut_diameter"] * um):
        raise GeometryError(f"coating.thickness = {t / um:g} m must be smaller than half the gap between struts "
                            f"(geometry.pore_size - geometry.strut_diameter = {(a / um - p['strut_diameter']):g} m)")
    node_factor = NODE_FACTOR_2D

    def primitives_for(R):
        def primitives(gmsh, off):
            occ = gmsh.model.occ
            Rr = R + off
            sg = _near_box(state["segs"], L, Rr)
            out = []
            nodes = {}
            for s0, s1 in sg:
                for q in (s0, s1):
                    nodes[tuple(np.round(q, 9))] = q
                v = s1 - s0
                if np.linalg.norm(v) < 1e-9 * a:
                    continue
                if dim == 3:
                    out.append((3, occ.addCylinder(*s0, *v, Rr)))
                else:
                    ln = np.linalg.norm(v)
                    rect = occ.addRectangle(0, -Rr, 0, ln, 2 * Rr)
                    occ.rotate([(2, rect)], 0, 0, 0, 0, 0, 1, math.atan2(v[1], v[0]))
                    occ.translate([(2, rect)], s0[0], s0[1], 0)
                    out.append((2, rect))
            for q in nodes.values():
                if np.all(q >= -Rr) and np.all(q <= L + Rr):
                    Rn = node_factor * R + off  # thicker nodes: a sphere of the strut radius would be
                    # tangent to the cylinders along their end circles, which OpenCASCADE handles badly
                    out.append((3, occ.addSphere(*q, Rn)) if dim == 3 else (2, occ.addDisk(q[0], q[1], 0, Rn, Rn)))
            return out
        return primitives

    layer = float(np.prod(L))

    def measure(gmsh, R):
        occ = gmsh.model.occ
        prims = primitives_for(R)(gmsh, 0.0)
        fused, _ = occ.fuse(prims[:1], prims[1:])
        clip = [(3, occ.addBox(0, 0, 0, W, D, H))] if dim == 3 else [(2, occ.addRectangle(0, 0, 0, W, H))]
        out, _ = occ.intersect(fused, clip)
        occ.synchronize()
        vol = sum(occ.getMass(*e) for e in out)
        occ.remove(occ.getEntities(), recursive=True)
        occ.synchronize()
        return vol / layer

    def strut_radius(gmsh):
        if p.get("strut_diameter") is not None:
            return p["strut_diameter"] / 2 * um, {}
        extra = {}
        target = 1.0 - p["porosity"]
        lengths = np.linalg.norm(state["segs"][:, 1] - state["segs"][:, 0], axis=1)
        # first guess: cylinders only, no overlaps
        R = math.sqrt(target * layer / (math.pi * lengths.sum())) if dim == 3 else target * layer / (2 * lengths.sum())
        lo, hi = 0.0, 0.5 * a
        flo, fhi = -target, None
        for it in range(POROSITY_ITERATIONS):
            f = measure(gmsh, R) - target
            if abs(f) < 0.002:
                break
            if f < 0:
                lo, flo = R, f
            else:
                hi, fhi = R, f
            if fhi is not None and hi > lo:
                Rn = lo - flo * (hi - lo) / (fhi - flo)  # regula falsi inside the bracket
                R = Rn if lo < Rn < hi else 0.5 * (lo + hi)
            else:
                R = min(0.5 * (R + hi), R * 1.3)
        extra["porosity_bare"] = 1.0 - (f + target)
        extra["porosity_iterations"] = it + 1
        return R, extra

    def tangent(R):
        """True if a strut or node surface (bare or coated) nearly touches a cell face without cutting it."""
        sg = _near_box(state["segs"], L, node_factor * R + t + R)
        for k in range(dim):
            for c in (0.0, L[k]):
                e0, e1 = sg[:, 0, k] - c, sg[:, 1, k] - c
                same = e0 * e1 > 0
                dmin = np.minimum(np.abs(e0), np.abs(e1))
                for Rr in {R, R + t}:
                    flat = same & (np.abs(e0 - e1) < 0.2 * R) & (np.abs(dmin - Rr) < 0.05 * R)
                    node = np.abs(np.abs(np.concatenate([e0, e1])) - (node_factor * R + Rr - R)) < 0.03 * R
                    if np.any(flat) or np.any(node):
                        return True
        return False

    def make(gmsh):
        last = None
        for attempt in range(FOAM_ATTEMPTS_2D):
            if attempt:
                state["segs"] = tessellation(p, attempt)[0] * um
            R, extra = strut_radius(gmsh)
            if (err := _too_thin(p, 2 * R / um)) is not None:
                raise err
            if 2 * R >= a:
                raise GeometryError(f"geometry.porosity = {p.get('porosity')} needs struts of diameter {2 * R / um:g} m, "
                                    f"not smaller than geometry.pore_size = {a / um:g} m")
            if t > 0 and 2 * t >= 0.9 * (a - 2 * R):
                raise GeometryError(f"coating.thickness = {t / um:g} m must be smaller than half the gap between struts "
                                    f"(pore size - strut diameter = {(a - 2 * R) / um:g} m)")
            if tangent(R):
                last = "near-tangent strut at a cell face"
                continue
            try:
                host_model(gmsh, lay, W, D, H, primitives_for(R))
            except GeometryError:
                raise
            except Exception as exc:  # noqa: BLE001 - OpenCASCADE/Gmsh failure on this draw: draw again
                last = str(exc)
                gmsh.clear()
                gmsh.model.add("licoat")
                continue
            extra.update(strut_diameter=2 * R / um, attempt=attempt)
            return extra
        raise GeometryError(f"could not build a meshable foam for geometry.seed = {p.get('seed', 0)} "
                            f"(geometry.pore_size = {p['pore_size']:g} m) in {attempt + 1} draws: {last}")

    info = dict(kind="foam", coating_thickness=lay["t"] / um, coating_model=lay["mode"], periodic=lay["periodic"],
                host_thickness=p["host_thickness"], seeds=nseeds, struts=int(len(segs)))
    return to_dolfinx(comm, make, gdim=dim, **info)


# ----------------------------------------------------------------------------------------------
# 3D default: a jittered periodic Kelvin (tetrakaidecahedral) skeleton
# ----------------------------------------------------------------------------------------------

def _kelvin_cell():
    """Vertices (quarter-lattice units) and edges of the truncated octahedron around a BCC site."""
    import itertools

    verts = set()
    for perm in itertools.permutations(range(3)):
        for s1 in (-1, 1):
            for s2 in (-1, 1):
                v = [0, 0, 0]
                v[perm[1]], v[perm[2]] = s1, 2 * s2
                verts.add(tuple(v))
    V = np.array(sorted(verts))
    E = np.array([(i, j) for i in range(len(V)) for j in range(i + 1, len(V)) if np.sum((V[i] - V[j]) ** 2) == 2])
    return V, E


def kelvin_lattice(p: dict) -> dict:
    """The periodic Kelvin skeleton of the host layer (SI), before jitter.

    BCC cubes of side c = 2^(1/3) pore_size (two Kelvin cells of volume pore_size³ each), stretched to
    nx = round(W / c), ny = round(D / c), nz = round(H / c) cubes across the cell, so the skeleton
    is periodic in x and y and the layer holds whole cubes. Nodes sit at multiples of c/4 and the
    six faces of the host layer lie on node layers: the faces cut node spheres through their centres
    and in-plane struts along their axes (clean, symmetric cuts) and no strut crosses a face
    between its nodes; no node lies on an edge of the box. Struts with one end in the layer are kept
    (with their outer nodes) for the porosity and angle checks; the OCC model leaves them out.
    Returns q (integer node keys, quarter cubes), X (n, 3), edges (k, 2), shifts (k, 2) (the second
    node of an edge is X[j] + (sx W, sy D, 0)), L, c, nz and cells.
    """
    W, D, H = p["width"], p.get("depth") or p["width"], p["host_thickness"]
    c0 = p["pore_size"] * 2 ** (1 / 3)
    nx, ny, nz = (max(1, int(round(Lk / c0))) for Lk in (W, D, H))
    cx, cy, cz = W / nx, D / ny, H / nz
    V, E = _kelvin_cell()
    Mx, My, Mz = 4 * nx, 4 * ny, 4 * nz
    keys = set()
    for i in range(nx):
        for j in range(ny):
            for k in range(-1, nz + 2):
                for off in (0, 2):
                    site = np.array([4 * i + off, 4 * j + off, 4 * k + off])
                    for e0, e1 in E:
                        qa, qb = site + V[e0], site + V[e1]
                        if max(qa[2], qb[2]) < 0 or min(qa[2], qb[2]) > Mz:  # keep struts touching the layer
                            continue
                        A = (int(qa[0] % Mx), int(qa[1] % My), int(qa[2]))
                        B = (int(qb[0] % Mx), int(qb[1] % My), int(qb[2]))
                        s = (int(qb[0] // Mx - qa[0] // Mx), int(qb[1] // My - qa[1] // My))
                        keys.add(min((A, B, s), (B, A, (-s[0], -s[1]))))
    keys = sorted(keys)
    q = np.array(sorted({k[0] for k in keys} | {k[1] for k in keys}))
    index = {tuple(v): n for n, v in enumerate(q.tolist())}
    edges = np.array([(index[A], index[B]) for A, B, _ in keys])
    shifts = np.array([s for _, _, s in keys])
    X = q * np.array([cx, cy, cz]) / 4
    # face nodes: (n, 3) bools, node on the x (y, z) faces of the layer
    face = np.column_stack([q[:, 0] == 0, q[:, 1] == 0, (q[:, 2] == 0) | (q[:, 2] == Mz)])
    return dict(q=q, X=X, edges=edges, shifts=shifts, face=face, L=np.array([W, D, H]), c=np.array([cx, cy, cz]),
                nz=nz, cells=2 * nx * ny * nz)


def _segments(net, X, edges=None, shifts=None):
    edges = net["edges"] if edges is None else edges
    shifts = net["shifts"] if shifts is None else shifts
    W, D, _ = net["L"]
    A = X[edges[:, 0]]
    B = X[edges[:, 1]] + np.column_stack([shifts[:, 0] * W, shifts[:, 1] * D, np.zeros(len(shifts))])
    return A, B


def _push(net, X, dmin):
    """Keep every node off the faces by at least ``dmin`` unless it lies on the face (exactly)."""
    X = X.copy()
    H, qz, Mz = net["L"][2], net["q"][:, 2], 4 * net["nz"]
    for k in range(3):
        off = ~net["face"][:, k]
        if k == 2:
            X[qz < 0, 2] = np.minimum(X[qz < 0, 2], -dmin)
            X[qz > Mz, 2] = np.maximum(X[qz > Mz, 2], H + dmin)
            off &= (qz >= 0) & (qz <= Mz)
        X[off, k] = np.clip(X[off, k], dmin, net["L"][k] - dmin)
        X[net["face"][:, k], k] = net["X"][net["face"][:, k], k]
    return X


def _solid_field(net, X, node_factor, npts):
    """min(distance to the strut axes, distance to the nodes / node_factor) on a grid of the host layer.

    The bare host (struts of radius R, node spheres of radius node_factor R) is the set where this
    field is <= R (a strut's flat ends lie inside its node spheres), so one field gives the
    porosity of every R."""
    from scipy.spatial import cKDTree

    W, D, H = net["L"]
    hg = (W * D * H / npts) ** (1 / 3)
    g = [(np.arange(m) + 0.5) * (Lk / m) for Lk, m in ((Lk, max(4, int(np.ceil(Lk / hg)))) for Lk in (W, D, H))]
    P = np.stack(np.meshgrid(*g, indexing="ij"), axis=-1).reshape(-1, 3)
    zoff = H + 4 * float(net["c"].max())
    box = np.array([W, D, 4 * zoff])

    def wrap(Y):
        Y = Y.copy()
        Y[:, 2] += zoff
        for k in range(2):
            Y[:, k] = np.mod(Y[:, k], box[k])
            Y[Y[:, k] >= box[k], k] = 0.0
        return Y

    A, B = _segments(net, X)
    ds = 0.01 * float(net["c"].min())
    samples = []
    for a0, b0 in zip(A, B):
        m = int(np.ceil(np.linalg.norm(b0 - a0) / ds)) + 1
        samples.append(a0 + np.linspace(0, 1, m)[:, None] * (b0 - a0))
    Pw = wrap(P)
    d1, _ = cKDTree(wrap(np.concatenate(samples)), boxsize=box).query(Pw)
    d2, _ = cKDTree(wrap(X), boxsize=box).query(Pw)
    return np.minimum(d1, d2 / node_factor)


def _box_edge_grazers(net, X, radii, tol):
    """Struts whose side surface (any radius in ``radii``) nearly touches an edge of the cell box."""
    W, D, H = net["L"]
    A0, B0 = _segments(net, X)
    lines = [((x, y, 0), (0, 0, 1)) for x in (0, W) for y in (0, D)]
    for z in (0, H):
        lines += [((x, 0, z), (0, 1, 0)) for x in (0, W)] + [((0, y, z), (1, 0, 0)) for y in (0, D)]
    bad = np.zeros(len(A0), bool)
    for sx in (-1, 0, 1):
        for sy in (-1, 0, 1):
            s = np.array([sx * W, sy * D, 0.0])
            A, B = A0 + s, B0 + s
            v = B - A
            for P0, u in lines:
                P0, u = np.array(P0, float), np.array(u, float)
                w0 = A - P0
                vv, vu, wu, wv = np.sum(v * v, 1), v @ u, w0 @ u, np.sum(w0 * v, 1)
                den = vv - vu**2
                with np.errstate(divide="ignore", invalid="ignore"):
                    sc = np.clip(np.where(den > 1e-9 * vv, (vu * wu - wv) / den, 0.5), 0, 1)
                d = np.linalg.norm(np.cross(A + sc[:, None] * v - P0, u), axis=1)
                inner = (sc > 0) & (sc < 1)  # the side surface; the strut ends lie inside the node spheres
                for R in radii:
                    bad |= inner & (np.abs(d - R) < tol)
    return np.flatnonzero(bad)


def _incidence(net, X):
    """Per node: [(edge, unit direction of the strut leaving the node)]."""
    A, B = _segments(net, X)
    U = (B - A) / np.linalg.norm(B - A, axis=1)[:, None]
    inc: dict[int, list] = {i: [] for i in range(len(X))}
    for e, (a, b) in enumerate(net["edges"]):
        inc[int(a)].append((e, U[e]))
        inc[int(b)].append((e, -U[e]))
    return inc, U


def _perp_basis(u):
    h = np.array([1.0, 0, 0]) if abs(u[0]) < 0.9 else np.array([0, 1.0, 0])
    p = np.cross(u, h)
    p /= np.linalg.norm(p)
    return p, np.cross(u, p)


_AZ = np.radians(np.arange(0, 360, 5))


def _sphere_frame(inc_i, theta, normals=()):
    """Axis and seam of a node sphere, and the clearance (radians) it keeps.

    The sphere's poles go along one strut (one pole at the centre of that strut's junction
    circle, the other out on the bare sphere) and its seam meridian between the other struts, so
    that neither the poles nor the seam come near another junction circle (cap of half-angle
    ``theta`` around each strut). On a face (``normals``) the axis is never an in-plane strut.
    Returns (clearance, pole edge or None, e3, e1)."""
    best = (-np.inf, None, np.array([0, 0, 1.0]), np.array([1.0, 0, 0]))
    cands = [(e, u) for e, u in inc_i if all(abs(float(u @ n)) > 1e-6 for n in normals)]
    cands += [(None, np.asarray(n, float)) for n in normals] if not cands else []
    for e0, u0 in cands:
        others = [u for e, u in inc_i if e != e0 or e0 is None]
        p, q = _perp_basis(u0)
        if not others:
            return (np.pi, e0, u0, p)
        O = np.array(others)
        beta = np.arccos(np.clip(O @ u0, -1, 1))
        pole = float(np.minimum(beta, np.pi - beta).min() - theta) if e0 is None else float((np.pi - beta).min() - theta)
        phi = np.arctan2(O @ q, O @ p)
        dphi = np.abs((_AZ[:, None] - phi[None, :] + np.pi) % (2 * np.pi) - np.pi)
        dist = np.where(dphi <= np.pi / 2, np.arcsin(np.clip(np.sin(beta)[None, :] * np.sin(dphi), 0, 1)),
                        np.minimum(beta, np.pi - beta)[None, :])
        seam = (dist - theta).min(axis=1)
        j = int(np.argmax(seam))
        score = min(pole, float(seam[j]))
        if score > best[0]:
            best = (score, e0, u0, np.cos(_AZ[j]) * p + np.sin(_AZ[j]) * q)
    return best


def _normals(net, i):
    return [np.eye(3)[k] for k in range(3) if net["face"][i, k]]


def _frames(net, X, theta):
    """Sphere frames per node and cylinder frames per strut (seams placed apart); node clearances."""
    inc, U = _incidence(net, X)
    sph = {i: _sphere_frame(inc[i], theta, _normals(net, i)) for i in range(len(X))}
    cyl = []
    for e, (a, b) in enumerate(net["edges"]):
        p, q = _perp_basis(U[e])
        plane = [n for n in _normals(net, int(a)) if abs(float(U[e] @ n)) < 1e-6]
        avoid = [sph[int(n)][3] for n in (a, b) if sph[int(n)][1] == e]
        if plane:  # in-plane strut: seam along the face normal, away from the cut
            p = plane[0]
        elif avoid:
            dirs = np.cos(_AZ)[:, None] * p + np.sin(_AZ)[:, None] * q
            j = int(np.argmax(np.min(np.array([dirs @ v for v in avoid]) * -1, axis=0)))
            p = dirs[j]
        cyl.append((U[e], p))
    return sph, cyl


def _rotvec(e1, e3):
    from scipy.spatial.transform import Rotation

    M = np.column_stack([e1, np.cross(e3, e1), e3])
    return Rotation.from_matrix(M).as_rotvec()


def _place(occ, tag, rv, x0):
    ang = float(np.linalg.norm(rv))
    if ang > 1e-12:
        occ.rotate([(3, tag)], 0, 0, 0, *(rv / ang), ang)
    occ.translate([(3, tag)], *x0)


def _foam_model(gmsh, lay: dict, W: float, D: float, H: float, primitives, h_struts: float) -> dict:
    """:func:`host_model` for the foam (µm): the same bodies and tags, but sized for many small curved
    struts. Curvature sizing (``h_struts``, finer than the interface size) resolves the struts, so
    the Distance refinement (slow with hundreds of strut faces) only covers the flat collector
    interfaces unless the struts are coarser than the interface size."""
    occ = gmsh.model.occ

    def clipped(off):
        prims = primitives(gmsh, off)
        prims, _ = occ.fuse(prims[:1], prims[1:])
        out, _ = occ.intersect(prims, [(3, occ.addBox(0, 0, 0, W, D, H + off))])
        return out

    host = clipped(0.0)
    coll = [(3, occ.addBox(0, 0, -lay["Hc"], W, D, lay["Hc"]))]
    t = lay["t_res"]
    offsets = lay.get("offsets") or ([t] if t > 0 else [])  # one shell per resolved layer of the stack
    shell = [occ.fuse(clipped(off), [(3, occ.addBox(0, 0, 0, W, D, off))])[0] for off in offsets]
    tags = assemble(gmsh, 3, (W, D, -lay["Hc"], H + lay["L"]), {"host": host, "collector": coll}, shell,
                    lay["mode"], lay["periodic"])
    fac = tags["facets"]
    coat_surf, h_coat = None, None
    if t > 0:
        layers = set(tags["regions"]) - set(SOLIDS) - {"electrolyte"}
        coat_surf = sorted({f for n, fs in fac.items() if any(part in n for part in layers) for f in fs})
        h_coat = min(np.diff([0.0] + offsets)) / float(lay.get("coating_cells", 2))
    flat = sorted(set(f for n in ("collector_electrolyte", "collector_coating", "host_collector") for f in fac.get(n, [])))
    refine = tags["interfaces"] if h_struts > lay["h_fine"] else flat
    size_fields(gmsh, 3, refine, lay["h"], lay["h_fine"], max(W, D, H + lay["L"]), coat_surf, h_coat, t,
                lay.get("algorithm3d", 1), lay.get("curvature_cells", 12))
    gmsh.option.setNumber("Mesh.MeshSizeMin", min(lay["h_fine"], h_struts, h_coat or np.inf))
    gmsh.model.mesh.generate(3)
    return tags


def _build_kelvin(comm, p: dict):
    lay = host_layout(p)
    lay.update(coating_cells=p.get("coating_cells", 2), algorithm3d=p.get("mesh_algorithm3d", 1),
               curvature_cells=CURVATURE_CELLS)
    um = lay["um"]
    net = kelvin_lattice(p)
    X0 = net["X"]
    nn = len(X0)
    a = p["pore_size"]
    t = lay["t_res"] / um  # SI
    given_d = p.get("strut_diameter")
    npts = POROSITY_SAMPLES
    A, B = _segments(net, X0)
    l0 = float(np.linalg.norm(B - A, axis=1).min())
    inc0, _ = _incidence(net, X0)
    amin0 = min(float(np.arccos(np.clip(u @ v, -1, 1))) for lst in inc0.values()
                for i, (_, u) in enumerate(lst) for _, v in lst[i + 1:])
    elev0 = [math.asin(min(1.0, abs(float(u @ n)))) for i in range(nn) for n in _normals(net, i) for _, u in inc0[i]]
    elev0 = min([e for e in elev0 if e > 1e-6], default=0.5 * math.pi)
    # node spheres wide enough that the junction caps (half-angle asin(1/k)) of two struts stay apart
    # and that those of struts leaving a face node stay on one side of the face, with room for jitter
    theta_max = min(0.5 * (amin0 - math.radians(14)), elev0 - math.radians(11))
    k = max(NODE_FACTOR_3D, 1.0 / math.sin(theta_max))
    margin, jitter, attempts = FACE_MARGIN, JITTER, FOAM_ATTEMPTS_3D

    def radius(X):
        g = _solid_field(net, X, k, npts)
        if given_d is not None:
            return given_d / 2, float(np.mean(g > given_d / 2))
        return float(np.quantile(g, 1.0 - p["porosity"])), float(p["porosity"])

    def too_thick(R, why):
        if given_d is not None:
            return GeometryError(f"geometry.strut_diameter = {given_d:g} m is too thick for a foam of geometry.pore_size = "
                                 f"{a:g} m ({why})")
        return GeometryError(f"geometry.porosity = {p['porosity']:g} needs struts of diameter {2 * R:.3g} m, too thick "
                             f"for a foam of geometry.pore_size = {a:g} m ({why}); raise the porosity or the pore size")

    def dmin(R):
        return k * R + 2 * t + margin * R

    def violations(X, R):
        """Nodes whose jitter must shrink: short struts (node spheres near touching), sharp angles,
        struts grazing a cell edge, spheres whose poles/seam cannot keep clear of the junctions."""
        Rn = k * R + t
        theta = math.asin((R + t) / Rn)
        thetas = (math.asin(1 / k), theta)
        A, B = _segments(net, X)
        E = net["edges"]
        bad = set()
        short = np.flatnonzero(np.linalg.norm(B - A, axis=1) < 2.2 * Rn)
        bad.update(E[short].ravel().tolist())
        inc, _ = _incidence(net, X)
        for i, lst in inc.items():
            for m, (e1, u) in enumerate(lst):
                for e2, v in lst[m + 1:]:
                    if math.acos(min(1.0, max(-1.0, float(u @ v)))) < 2 * theta + math.radians(6):
                        bad.update([i, *E[e1].tolist(), *E[e2].tolist()])
            nrm = _normals(net, i)
            if _sphere_frame(lst, theta, nrm)[0] < math.radians(6):
                bad.update([i] + [int(n) for e, _ in lst for n in E[e]])
            for n in nrm:  # struts leaving a face node: in the face, or steep enough that their
                # junction circle stays on one side of it (then an outward strut reaches into the
                # layer only inside the node sphere and can be left out)
                for e, u in lst:
                    el = math.asin(min(1.0, abs(float(u @ n))))
                    if el > 1e-6 and el < max(thetas) + math.radians(5):
                        bad.update([i, *E[e].tolist()])
        bad.update(E[_box_edge_grazers(net, X, [R, R + t], 0.1 * R)].ravel().tolist())
        return sorted(bad)

    R0, _ = radius(X0)
    if (err := _too_thin(p, 2 * R0, lambda R: float(np.mean(_solid_field(net, X0, k, npts) > R)))) is not None:
        raise err
    if 2 * R0 >= a:
        raise GeometryError(f"geometry.porosity = {p.get('porosity')} needs struts of diameter {2 * R0:g} m, "
                            f"not smaller than geometry.pore_size = {a:g} m")
    if l0 < 2.3 * (k * R0 + t):
        raise too_thick(R0, f"the Kelvin struts, {l0:.3g} m long, leave no room for nodes of "
                            f"{2 * k * R0:.3g} m diameter" + (f" plus coating.thickness = {t:g} m" if t > 0 else ""))
    if dmin(R0) > 0.3 * float(net["c"].min()):
        raise too_thick(R0, "the nodes cannot keep clear of the cell faces")
    if t > 0 and 2 * t >= 0.9 * (a - 2 * R0):
        raise GeometryError(f"coating.thickness = {t:g} m must be smaller than half the gap between struts "
                            f"(geometry.pore_size - strut diameter = {a - 2 * R0:g} m)")

    def network(attempt):
        """Jittered node positions kept clear of the faces, and the strut radius (None if rejected)."""
        rng = np.random.default_rng([int(p.get("seed", 0)), attempt])
        amp = min(jitter * l0, 0.5 * (l0 - 2.3 * (k * R0 + t))) * 0.7**attempt
        v = rng.normal(size=X0.shape)
        v *= (amp * rng.uniform(0, 1, nn) ** (1 / 3) / np.linalg.norm(v, axis=1))[:, None]
        scale = np.ones(nn)
        R = R0
        for it in range(12):
            X = _push(net, X0 + scale[:, None] * v, dmin(R))
            R, por = radius(X)
            X = _push(net, X0 + scale[:, None] * v, dmin(R))
            bad = violations(X, R)
            if not bad:
                return dict(X=X, R=R, porosity=por, amp=amp, relaxed=int(np.sum(scale < 1)))
            if not np.any(scale[bad] > 0):
                return None
            scale[bad] = 0.5 * scale[bad] if it < 6 else 0.0
        return None

    def primitives_for(nw):
        X, R = nw["X"], nw["R"]
        W, D, H = net["L"]
        Lum = net["L"] * um
        A, B = _segments(net, X)
        sph, cyl = _frames(net, X, math.asin(1 / k))
        srot = {i: _rotvec(f[3], f[2]) for i, f in sph.items()}
        crot = [_rotvec(e1, e3) for e3, e1 in cyl]
        lens = np.linalg.norm(B - A, axis=1) * um
        tol = 1e-6 * float(Lum.max())

        def primitives(gmsh, off):
            occ = gmsh.model.occ
            Rc, Rn = R * um + off, k * R * um + off
            out = []
            for sx in (-1, 0, 1):
                for sy in (-1, 0, 1):
                    s = np.array([sx * W, sy * D, 0.0])
                    for e, (a0, b0) in enumerate(zip((A + s) * um, (B + s) * um)):
                        # struts leaving the layer reach into it only inside their node sphere
                        if np.all(np.minimum(a0, b0) > -tol) and np.all(np.maximum(a0, b0) < Lum + tol):
                            c = occ.addCylinder(0, 0, 0, 0, 0, lens[e], Rc)
                            _place(occ, c, crot[e], a0)
                            out.append((3, c))
                    for i in range(nn):
                        c0 = (X[i] + s) * um
                        if np.all(c0 > -tol) and np.all(c0 < Lum + tol):
                            sp = occ.addSphere(0, 0, 0, Rn)
                            _place(occ, sp, srot[i], c0)
                            out.append((3, sp))
            return out
        return primitives

    def make(gmsh):
        last = None
        for attempt in range(attempts):
            nw = network(attempt)
            if nw is None:
                last = "no jitter keeps the struts clear of each other and of the cell edges"
                continue
            gmsh.option.setNumber("Geometry.OCCParallel", 1)
            gmsh.option.setNumber("Mesh.OptimizeNetgen", OPTIMIZE_NETGEN)
            try:
                h_struts = 2 * math.pi * nw["R"] * um / float(lay["curvature_cells"])
                tags = _foam_model(gmsh, lay, *(net["L"] * um), primitives_for(nw), h_struts)
            except GeometryError:
                raise
            except Exception as exc:  # noqa: BLE001 - OpenCASCADE/Gmsh failure on this draw: jitter again
                last = str(exc)
                gmsh.clear()
                gmsh.model.add("licoat")
                continue
            vhost = sum(gmsh.model.occ.getMass(3, v) for v in tags["regions"].get("host", []))
            return dict(strut_diameter=2 * nw["R"], node_diameter=2 * k * nw["R"], node_factor=k,
                        porosity_geometry=1.0 - vhost / float(np.prod(net["L"] * um)),
                        porosity_bare=nw["porosity"], attempt=attempt, jitter_amplitude=nw["amp"],
                        nodes_relaxed=nw["relaxed"])
        raise GeometryError(f"could not build a meshable foam for geometry.seed = {p.get('seed', 0)} "
                            f"(geometry.pore_size = {a:g} m) in {attempts} draws: {last}")

    info = dict(kind="foam", network="kelvin", coating_thickness=lay["t"] / um, coating_model=lay["mode"],
                periodic=lay["periodic"], host_thickness=p["host_thickness"], seeds=int(round(net["cells"])),
                struts=int(len(net["edges"])), nodes=nn, lattice_cell=[float(v) for v in net["c"]])
    return to_dolfinx(comm, make, gdim=3, **info)


def build(comm, p: dict):
    check(p)
    network = "kelvin" if int(p["dim"]) == 3 else "voronoi"  # 3D: Kelvin skeleton; 2D: Voronoi section
    if network == "kelvin":
        if int(p["dim"]) != 3:
            raise GeometryError("geometry.network = 'kelvin' needs geometry.dim = 3")
        return _build_kelvin(comm, p)
    return _build_voronoi(comm, p)
