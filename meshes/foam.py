"""Open-cell metal foam hosts on a Cu collector (e.g. Cu or Ni foam), optionally coated.

The struts are the edges of a periodic Voronoi tessellation of random seeds in the host layer
[0, W] x [0, D] x [0, host_thickness] (periodic in all three directions; numpy
``default_rng(seed)``; seeds keep a hard-core distance of 0.7 pore sizes, and Voronoi vertices closer than
``merge_fraction`` (0.2) pore sizes are merged, so that cells are
reasonably regular). The number of seeds is round(W D H / pore_size³): ``pore_size`` is the cube
root of the mean cell volume. Struts are cylinders of diameter ``strut_diameter`` with a sphere of
``node_factor`` (1.25) times that diameter at every node (foam nodes are thicker than struts; equal
radii would make tangent cylinder/sphere junctions that OpenCASCADE cannot fuse cleanly), fused and clipped to the host layer: they rest on the collector
(``host_collector``) and are cut flat at the layer top. The cell is periodic in x and y (the
tessellation is), so ``periodic`` meshes have matching facets. Given ``porosity`` instead of
``strut_diameter``, the diameter is found by bisection (secant steps, bracketed) on the host
volume measured by OpenCASCADE, to 0.2 % in porosity; the porosity refers to the bare foam (a
coating fills a further ≈ a·t). In 2D the same construction on a periodic planar Voronoi diagram
(struts are bars, nodes discs).
"""

from __future__ import annotations

import math

import numpy as np

from licoat.meshes.common import GMSH_UNIT, GeometryError, check_common, host_layout, host_model, to_dolfinx


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

    for i, j in sorted(cKDTree(V).query_pairs(float(p.get("merge_fraction", 0.2)) * a)):
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


def build(comm, p: dict):
    check(p)
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
    node_factor = float(p.get("node_factor", 1.25))

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
        for it in range(int(p.get("porosity_iterations", 12))):
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
        for attempt in range(int(p.get("foam_attempts", 12))):
            if attempt:
                state["segs"] = tessellation(p, attempt)[0] * um
            R, extra = strut_radius(gmsh)
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
