"""3D random fibre networks on a Cu collector (CNT sponges, carbonised cotton), optionally coated.

``kind = "fibers"``, ``dim = 3``, ``orientation = "random3d"``. Straight cylindrical fibres of
``fiber_diameter`` d along random lines, clipped to the cell [0, W] x [0, D] x [0, H] (W = ``width``,
D = ``depth`` (default W), H = ``host_thickness``), added by random sequential addition (numpy
``default_rng(seed)``) until the clipped, fused fibres fill ``fiber_volume_fraction`` of the layer
(within ``VOLUME_TOL``):

* a line with a random direction, through a uniform random point of the layer or (``CROSS_SHARE`` of
  the candidates) across a random point of a fibre already placed; the direction is isotropic, or with
  its inclination above the collector plane at most ``fiber_max_inclination`` (default 90°: isotropic;
  e.g. "20 deg" for a layered mat): sin(inclination) uniform on [0, sin(max)], azimuth uniform. The
  accepted fibres are somewhat steeper than drawn (connection to the collector favours steep lines):
  mean |u_z| 0.56 instead of 0.5 (isotropic), 0.41 instead of 0.35 (45°) (tests/test_fibers3d.py);
* **fused into one host that touches the collector** (the electron path): a fibre is added only when
  it reaches the collector (its chord ends on z = 0) or crosses a fibre already in the network, so
  the network is connected by construction; candidates that would float are rejected, never built
  (``info["rejected_disconnected"]`` counts them; removed rather than reported, because a conducting
  host's floating pieces would be bipolar electrodes that the equipotential model cannot represent).
  The built host is checked again in the Gmsh model: every host volume (fibres fused where they
  cross; separate clusters join through the collector) must share a face with the collector
  (``info["host_pieces"]``, ``info["host_pieces_on_collector"]``); otherwise GeometryError;
* meshable: two fibres are either apart by at least ``fiber_min_gap`` (default max(0.1 d, 3 t)) or
  cross cleanly (axes ``CROSS_OFFSET`` x d apart, at least ``MIN_CROSS_ANGLE``, the crossing well
  inside both chords and away from every other crossing, so no three fibres share a point); a fibre
  meets every cell face that it cuts at ``MIN_ELEVATION`` or more, cuts it by at least a quarter
  radius or keeps ``fiber_min_gap`` from it, and keeps clear of tangency with the box edges; chords
  are at least ``MIN_CHORD`` x d long.

The layer's solid volume and host surface are known exactly from the layout
(:func:`analytic_measures`: quadrature of the union of the clipped cylinders in each fibre's
cylindrical coordinates, ~1e-3 accurate); the OpenCASCADE volume of the built host is
``info["fiber_volume_fraction"]``. Side faces cut the fibres (the lateral sides are symmetry
planes, as everywhere in licoat); the cell is not periodic. Fibres crossing z = H are cut flat there
(the cut face is host surface); fibres crossing z = 0 are clipped onto the collector
(``host_collector``). Resolved coatings are conformal shells (inflated cylinders, exact offsets of
the union); thin coatings name the host surface ``host_coating``.

Mesh: cells of ``interface_mesh_size`` on the fibre surfaces when the case gives it, else
2πR/``CURVATURE_CELLS``; the faceted (inscribed) fibres are short of the cylinders by up to (2π/n)²/6
in volume and (π/n)²/6 in area for n cells around (1.6 % and 0.4 % at the default; a coarse case with
~13 cells around, ~4 % of the volume). A failing OpenCASCADE/Gmsh draw is retried in a fresh Gmsh with
MeshAdapt surfaces, then Delaunay volumes, then a new draw (``NETWORK_ATTEMPTS``). Cells narrower
than ~8 fibre diameters may not reach the fraction (GeometryError naming it).
"""

from __future__ import annotations

import math

import numpy as np

from licoat.meshes.common import SOLIDS, GeometryError, assemble, host_layout, to_dolfinx
from licoat.meshes.fibers import min_gap

ATTEMPTS = 40000  # random lines tried before the volume fraction is given up
VOLUME_TOL = 0.01  # sought: the layout's solid fraction within this (relative) of the target; 2x: GeometryError
NETWORK_ATTEMPTS = 4  # draws (numpy default_rng([seed, attempt]) after the first) before meshing is given up
ENDGAME_TRIES = 1500  # lines tried for the last gap of volume before the closest fit is taken (or the last fibre removed)
MIN_ELEVATION = math.radians(10.0)  # a fibre meets every cell face it cuts at least at this angle
MIN_CROSS_ANGLE = math.radians(30.0)  # crossing fibres: smallest angle between their axes
CROSS_OFFSET = (0.2, 0.6)  # crossing fibres: distance between their axes, x d
CROSS_SHARE = 0.5  # share of the candidate lines drawn through a fibre already placed (a crossing)
MIN_CHORD = 2.0  # shortest fibre chord in the cell, x d
EDGE_TOL = 0.15  # fibre surfaces keep this x R off tangency with the cell edges
END_MARGIN = 8.0  # primitives reach this x R beyond the cell (their end discs lie outside it)
CURVATURE_CELLS = 20  # cells around a fibre (faceting: volume -1.6 %, area -0.4 % at most)



def check(p) -> None:
    from licoat.meshes.common import check_common

    check_common(p, "width", "fiber_diameter", "fiber_volume_fraction", "host_thickness", "electrolyte_thickness",
                 "mesh_size")
    phi, d = p["fiber_volume_fraction"], p["fiber_diameter"]
    W, D, H = p["width"], p.get("depth", p["width"]), p["host_thickness"]
    if not 0 < phi < 0.5:
        raise GeometryError(f"geometry.fiber_volume_fraction = {phi:g} must lie in (0, 0.5) for a random fibre "
                            "network (orientation = 'random3d'; CNT sponges ~0.01-0.05, cotton ~0.1-0.3)")
    if min(W, D, H) < 2 * MIN_CHORD * d:
        raise GeometryError(f"geometry.fiber_diameter = {d:g} m is too large for a {W:g} x {D:g} x {H:g} m cell "
                            f"(geometry.width, depth and host_thickness must be at least {2 * MIN_CHORD:g} fibre "
                            "diameters for orientation = 'random3d')")
    beta = p.get("fiber_max_inclination", 0.5 * math.pi)
    if not MIN_ELEVATION * 1.5 <= beta <= 0.5 * math.pi + 1e-12:
        raise GeometryError(f"geometry.fiber_max_inclination = {math.degrees(beta):.4g} deg must lie in "
                            f"[{math.degrees(1.5 * MIN_ELEVATION):g}, 90] deg (fibres meet the collector at "
                            f"{math.degrees(MIN_ELEVATION):g} deg or more)")
    if p.get("periodic", False):
        raise GeometryError("geometry.periodic = true is not available for orientation = 'random3d' "
                            "(random lines do not close on a periodic cell); set periodic = false")


# ------------------------------------------------------------------------------------------ layout
def _chord(q, u, L):
    """Parameters (t0, t1) of the line q + t u inside the box [0, L], and the faces (axis, side) it ends on."""
    t0, t1, f0, f1 = -np.inf, np.inf, None, None
    for k in range(3):
        if abs(u[k]) < 1e-14:
            continue
        a, b = (0.0 - q[k]) / u[k], (L[k] - q[k]) / u[k]
        lo, hi = (a, b) if a < b else (b, a)
        slo, shi = (0, 1) if a < b else (1, 0)
        if lo > t0:
            t0, f0 = lo, (k, slo)
        if hi < t1:
            t1, f1 = hi, (k, shi)
    return t0, t1, f0, f1


def _faces_ok(p0, p1, u, L, radii, gap, ends) -> bool:
    """The cylinder meets every cell face plane cleanly (see module doc)."""
    for k in range(3):
        c = abs(float(u[k]))
        s = math.sqrt(max(0.0, 1.0 - c * c))
        for side, b in ((0, 0.0), (1, L[k])):
            a = min(abs(p0[k] - b), abs(p1[k] - b))
            end = (k, side) in ends
            for R in radii:
                m = -R * s if end else a - R * s
                if m >= gap:
                    continue
                if math.asin(min(1.0, c)) < MIN_ELEVATION:
                    return False
                if not end and m > -0.25 * R * s:
                    return False
    return True


def _edges(L):
    out = []
    for k in range(3):
        i, j = [m for m in range(3) if m != k]
        for a in (0.0, L[i]):
            for b in (0.0, L[j]):
                o = np.zeros(3)
                o[i], o[j] = a, b
                e = np.zeros(3)
                e[k] = 1.0
                out.append((o, e, L[k]))
    return out


def _line_line(p, u, q, v):
    """Closest-point parameters (s on p + s u, t on q + t v) and distance of two lines; None if parallel."""
    w = p - q
    b = float(u @ v)
    den = 1.0 - b * b
    if den < 1e-10:
        return None
    d_, e = float(u @ w), float(v @ w)
    s = (b * e - d_) / den
    t = (e - b * d_) / den
    return s, t, float(np.linalg.norm(w + s * u - t * v))


def _edges_ok(p0, u, edges, radii, tol) -> bool:
    for o, e, le in edges:
        r = _line_line(p0, u, o, e)
        if r is None:
            continue
        _, t, dist = r
        if -radii[-1] <= t <= le + radii[-1] and any(abs(dist - R) < tol for R in radii):
            return False
    return True


def _seg_dist(p, u, L1, q, v, L2):
    """Distance between the segments p + [0, L1] u and q + [0, L2] v (clamped closest points)."""
    w = p - q
    b, d_, e = float(u @ v), float(u @ w), float(v @ w)
    den = 1.0 - b * b
    s = 0.0 if den < 1e-12 else min(max((b * e - d_) / den, 0.0), L1)
    t = min(max(e + b * s, 0.0), L2)
    s = min(max(b * t - d_, 0.0), L1)
    t = min(max(e + b * s, 0.0), L2)
    return float(np.linalg.norm(w + s * u - t * v))


def overlap_volume(R: float, offset: float, angle: float, n: int = 400) -> float:
    """Volume shared by two infinite cylinders of radius R whose axes cross at ``angle`` a distance
    ``offset`` apart: (1/sin angle) ∫ 4 √(R² − z²) √(R² − (z − offset)²) dz (the cross-section at height z
    across the common normal is a parallelogram of the two strip widths); 16R³/3 for a right angle and
    offset 0 (Steinmetz)."""
    if offset >= 2 * R:
        return 0.0
    z = np.linspace(offset - R, R, n + 1)
    zm = 0.5 * (z[1:] + z[:-1])
    f = 4 * np.sqrt(np.clip(R * R - zm ** 2, 0, None)) * np.sqrt(np.clip(R * R - (zm - offset) ** 2, 0, None))
    return float(f.sum() * (z[1] - z[0]) / math.sin(angle))


def _disc_grid(R, nr=12, npsi=48):
    rho = (np.arange(nr) + 0.5) / nr * R
    psi = (np.arange(npsi) + 0.5) / npsi * 2 * math.pi
    rr, pp = np.meshgrid(rho, psi, indexing="ij")
    w = (rr * (R / nr) * (2 * math.pi / npsi)).ravel()
    return rr.ravel(), pp.ravel(), w


def _frame(u):
    h = np.array([1.0, 0, 0]) if abs(u[0]) < 0.9 else np.array([0, 1.0, 0])
    e1 = np.cross(u, h)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(u, e1)


def clipped_volume(p0, u, Lc, R, L, nt_per_R=6, nr=12, npsi=48) -> float:
    """Volume of the infinite cylinder of radius R along p0 + t u inside the box [0, L] (midpoint quadrature)."""
    m = END_MARGIN * R
    nt = max(8, int(math.ceil((Lc + 2 * m) / R * nt_per_R)))
    t = -m + (np.arange(nt) + 0.5) * (Lc + 2 * m) / nt
    rr, pp, w = _disc_grid(R, nr, npsi)
    e1, e2 = _frame(u)
    off = rr[:, None] * np.cos(pp)[:, None] * e1 + rr[:, None] * np.sin(pp)[:, None] * e2  # (k, 3)
    X = p0 + t[:, None, None] * u + off[None, :, :]
    inside = np.all((X >= 0) & (X <= L), axis=2)
    return float((inside * w[None, :]).sum() * (Lc + 2 * m) / nt)


def layout(p) -> list[list[float]]:
    """Fibres as [x0, y0, z0, ux, uy, uz, length]: the chord from (x0, y0, z0) along the unit direction u
    inside the cell (SI), of the first draw (the mesh's ``info["attempt"]`` says which draw it meshed).
    Deterministic for ``seed``. Raises GeometryError if the fraction is not reached."""
    return _layout(p)["fibres"]


def _layout(p, attempt: int = 0) -> dict:
    W, D, H, d = p["width"], p.get("depth", p["width"]), p["host_thickness"], p["fiber_diameter"]
    R, phi, gap = d / 2, p["fiber_volume_fraction"], min_gap(p)
    t = p.get("coating_thickness", 0.0) if p.get("coating_model", "resolved") == "resolved" else 0.0
    radii = [R] + ([R + t] if t > 0 else [])
    L = np.array([W, D, H], dtype=float)
    beta = float(p.get("fiber_max_inclination", 0.5 * math.pi))
    seed = int(p.get("seed", 0))
    rng = np.random.default_rng(seed if attempt == 0 else [seed, attempt])
    edges = _edges(L)
    target = phi * W * D * H
    fibres, crossings, vol = [], [], 0.0  # fibres: (p0, u, Lc); crossings: points
    counts = dict(rejected_disconnected=0, collector_contacts=0)
    lo_off, hi_off = CROSS_OFFSET[0] * d, CROSS_OFFSET[1] * d
    best, endgame = None, 0  # endgame: the closest fit to the last gap of volume
    history = []
    counts["backtracked"] = 0

    def add(fibre, new_x, v_new, on_collector):
        nonlocal vol
        fibres.append(fibre)
        crossings.extend(new_x)
        vol += v_new
        counts["collector_contacts"] += int(on_collector)
        history.append((fibre, len(new_x), v_new, on_collector))
    vmax = math.pi * R * R * float(np.linalg.norm(L))
    for _ in range(ATTEMPTS):
        if vol >= target * (1 - VOLUME_TOL):
            break
        if endgame >= ENDGAME_TRIES:  # no fit for the last gap: the closest within tolerance, or backtrack
            if best is not None and abs(best[0]) <= 2 * VOLUME_TOL * target:
                add(*best[1:])
                break
            if len(fibres) > 1:  # the last fibre carries no other (it was added last): take it out
                p_, n_x, v_, c_ = history.pop()
                fibres.pop()
                del crossings[len(crossings) - n_x:]
                vol -= v_
                counts["collector_contacts"] -= int(c_)
                counts["backtracked"] += 1
            best, endgame = None, 0
            continue
        uz = rng.uniform(0, math.sin(beta))
        az = rng.uniform(0, 2 * math.pi)
        u = np.array([math.sqrt(1 - uz * uz) * math.cos(az), math.sqrt(1 - uz * uz) * math.sin(az), uz])
        q = rng.uniform(0, 1, 3) * L
        if fibres and rng.uniform() < CROSS_SHARE:  # a line that crosses a fibre of the network
            q0, v, L2 = fibres[int(rng.integers(len(fibres)))]
            nrm = np.cross(u, v)
            if np.linalg.norm(nrm) > 1e-6:
                q = (q0 + rng.uniform(0, L2) * v
                     + rng.choice([-1, 1]) * rng.uniform(*CROSS_OFFSET) * d * nrm / np.linalg.norm(nrm))
                if np.any(q < 0) or np.any(q > L):
                    continue
        t0, t1, f0, f1 = _chord(q, u, L)
        Lc = t1 - t0
        if Lc < MIN_CHORD * d:
            continue
        deficit = target - vol
        endgame += deficit < vmax  # tries since the last fibre, once one fibre could close the gap
        if deficit < vmax and math.pi * R * R * Lc - 2 * d ** 3 > deficit + VOLUME_TOL * target:
            continue  # too long for the gap that is left, even with overlaps
        p0 = q + t0 * u
        p1 = q + t1 * u
        if not _faces_ok(p0, p1, u, L, radii, gap, {f0, f1}):
            continue
        if not _edges_ok(p0, u, edges, radii, EDGE_TOL * R):
            continue
        ok, new_x, v_ov = True, [], 0.0
        for (q0, v, L2) in fibres:
            if _seg_dist(p0, u, Lc, q0, v, L2) >= d + gap:
                continue
            r = _line_line(p0, u, q0, v)
            if r is None:
                ok = False
                break
            s1, s2, dist = r
            ang = math.acos(min(1.0, abs(float(u @ v))))
            margin = R / math.sin(max(ang, 1e-3)) + R + gap
            if not (lo_off <= dist <= hi_off and ang >= MIN_CROSS_ANGLE and margin <= s1 <= Lc - margin
                    and margin <= s2 <= L2 - margin):
                ok = False
                break
            x = 0.5 * (p0 + s1 * u + q0 + s2 * v)
            if np.any(np.abs(x - np.clip(x, d + gap, L - d - gap)) > 0):  # crossing away from the faces
                ok = False
                break
            new_x.append(x)
            v_ov += overlap_volume(R, dist, ang)
        if not ok:
            continue
        # no three fibres at one place: the new axis keeps off the existing crossings, crossings apart
        pts = crossings + new_x
        if crossings:
            C = np.array(crossings)
            rel = C - p0
            perp = rel - (rel @ u)[:, None] * u
            if np.any(np.linalg.norm(perp, axis=1) < d + gap):
                continue
        if len(pts) > 1:
            P = np.array(pts)
            for i, x in enumerate(new_x):
                dd = np.linalg.norm(P - x, axis=1)
                dd[len(crossings) + i] = np.inf
                if np.any(dd < 2 * d + gap):
                    ok = False
                    break
        if not ok:
            continue
        on_collector = (2, 0) in (f0, f1)
        if not on_collector and not new_x:
            counts["rejected_disconnected"] += 1
            continue
        v_new = clipped_volume(p0, u, Lc, R, L) - v_ov
        if vol + v_new > target * (1 + VOLUME_TOL):
            if abs(vol + v_new - target) < abs(vol - target) and (best is None or
                                                                 abs(vol + v_new - target) < abs(best[0])):
                best = (vol + v_new - target, (p0, u, Lc), new_x, v_new, on_collector)
            continue
        add((p0, u, Lc), new_x, v_new, on_collector)
        best, endgame = None, 0
    if abs(vol - target) > 2 * VOLUME_TOL * target:
        raise GeometryError(
            f"geometry.fiber_volume_fraction = {phi:g} cannot be reached with a connected random network of fibres "
            f"of geometry.fiber_diameter = {d:g} m and gap {gap:g} m in a {W:g} x {D:g} x {H:g} m layer "
            f"(reached {vol / (W * D * H):.4f} in {ATTEMPTS} tries; lower the fraction or the gap, or enlarge the cell)")
    return dict(fibres=[[*map(float, p0), *map(float, u), float(Lc)] for p0, u, Lc in fibres],
                crossings=len(crossings), layout_volume_fraction=vol / (W * D * H), **counts)


# ------------------------------------------------------------------------------- exact measures
def analytic_measures(p, fibres, nt_per_R=10, npsi=96, nr=16, plane_cells=400) -> dict:
    """Volume, host surface (lateral surface outside the other fibres, plus the flat cuts at z = H) and
    collector contact area of the union of the clipped cylinders, from the layout alone (SI): midpoint
    quadrature in each fibre's cylindrical coordinates, every point counted once (a point of fibre i
    is skipped when it lies in a fibre j < i; a surface point of fibre i when it lies in any other)."""
    W, D, H, R = p["width"], p.get("depth", p["width"]), p["host_thickness"], p["fiber_diameter"] / 2
    L = np.array([W, D, H], dtype=float)
    F = [(np.array(f[:3]), np.array(f[3:6]), f[6]) for f in fibres]

    def inside(X, j):
        q0, v, _ = F[j]
        rel = X - q0
        return np.linalg.norm(rel - (rel @ v)[..., None] * v, axis=-1) < R

    vol = lateral = 0.0
    rr, pp, w = _disc_grid(R, nr, npsi)
    psi = (np.arange(npsi) + 0.5) / npsi * 2 * math.pi
    m = END_MARGIN * R
    for i, (p0, u, Lc) in enumerate(F):
        nt = max(8, int(math.ceil((Lc + 2 * m) / R * nt_per_R)))
        dt = (Lc + 2 * m) / nt
        t = -m + (np.arange(nt) + 0.5) * dt
        e1, e2 = _frame(u)
        near = [j for j in range(len(F)) if j != i and _seg_dist(p0 - m * u, u, Lc + 2 * m, F[j][0] - m * F[j][1],
                                                                   F[j][1], F[j][2] + 2 * m) < 2 * R]
        off = rr[:, None] * np.cos(pp)[:, None] * e1 + rr[:, None] * np.sin(pp)[:, None] * e2
        X = p0 + t[:, None, None] * u + off[None]
        keep = np.all((X >= 0) & (X <= L), axis=2)
        for j in near:
            if j < i:
                keep &= ~inside(X, j)
        vol += float((keep * w).sum() * dt)
        S = p0 + t[:, None, None] * u + R * (np.cos(psi)[:, None] * e1 + np.sin(psi)[:, None] * e2)[None]
        keep = np.all((S > 0) & (S < L), axis=2)
        for j in near:
            keep &= ~inside(S, j)
        lateral += float(keep.sum() * R * (2 * math.pi / npsi) * dt)

    def plane_area(z):
        n = plane_cells
        x = (np.arange(n) + 0.5) / n * W
        y = (np.arange(n) + 0.5) / n * D
        X = np.stack(np.meshgrid(x, y, [z], indexing="ij"), axis=-1).reshape(-1, 3)
        hit = np.zeros(len(X), bool)
        for j in range(len(F)):
            hit |= inside(X, j)
        return float(hit.sum() * W * D / n / n)

    top, bottom = plane_area(H), plane_area(0.0)
    return dict(volume=vol, volume_fraction=vol / (W * D * H), lateral_area=lateral, top_cut_area=top,
                host_surface_area=lateral + top, collector_contact_area=bottom,
                specific_surface_area=(lateral + top) / (W * D * H))


# ------------------------------------------------------------------------------------ the model
def _network_model(gmsh, lay: dict, W: float, D: float, H: float, primitives, h_fibres: float) -> dict:
    """:func:`licoat.meshes.common.host_model` (the same bodies, shells and tags, µm) with the fibre
    curvature resolved: cells of ``h_fibres`` on the fibre surfaces (``interface_mesh_size`` when the case
    gives it, else 2πR/``CURVATURE_CELLS``, finer than the default mesh_size/4 elsewhere; a Distance
    field: Gmsh's curvature sizing is ~10x slower on these trimmed cylinders). The faceted surface is inscribed: with n facets around a fibre, the volume is
    short by (2π/n)²/6 and the area by (π/n)²/6 (at most; the facets are not all across the axis)."""
    occ = gmsh.model.occ

    def clipped(off):
        prims = primitives(gmsh, off)
        if len(prims) > 1:
            prims, _ = occ.fuse(prims[:1], prims[1:])
        out, _ = occ.intersect(prims, [(3, occ.addBox(0, 0, 0, W, D, H + off))])
        return out

    host = clipped(0.0)
    coll = [(3, occ.addBox(0, 0, -lay["Hc"], W, D, lay["Hc"]))]
    shell = []
    for t in lay.get("offsets") or []:
        shell.append(occ.fuse(clipped(t), [(3, occ.addBox(0, 0, 0, W, D, t))])[0])
    tags = assemble(gmsh, 3, (W, D, -lay["Hc"], H + lay["L"]), {"host": host, "collector": coll}, shell,
                    lay["mode"], False)
    coat_surf, h_coat = [], None
    if lay["t_res"] > 0:
        layers = set(tags["regions"]) - set(SOLIDS) - {"electrolyte"}
        coat_surf = sorted({f for n, fs in tags["facets"].items() if any(part in n for part in layers) for f in fs})
        h_coat = min(np.diff([0.0] + lay["offsets"])) / float(lay.get("coating_cells", 2))
    fac = tags["facets"]
    fibre_surf = sorted({f for n in ("host_electrolyte", "host_coating") for f in fac.get(n, [])})
    h, h_fine = lay["h"], lay["h_fine"]
    h_fib = h_fibres
    field = gmsh.model.mesh.field
    ths = []
    extent = max(W, D, H + lay["L"])
    for ents, smin, dmin, dmax, spacing in (
            (sorted(set(tags["interfaces"]) - set(fibre_surf) - set(coat_surf)), h_fine, 0.5 * h_fine,
             0.5 * h_fine + 2 * h, h_fine),
            (fibre_surf, h_fib, 0.5 * h_fib, 0.5 * h_fib + 2 * h, h_fib),
            (coat_surf, h_coat, lay["t_res"], lay["t_res"] + 3 * h_fib, max(h_coat or 0.0, lay["t_res"]))):
        if not ents or smin is None or smin >= h:
            continue
        dist = field.add("Distance")
        field.setNumbers(dist, "SurfacesList", ents)
        field.setNumber(dist, "Sampling", int(min(400, max(20, math.ceil(extent / spacing)))))
        th = field.add("Threshold")
        field.setNumber(th, "InField", dist)
        for k, v in (("SizeMin", smin), ("SizeMax", h), ("DistMin", dmin), ("DistMax", dmax)):
            field.setNumber(th, k, v)
        ths.append(th)
    if ths:
        mn = field.add("Min")
        field.setNumbers(mn, "FieldsList", ths)
        field.setAsBackgroundMesh(mn)
    opt = gmsh.option
    for k, v in (("Mesh.MeshSizeExtendFromBoundary", 0), ("Mesh.MeshSizeFromPoints", 0),
                 ("Mesh.MeshSizeFromCurvature", 0), ("Mesh.MeshSizeMax", h),
                 ("Mesh.MeshSizeMin", min(h_fib, h_coat or np.inf)), ("Mesh.Algorithm", lay.get("algorithm2d", 6)),
                 ("Mesh.Algorithm3D", int(lay.get("algorithm3d", 10))), ("General.NumThreads", 1)):
        opt.setNumber(k, v)
    gmsh.model.mesh.generate(3)
    if not sum(len(e) for e in gmsh.model.mesh.getElements(3)[1]):  # Gmsh may give up without raising
        raise RuntimeError("no 3D elements (the surface mesh intersects itself)")
    return tags


def _fresh(gmsh) -> None:
    """A clean Gmsh after a failed try (gmsh.clear() keeps state that makes the next try fail too)."""
    terminal, verbosity = gmsh.option.getNumber("General.Terminal"), gmsh.option.getNumber("General.Verbosity")
    gmsh.finalize()
    gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", terminal)
    gmsh.option.setNumber("General.Verbosity", verbosity)
    gmsh.model.add("licoat")


def build(comm, p):
    check(p)
    lay = host_layout(p)
    lay.update(coating_cells=p.get("coating_cells", 2), curvature_cells=CURVATURE_CELLS)
    um = lay["um"]
    W, D, H = p["width"] * um, p.get("depth", p["width"]) * um, p["host_thickness"] * um
    R = p["fiber_diameter"] / 2 * um
    m = END_MARGIN * R
    # fibre surfaces: interface_mesh_size where the case gives it, else CURVATURE_CELLS cells around
    h_fibres = (p["interface_mesh_size"] * um if p.get("interface_mesh_size") is not None
                else min(2 * math.pi * R / CURVATURE_CELLS, lay["h_fine"]))

    def primitives_for(fibres):
        def primitives(gmsh, off):
            occ = gmsh.model.occ
            out = []
            for f in fibres:
                p0, u, Lc = np.array(f[:3]) * um, np.array(f[3:6]), f[6] * um
                out.append((3, occ.addCylinder(*(p0 - m * u), *((Lc + 2 * m) * u), R + off)))
            return out
        return primitives

    def connected(gmsh, tags):
        hosts = tags["regions"].get("host", [])
        coll = set(tags["regions"].get("collector", []))
        coll_faces = {abs(f) for c in coll for _, f in gmsh.model.getBoundary([(3, c)], combined=False, oriented=False)}
        touching = sum(bool({abs(f) for _, f in gmsh.model.getBoundary([(3, v)], combined=False, oriented=False)}
                            & coll_faces) for v in hosts)
        if touching < len(hosts):
            raise GeometryError(f"the fibre network for geometry.seed = {p.get('seed', 0)} has {len(hosts) - touching} "
                                "host piece(s) without contact to the collector (a conducting host must be connected)")
        vhost = sum(gmsh.model.occ.getMass(3, v) for v in hosts)
        return dict(host_pieces=len(hosts), host_pieces_on_collector=touching, fiber_volume_fraction=vhost / (W * D * H))

    def make(gmsh):
        gmsh.option.setNumber("Geometry.OCCParallel", 1)
        last = None
        for attempt in range(NETWORK_ATTEMPTS):
            try:
                lay_f = _layout(p, attempt)
            except GeometryError as exc:
                if attempt == 0:
                    raise
                last = str(exc)
                continue
            # on the same network: Frontal-Delaunay surfaces, then MeshAdapt ones; HXT, then Delaunay volumes
            for alg2, alg in dict.fromkeys([(6, lay["algorithm3d"]), (1, lay["algorithm3d"]), (1, 1)]):
                try:
                    tags = _network_model(gmsh, {**lay, "algorithm3d": alg, "algorithm2d": alg2}, W, D, H,
                                          primitives_for(lay_f["fibres"]), h_fibres)
                    out = connected(gmsh, tags)
                except GeometryError:
                    raise
                except Exception as exc:  # noqa: BLE001 - OpenCASCADE/Gmsh failure on this draw: try again
                    last = f"{exc} (surface algorithm {alg2}, volume algorithm {alg}, draw {attempt})"
                    _fresh(gmsh)
                    continue
                lay_f["n_fibres"] = len(lay_f["fibres"])
                return {**lay_f, **out, "attempt": attempt, "algorithm2d": alg2, "algorithm3d": alg}
        raise GeometryError(f"could not mesh a random fibre network for geometry.seed = {p.get('seed', 0)} in "
                            f"{NETWORK_ATTEMPTS} draws: {last}")

    info = dict(kind="fibers", orientation="random3d", coating_thickness=lay["t"] / um, coating_model=lay["mode"],
                periodic=False, host_thickness=p["host_thickness"],
                connectivity="fibres are added only when they reach the collector or cross the network")
    return to_dolfinx(comm, make, gdim=3, **info)
