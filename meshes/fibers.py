"""Fibre-mat hosts on a Cu collector (e.g. carbon-fibre or polymer-fibre scaffolds), optionally coated.

Fibres of diameter ``fiber_diameter`` fill the host layer 0 <= z <= ``host_thickness`` at
``fiber_volume_fraction`` with at least ``fiber_min_gap`` (default max(0.1 d, 3 t)) between fibres
and to the layer faces (fibres do not touch the collector, so there is no ``host_collector``).

``orientation = "aligned"``: fibres along y on a rectangular nx x nz lattice (positions (i+½)W/nx,
(j+½)H/nz), so the cell is mirror-symmetric; (nx, nz) is the lattice whose fibre count is closest to
the requested fraction (``info["fiber_volume_fraction"]`` is the one built). In 2D the fibres are
circles (the cross-section).

``orientation = "random-in-plane"`` (3D): random sequential addition with numpy ``default_rng(seed)``.
Every fibre axis lies in a horizontal plane at a random height, with a random in-plane offset and a
random direction drawn from the lattice directions (a W, b D), gcd(a, b) = 1, |a|, |b| <= 2
(``fiber_max_index``), i.e. the directions along which a straight fibre closes on the periodic cell:
each fibre crosses the cell and wraps around through its periodic copies, with no ends inside the
cell, and the geometry is periodic in x and y. Non-parallel fibres must be separated vertically
by d + gap, parallel ones by d + gap in the (periodic) distance between axes. In 2D, random
positions of fibre cross-sections (periodic in x). An unreachable fraction raises GeometryError.
"""

from __future__ import annotations

import math

import numpy as np

from licoat.meshes.common import GMSH_UNIT, GeometryError, check_common, host_layout, host_model, to_dolfinx

FIBER_MAX_INDEX = 2  # random-in-plane fibres: lattice directions (a, b) with |a|, |b| <= this
FIBER_ATTEMPTS = 20000  # random placements tried before the volume fraction is given up


def min_gap(p) -> float:
    """Smallest electrolyte gap between fibres, m: ``fiber_min_gap`` or max(0.1 d, 3 t) (t: a resolved coating)."""
    d = p["fiber_diameter"]
    t = p.get("coating_thickness", 0.0) if p.get("coating_model", "resolved") == "resolved" else 0.0
    gap = p.get("fiber_min_gap")
    if gap is None:
        return max(0.1 * d, 3.0 * t)
    if 2 * t >= 0.9 * gap:
        raise GeometryError(f"coating.thickness = {t:g} m must be smaller than half geometry.fiber_min_gap = {gap:g} m")
    return gap


def aligned_layout(p: dict) -> list[tuple]:
    W, H, d = p["width"], p["host_thickness"], p["fiber_diameter"]
    r, phi, gap = d / 2, p["fiber_volume_fraction"], min_gap(p)
    target = phi * W * H / (math.pi * r * r)
    best = None
    for nx in range(1, int(W / (d + gap)) + 1):
        for nz in range(1, int(H / (d + gap)) + 1):
            sx, sz = W / nx, H / nz
            if sz / 2 - r < gap:  # clearance to the collector and to the layer top
                continue
            err = abs(nx * nz - target) / target
            score = (round(err, 6), abs(math.log(sx / sz)))
            if best is None or score < best[0]:
                best = (score, nx, nz)
    if best is None or best[0][0] > 0.05:
        reach = 0.0 if best is None else best[1] * best[2] * math.pi * r * r / (W * H)
        raise GeometryError(
            f"geometry.fiber_volume_fraction = {phi:g} cannot be built with aligned fibres of geometry.fiber_diameter = "
            f"{d:g} m and gap {gap:g} m in geometry.width = {W:g} m x geometry.host_thickness = {H:g} m "
            f"(closest lattice gives {reach:.3f})")
    _, nx, nz = best
    return [("y", (i + 0.5) * W / nx, (j + 0.5) * H / nz) for i in range(nx) for j in range(nz)]


def _directions(W, D, kmax, clearance):
    out = []
    for a in range(0, kmax + 1):
        for b in range(-kmax, kmax + 1):
            if (a == 0 and b <= 0) or math.gcd(a, abs(b)) != 1:
                continue
            v = np.array([a * W, b * D])
            if W * D / np.linalg.norm(v) >= clearance:  # self-clearance of the wrapped fibre
                out.append((a, b))
    return out


def random_layout(p: dict) -> list[tuple]:
    """3D: fibres (a, b, s, z): direction (aW, bD), perpendicular offset s, height z (SI)."""
    W, D, H, d = p["width"], p.get("depth", p["width"]), p["host_thickness"], p["fiber_diameter"]
    r, phi, gap = d / 2, p["fiber_volume_fraction"], min_gap(p)
    rng = np.random.default_rng(int(p.get("seed", 0)))
    dirs = _directions(W, D, FIBER_MAX_INDEX, d + gap)
    zlo, zhi = r + gap, H - r - gap
    if zhi < zlo or not dirs:
        raise GeometryError(f"geometry.host_thickness = {H:g} m is too thin for geometry.fiber_diameter = {d:g} m "
                            f"plus a gap of {gap:g} m")
    target = phi * W * D * H
    corners = np.array([[0, 0], [W, 0], [0, D], [W, D]], dtype=float)
    fibres, vol = [], 0.0
    tol_t = 0.05 * d
    for _ in range(FIBER_ATTEMPTS):
        a, b = dirs[rng.integers(len(dirs))]
        v = np.array([a * W, b * D])
        lv = np.linalg.norm(v)
        vf = math.pi * r * r * lv
        if vol + vf > target + 0.5 * vf:
            if vol + math.pi * r * r * min(W, D) > target + 0.5 * math.pi * r * r * min(W, D):
                break
            continue
        nrm = np.array([-v[1], v[0]]) / lv
        P = W * D / lv
        s = float(rng.uniform(0, P))
        z = float(rng.uniform(zlo, zhi))
        # no near-tangency between the fibre surface and the vertical cell edges / faces
        m = (corners @ nrm - s) % P
        dc = np.minimum(m, P - m)
        if np.any(np.abs(dc - r) < tol_t):
            continue
        ok = True
        for a2, b2, s2, z2 in fibres:
            dz = abs(z - z2)
            if dz >= d + gap:
                continue
            if (a2, b2) != (a, b):
                ok = False
                break
            m2 = (s - s2) % P
            if math.hypot(min(m2, P - m2), dz) < d + gap:
                ok = False
                break
        if ok:
            fibres.append((a, b, s, z))
            vol += vf
    if vol < target - max(0.02 * target, 0.5 * math.pi * r * r * min(W, D)):
        raise GeometryError(
            f"geometry.fiber_volume_fraction = {phi:g} cannot be packed with random-in-plane fibres of "
            f"geometry.fiber_diameter = {d:g} m and gap {gap:g} m in a {W:g} x {D:g} x {H:g} m host layer "
            f"(reached {vol / (W * D * H):.3f}; lower the fraction or the gap, or increase geometry.host_thickness)")
    return fibres


def random_layout_2d(p: dict) -> list[tuple]:
    W, H, d = p["width"], p["host_thickness"], p["fiber_diameter"]
    r, phi, gap = d / 2, p["fiber_volume_fraction"], min_gap(p)
    rng = np.random.default_rng(int(p.get("seed", 0)))
    target = phi * W * H
    a1 = math.pi * r * r
    n = int(round(target / a1))
    pts = []
    for _ in range(FIBER_ATTEMPTS):
        if len(pts) >= n:
            break
        x, z = rng.uniform(0, W), rng.uniform(r + gap, H - r - gap)
        if abs(min(x, W - x) - r) < 0.05 * d:
            continue
        if all(math.hypot(min(abs(x - x2), W - abs(x - x2)), z - z2) >= d + gap for x2, z2 in pts):
            pts.append((x, z))
    if len(pts) < n or n == 0:
        raise GeometryError(
            f"geometry.fiber_volume_fraction = {phi:g} cannot be packed with fibres of geometry.fiber_diameter = "
            f"{d:g} m and gap {gap:g} m in geometry.width = {W:g} m x geometry.host_thickness = {H:g} m "
            f"(placed {len(pts)} of {n})")
    return [("y", x, z) for x, z in pts]


def layout(p: dict) -> list[tuple]:
    orient = p.get("orientation", "aligned")
    if orient == "aligned":
        return aligned_layout(p)
    if orient != "random-in-plane":
        raise GeometryError(f"geometry.orientation = '{orient}' must be 'aligned', 'random-in-plane' or 'random3d' "
                            "(3D random networks: meshes/fibers3d.py)")
    return random_layout_2d(p) if int(p["dim"]) == 2 else random_layout(p)


def check(p: dict) -> None:
    check_common(p, "width", "fiber_diameter", "fiber_volume_fraction", "host_thickness", "electrolyte_thickness",
                 "mesh_size")
    phi = p["fiber_volume_fraction"]
    if not 0 < phi < 1:
        raise GeometryError(f"geometry.fiber_volume_fraction = {phi:g} must lie in (0, 1)")
    if p["fiber_diameter"] >= p["host_thickness"]:
        raise GeometryError(f"geometry.fiber_diameter = {p['fiber_diameter']:g} m must be smaller than "
                            f"geometry.host_thickness = {p['host_thickness']:g} m")


def fibre_volume(p: dict, fibres) -> float:
    """Exact fibre volume (area in 2D) inside the cell (SI)."""
    r = p["fiber_diameter"] / 2
    W, D = p["width"], p.get("depth", p["width"])
    if int(p["dim"]) == 2:
        return len(fibres) * math.pi * r * r
    if fibres and fibres[0][0] == "y":
        return len(fibres) * math.pi * r * r * D
    return sum(math.pi * r * r * math.hypot(a * W, b * D) for a, b, _, _ in fibres)


def build(comm, p: dict):
    if p.get("orientation", "aligned") == "random3d":  # a 3D random network (sponge, cotton)
        if int(p["dim"]) != 3:
            raise GeometryError(f"geometry.orientation = 'random3d' needs geometry.dim = 3 (got {p['dim']})")
        from licoat.meshes import fibers3d

        return fibers3d.build(comm, p)
    if p.get("fiber_max_inclination") is not None:
        raise GeometryError("geometry.fiber_max_inclination applies to orientation = 'random3d' only "
                            f"(got orientation = '{p.get('orientation', 'aligned')}')")
    check(p)
    fibres = layout(p)  # deterministic from the seed: identical on every rank
    lay = host_layout(p)
    lay.update(coating_cells=p.get("coating_cells", 2))  # 3D algorithm: host_layout
    um, dim = lay["um"], lay["dim"]
    W, D, H = p["width"] * um, p.get("depth", p["width"]) * um, p["host_thickness"] * um
    r = p["fiber_diameter"] / 2 * um
    corners = np.array([[0, 0], [W, 0], [0, D], [W, D]], dtype=float)

    def primitives(gmsh, off):
        occ = gmsh.model.occ
        R = r + off
        out = []
        for f in fibres:
            if f[0] == "y":
                x, z = f[1] * um, f[2] * um
                xs = [x] + ([x + W] if x < R else []) + ([x - W] if x > W - R else [])
                for xi in xs:
                    if dim == 2:
                        out.append((2, occ.addDisk(xi, z, 0, R, R)))
                    else:
                        out.append((3, occ.addCylinder(xi, -1.0, z, 0, D + 2.0, 0, R)))
                continue
            a, b, s, z = f
            s, z = s * um, z * um
            v = np.array([a * W, b * D])
            lv = np.linalg.norm(v)
            u, nrm = v / lv, np.array([-v[1], v[0]]) / lv
            P = W * D / lv
            proj = corners @ nrm
            half = 0.5 * math.hypot(W, D) + R + 1.0
            ctr = np.array([W / 2, D / 2])
            for m in range(int(math.floor((proj.min() - R - s) / P)) - 1, int(math.ceil((proj.max() + R - s) / P)) + 2):
                sm = s + m * P
                if sm < proj.min() - R or sm > proj.max() + R:
                    continue
                c = ctr + (sm - ctr @ nrm) * nrm
                p0 = c - half * u
                out.append((3, occ.addCylinder(p0[0], p0[1], z, 2 * half * u[0], 2 * half * u[1], 0, R)))
        return out

    def make(gmsh):
        host_model(gmsh, lay, W, D, H, primitives)
        return {}

    vf = fibre_volume(p, fibres)
    layer = p["width"] * p["host_thickness"] * (1 if dim == 2 else p.get("depth", p["width"]))
    info = dict(kind="fibers", coating_thickness=lay["t"] / um, coating_model=lay["mode"], periodic=lay["periodic"],
                host_thickness=p["host_thickness"], fibres=[list(f) for f in fibres], n_fibres=len(fibres),
                fiber_volume_fraction=vf / layer,
                fibre_surface_exact=vf * 2 / (p["fiber_diameter"] / 2))
    return to_dolfinx(comm, make, gdim=dim, **info)
