"""Coating defects: pinholes and cracks in a film on a planar Li anode, and their layout.

A defect is a gap in the coating through all of it (``depth`` = 1, "through") or through its top
fraction ``depth``, filled with electrolyte:

* ``pinholes``: vertical cylinders of ``radius`` a, centres on a square lattice of ``spacing`` s
  (centres at ((i + 1/2) s, (j + 1/2) s)) or placed at random (``seed``) without overlap;
  defect area fraction f = N π a² / (W D);
* ``cracks``: straight slots of ``width`` w along y (3D) at x = (i + 1/2) s, or at random x;
  f = N w / W.

The layout is computed from the case numbers alone (never from the rank or the mesh), so a seed
gives the same defects on any number of ranks. Resolved films: :func:`build_planar` extrudes a
base (rectangle, or line in 2D) that is fragmented by the defect patches, so that every defect
is bounded by mesh facets, the base mesh is refined to ``size / cells`` along the defect edges and
the vertical layers are graded from that size at the surface. Thin films: the same base, no
coating volume; the film's area-specific resistance becomes a facet field (:func:`asr_field`).

:func:`isolated_pinhole` is the verification geometry: a quarter of a disk electrode of radius a at
the axis of a quarter cylinder (symmetry planes x = 0, y = 0, insulating wall at r = b), the rest
of the base blocked (facet group ``blocked``, zero flux), the counter (``top``) at z = L.
"""

from __future__ import annotations

import math

import numpy as np

from licoat.meshes.common import GMSH_UNIT, GeometryError, graded_layers, reversed_layers, to_dolfinx

KINDS = ("pinholes", "cracks")


# ---------------------------------------------------------------------------------------------- layout
def layout(d: dict, width: float, depth: float | None, dim: int) -> dict:
    """Defect layout from the ``[coating.defects]`` numbers (SI) over a cell ``width`` x ``depth``.

    ``d``: kind, radius | width, spacing | areal_density, placement ("lattice" | "random"), seed,
    depth ("through" or a fraction in (0, 1]). Returns {kind, size, centres, depth, area_fraction}
    (centres: [[x, y], ...] for pinholes, [x, ...] for cracks). Bad numbers raise GeometryError
    naming the ``coating.defects`` key.
    """
    kind = d.get("kind")
    if kind not in KINDS:
        raise GeometryError(f"coating.defects.kind = {kind!r}: must be one of {', '.join(KINDS)}")
    if kind == "pinholes" and dim != 3:
        raise GeometryError("coating.defects.kind = 'pinholes' needs geometry.dim = 3 (2D cells have cracks only)")
    size_key = "radius" if kind == "pinholes" else "width"
    size = d.get(size_key)
    if size is None or not size > 0:
        raise GeometryError(f"coating.defects.{size_key} = {size!r}: required for kind = '{kind}', a length > 0 m")
    dep = d.get("depth", "through")
    frac = 1.0 if dep in (None, "through") else float(dep)
    if not 0 < frac <= 1:
        raise GeometryError(f"coating.defects.depth = {dep!r}: must be 'through' or a fraction in (0, 1]")
    W = float(width)
    Dp = float(depth if depth is not None else width) if dim == 3 else 1.0
    s, n = d.get("spacing"), d.get("areal_density")
    if (s is None) == (n is None):
        raise GeometryError("coating.defects: give exactly one of spacing or areal_density")
    # pinholes: areal_density in 1/m^2 (s = 1/sqrt(n)); cracks: crack length per area, 1/m (s = 1/n)
    key = "spacing" if s is not None else "areal_density"
    if s is None:
        if not n > 0:
            raise GeometryError(f"coating.defects.areal_density = {n!r}: must be > 0")
        s = 1.0 / math.sqrt(n) if kind == "pinholes" else 1.0 / n
    if not s > 0:
        raise GeometryError(f"coating.defects.spacing = {s!r}: must be > 0 m")
    cover = math.pi * size**2 / s**2 if kind == "pinholes" else size / s
    value = d.get(key)
    if cover >= 1.0:
        raise GeometryError(
            f"coating.defects.{key} = {value:g} with {size_key} = {size:g} m gives a defect area fraction "
            f"{cover:.3g} >= 1: more defect area than film")
    placement = d.get("placement", "lattice")
    if placement == "lattice":
        if kind == "pinholes" and 2 * size >= s:
            raise GeometryError(
                f"coating.defects.radius = {size:g} m: must be smaller than spacing/2 = {s / 2:g} m (holes would merge)")
        nx = _lattice_count(W, s, "geometry.width")
        xs = [(i + 0.5) * s for i in range(nx)]
        if kind == "pinholes":
            ny = _lattice_count(Dp, s, "geometry.depth")
            centres = [[x, (j + 0.5) * s] for x in xs for j in range(ny)]
            frac_area = cover  # a symmetric lattice cell: clipped holes at the walls are mirrored
        else:
            centres = xs
            frac_area = cover
    elif placement == "random":
        seed = int(d.get("seed", 0))
        rng = np.random.default_rng(seed)
        if kind == "pinholes":
            count = max(1, int(round(W * Dp / s**2)))
            centres = _random_disks(rng, count, size, W, Dp)
            frac_area = len(centres) * math.pi * size**2 / (W * Dp)
        else:
            count = max(1, int(round(W / s)))
            centres = [[x] for x in _random_disks(rng, count, size / 2, W, None)]
            centres = [c[0] for c in centres]
            frac_area = len(centres) * size / W
    else:
        raise GeometryError(f"coating.defects.placement = {placement!r}: must be 'lattice' or 'random'")
    return {"kind": kind, "size": float(size), "centres": centres, "depth": frac, "area_fraction": float(frac_area),
            "spacing": float(s)}


def _lattice_count(L: float, s: float, key: str) -> int:
    """Number of lattice columns in [0, L]: L must hold a whole number of half spacings (mirror-symmetric cell)."""
    m = 2 * L / s
    if abs(m - round(m)) > 1e-6 * max(1.0, m) or round(m) < 1:
        raise GeometryError(f"{key} = {L:g} m must be a multiple of coating.defects.spacing/2 = {s / 2:g} m "
                            "for a lattice of defects (a mirror-symmetric cell)")
    return int(math.ceil(round(m) / 2))


def _random_disks(rng, count: int, r: float, W: float, D: float | None, tries: int = 20000) -> list:
    """``count`` non-overlapping disks (intervals when D is None) of radius r inside the cell, a gap of
    r/2 between them and from the walls (random sequential adsorption from ``rng`` alone)."""
    pts: list = []
    gap = 0.5 * r
    lo = r + gap
    if W - 2 * lo <= 0 or (D is not None and D - 2 * lo <= 0):
        raise GeometryError(f"coating.defects: defects of size {2 * r:g} m do not fit in the cell")
    for _ in range(tries):
        if len(pts) == count:
            break
        x = rng.uniform(lo, W - lo)
        p = [x] if D is None else [x, rng.uniform(lo, D - lo)]
        if all(sum((a - b) ** 2 for a, b in zip(p, q)) >= (2 * r + gap) ** 2 for q in pts):
            pts.append(p)
    if len(pts) < count:
        raise GeometryError(
            f"coating.defects: could not place {count} non-overlapping random defects of size {2 * r:g} m in the cell "
            f"(placed {len(pts)}); lower areal_density (or raise spacing) or use placement = 'lattice'")
    return [p if D is not None else p[0] for p in pts]


def indicator(lay: dict, x: np.ndarray, dim: int) -> np.ndarray:
    """True where the points ``x`` (N x 3, metres) lie over a defect (horizontal distance test)."""
    x = np.asarray(x)
    out = np.zeros(x.shape[0], dtype=bool)
    a = lay["size"]
    if lay["kind"] == "pinholes":
        for cx, cy in lay["centres"]:
            out |= (x[:, 0] - cx) ** 2 + (x[:, 1] - cy) ** 2 < a * a
    else:
        for cx in lay["centres"]:
            out |= np.abs(x[:, 0] - cx) < 0.5 * a
    return out


def defect_asr(lay: dict, thickness: float, kappa_film: float, kappa_electrolyte: float) -> float:
    """ASR over a defect [Ohm m^2]: the gap (depth f t) in electrolyte in series with the rest of the film,
    f t / kappa_e + (1 - f) t / kappa_c."""
    f = lay["depth"]
    return f * thickness / kappa_electrolyte + (1 - f) * thickness / kappa_film


def lognormal_factor(het: dict, dim: int):
    """A log-normal random conductivity factor k(x) = exp(sigma g(x) - sigma^2/2) over the plating surface
    (E[k] = 1), g a unit-variance Gaussian field with covariance exp(-r^2 / (2 l^2)) in the horizontal
    coordinates, l = ``correlation_length``: random Fourier features g = sqrt(2/N) sum_i cos(k_i.x + p_i),
    k_i ~ N(0, I/l^2), p_i ~ U(0, 2 pi) (Rahimi and Recht, NIPS 2007), N = ``modes``, drawn from ``seed``
    alone (the same field on any number of ranks). Returns a callable x (n x 3, m) -> k."""
    rng = np.random.default_rng(int(het.get("seed", 0)))
    n, ell, sigma = int(het.get("modes", 256)), float(het["correlation_length"]), float(het["sigma"])
    hd = dim - 1
    k = rng.normal(0.0, 1.0 / ell, size=(n, hd))
    ph = rng.uniform(0.0, 2 * np.pi, size=n)

    def factor(x):
        x = np.asarray(x)[:, :hd]
        g = np.sqrt(2.0 / n) * np.cos(x @ k.T + ph).sum(axis=1)
        return np.exp(sigma * g - 0.5 * sigma**2)

    return factor


def asr_field(lay: dict | None, film_asr: float, hole_asr: float | None = None, surfaces=("anode_coating",),
              film_factor=None):
    """``Coating.asr_field`` hook: a callable(tm) returning a DG0 Function on ``tm`` whose value on the
    cells that touch the plating surface is ``hole_asr`` where the facet's midpoint lies over a defect of
    ``lay`` and ``film_asr`` elsewhere [Ohm m^2] — divided by ``film_factor(midpoint)`` for a heterogeneous
    film (conductivity factor, :func:`lognormal_factor`). With a mesh whose facets follow the defect edges
    (the generators here) the patches are exact."""

    def make(tm):
        from dolfinx import fem, mesh as dmesh

        msh = tm.mesh
        d = msh.topology.dim
        V = fem.functionspace(msh, ("DG", 0))
        r = fem.Function(V, name="film_asr")
        r.x.array[:] = film_asr
        msh.topology.create_connectivity(d - 1, d)
        f2c = msh.topology.connectivity(d - 1, d)
        facets = tm.facets(*[s for s in surfaces if s in tm.groups])
        if facets.size:
            mid = dmesh.compute_midpoints(msh, d - 1, facets)
            hit = indicator(lay, mid, d) if lay else np.zeros(len(facets), dtype=bool)
            film = film_asr / film_factor(mid) if film_factor is not None else np.full(len(facets), film_asr)
            n_local = msh.topology.index_map(d).size_local + msh.topology.index_map(d).num_ghosts
            for f, h, v in zip(facets, hit, film):
                for c in f2c.links(f):
                    if c < n_local:
                        r.x.array[c] = hole_asr if h else v
        r.x.scatter_forward()
        return r

    return make


# ---------------------------------------------------------------------------------------------- meshes
def _base(gmsh, dim: int, W: float, D: float, z0: float, lay: dict, um: float) -> tuple[list, list]:
    """Base entities at z0 (µm): the cell's bottom line/rectangle fragmented by the defect patches.
    Returns (all base dimtags, the defect-patch dimtags)."""
    occ = gmsh.model.occ
    a = lay["size"] * um
    if dim == 2:
        cuts = sorted({min(max(c * um + s * a / 2, 0.0), W) for c in lay["centres"] for s in (-1, 1)} | {0.0, W})
        pts = [occ.addPoint(x, z0, 0) for x in cuts]
        lines = [(1, occ.addLine(p, q)) for p, q in zip(pts[:-1], pts[1:])]
        patches = [ln for ln, (x0, x1) in zip(lines, zip(cuts[:-1], cuts[1:]))
                   if any(abs(0.5 * (x0 + x1) - c * um) < a / 2 for c in lay["centres"])]
        occ.synchronize()
        return lines, patches
    rect = (2, occ.addRectangle(0, 0, z0, W, D))
    tools = []
    for c in lay["centres"]:
        if lay["kind"] == "pinholes":
            disk = occ.addDisk(c[0] * um, c[1] * um, z0, a, a)
            tools.append((2, disk))
        else:
            x0, x1 = max(c * um - a / 2, 0.0), min(c * um + a / 2, W)
            tools.append((2, occ.addRectangle(x0, 0, z0, x1 - x0, D)))
    if lay["kind"] == "pinholes":  # clip disks that cross the walls to the cell
        box = [(2, occ.addRectangle(0, 0, z0, W, D))]
        tools, _ = occ.intersect(tools, box, removeObject=True, removeTool=True)
    out, omap = occ.fragment([rect], tools)
    occ.synchronize()
    patches = sorted({e for m in omap[1:] for e in m if e[0] == 2})
    return sorted(set(out)), patches


def _patch_edges(gmsh, patches: list, dim: int) -> list:
    """Curves (3D) or points (2D) bounding the defect patches."""
    out = set()
    for p in patches:
        for e in gmsh.model.getBoundary([p], combined=False, oriented=False):
            out.add(abs(e[1]))
    return sorted(out)


def _refine(gmsh, dim: int, edges: list, h_def: float, h: float, reach: float) -> None:
    f = gmsh.model.mesh.field
    dist = f.add("Distance")
    if dim == 3:
        f.setNumbers(dist, "CurvesList", edges)
        f.setNumber(dist, "Sampling", 200)
    else:
        f.setNumbers(dist, "PointsList", edges)
    th = f.add("Threshold")
    f.setNumber(th, "InField", dist)
    f.setNumber(th, "SizeMin", h_def)
    f.setNumber(th, "SizeMax", h)
    f.setNumber(th, "DistMin", 0.5 * h_def)
    f.setNumber(th, "DistMax", reach)
    f.setAsBackgroundMesh(th)
    background_size_only(gmsh, h_def, h)
    gmsh.option.setNumber("Mesh.Algorithm", 6)


def build_planar(comm, p: dict):
    """Planar Li anode with a defective film (resolved gaps, or a thin film over patches), 2D or 3D.

    Volumes ``anode`` (-anode_thickness..0), ``coating`` (resolved: 0..t minus the gaps), ``electrolyte``
    (the gaps and t..electrolyte_thickness). Surfaces: ``anode_coating`` (under the film; thin: the whole
    Li surface), ``anode_electrolyte`` (resolved through-holes: the hole bottoms), ``coating_electrolyte``
    (film top and gap walls/bottoms), ``top``, ``bottom``, sides.
    """
    lay = p["defects"]
    dim = int(p["dim"])
    um = 1.0 / GMSH_UNIT
    W = p["width"] * um
    D = (p.get("depth") or p["width"]) * um
    h = p["mesh_size"] * um
    h_fine = (p.get("interface_mesh_size") or p["mesh_size"] / 4) * um
    a = lay["size"] * um
    h_def = min(a / float(lay.get("cells", 6)), h_fine)
    model = p.get("coating_model", "resolved")
    t = p.get("coating_thickness", 0.0) * um
    if t <= 0:
        raise GeometryError("coating.defects needs a coating (coating.material and coating.thickness > 0): "
                            "defects on an uncoated surface")
    Ha, L = p["anode_thickness"] * um, p["electrolyte_thickness"] * um
    resolved = model == "resolved"
    if resolved and t >= L:
        raise GeometryError(f"coating.thickness must be smaller than geometry.electrolyte_thickness")
    n_coat = int(p.get("coating_cells", 2))  # cells across the film
    f = lay["depth"]
    # vertical layers (name, thickness, (numElements, heights)); a partial gap splits the film in two
    layers = [("anode", Ha, reversed_layers(graded_layers(Ha, h_fine, h)))]
    if resolved:
        if f < 1:
            layers.append(("coating", (1 - f) * t, ([max(1, n_coat // 2)], [1.0])))
        layers.append(("film_gap", f * t, ([n_coat], [1.0])))
        layers.append(("electrolyte", L - t, graded_layers(L - t, h_def, h)))
    else:
        layers.append(("electrolyte", L, graded_layers(L, h_def, h)))

    def make(gmsh):
        occ = gmsh.model.occ
        z0 = -Ha
        base, patches = _base(gmsh, dim, W, D, z0, lay, um)
        edges = _patch_edges(gmsh, patches, dim)
        is_patch = [e in patches for e in base]
        owner: dict[int, str] = {}
        cur = list(base)
        for name, thick, (ne, hts) in layers:
            lift = (0, thick, 0) if dim == 2 else (0, 0, thick)
            ex = occ.extrude(cur, *lift, numElements=ne, heights=hts)
            pos = [k for k, e in enumerate(ex) if e[0] == dim]
            if len(pos) != len(cur):
                raise GeometryError("defects: extrusion of the fragmented base failed")
            for k, patch in zip(pos, is_patch):
                region = ("electrolyte" if patch else "coating") if name == "film_gap" else name
                owner[ex[k][1]] = region
            cur = [ex[k - 1] for k in pos]
        occ.synchronize()
        _tag(gmsh, dim, owner, (W, D, z0, L), model)
        _refine(gmsh, dim, edges, h_def, h, 2 * a + 2 * h_fine)  # fine near the edges only
        if dim == 3:
            gmsh.option.setNumber("Mesh.Algorithm3D", 1)
        gmsh.model.mesh.generate(dim)
        return {}

    return to_dolfinx(comm, make, gdim=dim, kind="planar", coating_thickness=p.get("coating_thickness", 0.0),
                      coating_model=model, defects={k: v for k, v in lay.items() if k != "centres"})


def _tag(gmsh, dim: int, owner: dict, box: tuple, model: str) -> None:
    """Physical groups: volumes by ``owner``, interfaces by the regions on their two sides
    (:func:`licoat.meshes.common.interface_name`), outer faces by position."""
    from licoat.meshes.common import interface_name

    W, D, zb, zt = box
    regions: dict[str, list] = {}
    for tag, name in owner.items():
        regions.setdefault(name, []).append(tag)
    facets: dict[str, list] = {}
    eps = 1e-6 * max(W, zt - zb)
    v = dim - 1
    for _, f in gmsh.model.getEntities(dim - 1):
        up, _ = gmsh.model.getAdjacencies(dim - 1, f)
        regs = sorted({owner[int(c)] for c in up})
        if len(regs) == 2:
            nm = interface_name(regs[0], regs[1], model)
            if nm:
                facets.setdefault(nm, []).append(f)
            continue
        if len(regs) != 1:
            continue
        bb = gmsh.model.getBoundingBox(dim - 1, f)
        lo, hi = bb[:3], bb[3:]
        if abs(hi[v] - zb) < eps:
            facets.setdefault("bottom", []).append(f)
        elif abs(lo[v] - zt) < eps:
            facets.setdefault("top", []).append(f)
        elif abs(hi[0]) < eps:
            facets.setdefault("left", []).append(f)
        elif abs(lo[0] - W) < eps:
            facets.setdefault("right", []).append(f)
        elif dim == 3 and abs(hi[1]) < eps:
            facets.setdefault("front", []).append(f)
        elif dim == 3 and abs(lo[1] - D) < eps:
            facets.setdefault("back", []).append(f)
    for name, tags in regions.items():
        gmsh.model.addPhysicalGroup(dim, sorted(tags), name=name)
    for name, tags in facets.items():
        gmsh.model.addPhysicalGroup(dim - 1, sorted(tags), name=name)



def background_size_only(gmsh, h_min: float, h_max: float) -> None:
    """Mesh sizes from the background field alone, within [h_min, h_max], on one thread (reproducible)."""
    opt = gmsh.option
    opt.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    opt.setNumber("Mesh.MeshSizeFromPoints", 0)
    opt.setNumber("Mesh.MeshSizeFromCurvature", 0)
    opt.setNumber("Mesh.MeshSizeMin", h_min)
    opt.setNumber("Mesh.MeshSizeMax", h_max)
    opt.setNumber("General.NumThreads", 1)


def isolated_pinhole(comm, radius: float, cell_radius: float, height: float, cells_per_radius: int = 30,
                     far_size: float | None = None, grow: float = 0.3, disk_cells: float = 3, grow_far: float = 0.3):
    """Verification geometry (SI): a quarter disk electrode ``anode_electrolyte`` of ``radius`` a at the
    axis of a quarter cylinder of ``cell_radius`` b and ``height`` L filled with electrolyte; the rest of
    the base is ``blocked`` (a perfectly blocking film of zero thickness), the symmetry planes are
    ``left`` (x = 0) and ``front`` (y = 0), the wall r = b is ``wall``, the counter is ``top`` (z = L).
    The mesh is a/cells_per_radius at the disk edge, growing to ``far_size`` (default b/4)."""
    um = 1.0 / GMSH_UNIT
    a, b, L = radius * um, cell_radius * um, height * um
    h_def = a / cells_per_radius
    h = (far_size * um) if far_size else b / 4

    def make(gmsh):
        occ = gmsh.model.occ
        vol = occ.addCylinder(0, 0, 0, 0, 0, L, b, angle=math.pi / 2)
        li = occ.addCylinder(0, 0, -a / 2, 0, 0, a / 2, a, angle=math.pi / 2)  # Li under the hole only
        _, omap = occ.fragment([(3, vol)], [(3, li)])
        occ.synchronize()
        elec = [e[1] for e in omap[0] if e[0] == 3]
        anode = [e[1] for e in omap[1] if e[0] == 3]
        eps = 1e-6 * b
        faces = {}
        for _, f in gmsh.model.getEntities(2):
            up, _ = gmsh.model.getAdjacencies(2, f)
            if not set(int(c) for c in up) & set(elec):
                continue
            lo, hi = np.array(gmsh.model.getBoundingBox(2, f)).reshape(2, 3)
            if hi[2] < eps and lo[2] > -eps:
                faces.setdefault("anode_electrolyte" if hi[0] < a + eps and hi[1] < a + eps else "blocked", []).append(f)
            elif lo[2] > L - eps:
                faces.setdefault("top", []).append(f)
            elif hi[0] < eps:
                faces.setdefault("left", []).append(f)
            elif hi[1] < eps:
                faces.setdefault("front", []).append(f)
            else:
                faces.setdefault("wall", []).append(f)
        gmsh.model.addPhysicalGroup(3, anode, name="anode")
        gmsh.model.addPhysicalGroup(3, elec, name="electrolyte")
        for name, tags in faces.items():
            gmsh.model.addPhysicalGroup(2, tags, name=name)
        edge = [abs(e[1]) for e in gmsh.model.getBoundary([(2, t) for t in faces["anode_electrolyte"]],
                                                          combined=False, oriented=False)]
        arc = [c for c in set(edge) if gmsh.model.getBoundingBox(1, c)[3] > 0.5 * a
               and gmsh.model.getBoundingBox(1, c)[4] > 0.5 * a]
        f = gmsh.model.mesh.field
        dist = f.add("Distance")
        f.setNumbers(dist, "CurvesList", arc)
        f.setNumber(dist, "Sampling", 200)
        dd = f.add("Distance")
        f.setNumbers(dd, "SurfacesList", faces["anode_electrolyte"])
        f.setNumber(dd, "Sampling", 40)
        th = f.add("MathEval")
        # graded towards the disk edge (size h_def + grow d_edge), a/5 over the disk, growing away from it
        f.setString(th, "F", f"Min({h}, Min({h_def} + {grow} * F{dist}, {a / disk_cells} + {grow_far} * F{dd}))")
        f.setAsBackgroundMesh(th)
        background_size_only(gmsh, h_def, h)
        gmsh.model.mesh.generate(3)
        return {}

    return to_dolfinx(comm, make, gdim=3, kind="isolated_pinhole")


def _distance_expr(lay: dict, um: float) -> str:
    """Gmsh MathEval expression (µm) of the horizontal distance to the nearest defect edge."""
    a = lay["size"] * um
    if lay["kind"] == "pinholes":
        terms = [f"Fabs(Sqrt((x-{c[0] * um!r})^2+(y-{c[1] * um!r})^2)-{a!r})" for c in lay["centres"]]
    else:
        terms = [f"Fabs(Fabs(x-{c * um!r})-{a / 2!r})" for c in lay["centres"]]
    while len(terms) > 1:  # balanced Min(...) tree
        terms = [f"Min({terms[i]},{terms[i + 1]})" if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


def defect_anode_maker(p: dict, dim: int, box: tuple, body, t_res: float, mode: str, h: float, h_fine: float,
                       surface_height: str = "0"):
    """Gmsh ``make`` for a perturbed anode (meshes.common.anode_maker) with defects in its coating: resolved,
    the gaps (vertical cylinders or slots through the top ``depth`` of the shell) are cut from the shell and
    filled with electrolyte; thin, the film's ASR field carries the defects. Either way the mesh is refined
    to size/cells within a few sizes of every defect edge, measured horizontally and from the surface
    z = ``surface_height`` (a MathEval expression in x, µm)."""
    from licoat.meshes.common import SOLIDS, assemble, size_fields

    lay = p["defects"]
    um = 1.0 / GMSH_UNIT
    W, D, zb, zt = box
    a = lay["size"] * um
    h_def = min(a / float(lay.get("cells", 6)), h_fine)

    def make(gmsh):
        occ = gmsh.model.occ
        solids = {"anode": body(gmsh, 0.0)}
        shell = body(gmsh, t_res) if t_res > 0 else None
        if shell is not None:
            tools = []
            for c in lay["centres"]:
                if lay["kind"] == "pinholes":
                    tools.append((3, occ.addCylinder(c[0] * um, c[1] * um, zb, 0, 0, zt - zb, a)))
                elif dim == 3:
                    x0 = max(c * um - a / 2, 0.0)
                    tools.append((3, occ.addBox(x0, 0, zb, min(c * um + a / 2, W) - x0, D, zt - zb)))
                else:
                    x0 = max(c * um - a / 2, 0.0)
                    tools.append((2, occ.addRectangle(x0, zb, 0, min(c * um + a / 2, W) - x0, zt - zb)))
            if lay["depth"] < 1:
                tools, _ = occ.cut(tools, body(gmsh, (1 - lay["depth"]) * t_res))
            shell, _ = occ.cut(shell, tools)
        tags = assemble(gmsh, dim, box, solids, shell, mode, bool(p.get("periodic")))
        coat_surf, h_coat = None, None
        if t_res > 0:
            coat_surf = sorted(set(tags["facets"].get("coating_electrolyte", [])
                                   + [f for s in SOLIDS for f in tags["facets"].get(f"{s}_coating", [])]))
            h_coat = t_res / float(p.get("coating_cells", 2))
        size_fields(gmsh, dim, tags["interfaces"], h, h_fine, max(W, zt - zb), coat_surf, h_coat, t_res,
                    int(p.get("mesh_algorithm3d", 1)), 16)
        f = gmsh.model.mesh.field
        previous = list(f.list())
        dist = f"({_distance_expr(lay, um)}+Fabs({'z' if dim == 3 else 'y'}-({surface_height})))"
        th = f.add("MathEval")
        f.setString(th, "F", f"Min({h}, {h_def} + 0.2 * {dist})")
        mn = f.add("Min")
        f.setNumbers(mn, "FieldsList", ([max(previous)] if previous else []) + [th])
        f.setAsBackgroundMesh(mn)
        gmsh.option.setNumber("Mesh.MeshSizeMin", min(h_def, h_coat or h_def))
        gmsh.model.mesh.generate(dim)
        return {}

    return make
