"""2D comb of parallel Cu fins on a Cu collector: the transmission-line (Newman–Tobias) host.

The comb has fins of height ``fin_height`` (L) at pitch ``pitch`` (p) with a gap ``gap`` (g)
between neighbouring fins (fin width p − g), standing on the collector top (vertical = 0).
Electrolyte fills the gaps and a layer of thickness ``electrolyte_thickness`` above the fin
tops, up to the ``top`` boundary (separator / reservoir side). By mirror symmetry the cell is
half a gap plus half a fin, width p/2::

      y = L + Le  +----------- top -----------+
                  |                            |
                left        electrolyte       right
                  |                            |
      y = L       |        +-- fin top --------+
                  |  gap   |                   |
                  |        wall      fin       |   (fin, collector: metal, not meshed
                  |        |                   |    unless ``with_metal``)
      y = 0       +-floor--+-------------------+
                 x=0     x=g/2               x=p/2

Facet groups (all plating-surface names follow the solver's ``<metal>_electrolyte`` rule, so
each piece of metal surface can be switched on or off separately through
``SteadyCell(..., surface_kinetics={name: Kinetics(..., active=False)})``):

* ``host_electrolyte``       the fin wall x = g/2, 0 < y < L
* ``collector_electrolyte``  the collector floor between fins, y = 0, 0 < x < g/2
* ``anode_electrolyte``      the fin top, y = L, g/2 < x < p/2. **Label hack**: the fin top is Cu
  like the wall, but it needs a third metal label so that the walls alone can be active; the
  solver only recognises the metals anode/host/collector. ``fin_top_label`` changes it (e.g.
  "host" merges the fin top into ``host_electrolyte``).
* ``top`` (y = L + Le), ``left`` (x = 0, mid-gap mirror plane), ``right`` (x = p/2, mid-fin
  mirror plane); with ``with_metal`` also ``host_collector`` and ``bottom``.

Volumes: ``electrolyte``; with ``with_metal`` also ``host`` (the half fin) and ``collector``
(thickness ``collector_thickness``, default ``mesh_size``). The solver restricts itself to the
electrolyte, so the metal is optional and off by default.

Parameters (SI): pitch, gap, fin_height, electrolyte_thickness, mesh_size, interface_mesh_size
(at the metal surfaces, default mesh_size/4), corner_mesh_size (at the re-entrant fin-top corner,
default interface_mesh_size/4), fin_top_label, with_metal, collector_thickness.

Transmission-line mapping (physics.md §6): a = 2/p (wall area per volume), κ_eff = κ g/p,
thickness L = fin height. ``info`` carries ``host_thickness`` = L and these numbers.
"""

from __future__ import annotations

from licoat.meshes.common import GMSH_UNIT, GeometryError, check_common, size_fields, to_dolfinx


def check(p: dict) -> None:
    check_common(p, "pitch", "gap", "fin_height", "electrolyte_thickness", "mesh_size")
    if not p["gap"] < p["pitch"]:
        raise GeometryError(f"geometry.gap = {p['gap']:g} m must be smaller than geometry.pitch = {p['pitch']:g} m")
    label = p.get("fin_top_label", "anode")
    if label not in ("anode", "host", "collector"):
        raise GeometryError(f"geometry.fin_top_label = '{label}' must be 'anode', 'host' or 'collector'")


def analytic(p: dict) -> dict:
    """Transmission-line numbers of the half cell (SI, per unit depth)."""
    P, g, L = p["pitch"], p["gap"], p["fin_height"]
    return {"wall_area": L, "floor_area": g / 2, "fin_top_area": (P - g) / 2, "footprint": P / 2,
            "specific_area": 2.0 / P, "porosity": g / P}


def build(comm, p: dict):
    """Build the half-cell comb mesh described by ``p`` (SI)."""
    check(p)
    um = 1.0 / GMSH_UNIT
    W, hg = p["pitch"] / 2 * um, p["gap"] / 2 * um
    H, Le = p["fin_height"] * um, p["electrolyte_thickness"] * um
    h = p["mesh_size"] * um
    h_fine = min(h, (p.get("interface_mesh_size") or p["mesh_size"] / 4) * um)
    h_corner = min(h_fine, p["corner_mesh_size"] * um) if p.get("corner_mesh_size") else h_fine / 4
    label = p.get("fin_top_label", "anode")
    with_metal = bool(p.get("with_metal", False))
    Hc = (p.get("collector_thickness") or p["mesh_size"]) * um

    def make(gmsh):
        occ = gmsh.model.occ
        gap = (2, occ.addRectangle(0, 0, 0, hg, H))
        res = (2, occ.addRectangle(0, H, 0, W, Le))
        tools = [res]
        if with_metal:
            tools += [(2, occ.addRectangle(hg, 0, 0, W - hg, H)), (2, occ.addRectangle(0, -Hc, 0, W, Hc))]
        out, out_map = occ.fragment([gap], tools)
        occ.synchronize()
        model = gmsh.model
        electrolyte = [t for d, t in out_map[0] + out_map[1] if d == 2]
        model.addPhysicalGroup(2, sorted(set(electrolyte)), name="electrolyte")
        if with_metal:
            model.addPhysicalGroup(2, [t for d, t in out_map[2] if d == 2], name="host")
            model.addPhysicalGroup(2, [t for d, t in out_map[3] if d == 2], name="collector")
        eps = 1e-6 * max(W, H + Le)

        def box(x0, y0, x1, y1):
            return sorted({e[1] for e in model.getEntitiesInBoundingBox(x0 - eps, y0 - eps, -eps,
                                                                          x1 + eps, y1 + eps, eps, 1)})

        zb = -Hc if with_metal else 0.0
        facets = {"host_electrolyte": box(hg, 0, hg, H), "collector_electrolyte": box(0, 0, hg, 0),
                  "anode_electrolyte": []}
        facets[f"{label}_electrolyte"] = sorted(set(facets[f"{label}_electrolyte"] + box(hg, H, W, H)))
        if not facets["anode_electrolyte"]:
            del facets["anode_electrolyte"]
        facets.update({"top": box(0, H + Le, W, H + Le), "left": box(0, zb, 0, H + Le),
                       "right": box(W, zb if with_metal else H, W, H + Le)})
        if with_metal:
            facets["host_collector"] = box(hg, 0, W, 0)
            facets["bottom"] = box(0, -Hc, W, -Hc)
        for name, tags in facets.items():
            if not tags:
                raise GeometryError(f"comb: facet group '{name}' came out empty (check the geometry parameters)")
            model.addPhysicalGroup(1, tags, name=name)
        metal = sorted(set(box(hg, 0, hg, H) + box(0, 0, hg, 0) + box(hg, H, W, H)))
        size_fields(gmsh, 2, metal, h, h_fine, max(W, H + Le), curvature_cells=0)
        # re-entrant corner at the fin top: phi ~ r^(2/3) there, refine it further
        f = model.mesh.field
        pt = [e[1] for e in model.getEntitiesInBoundingBox(hg - eps, H - eps, -eps, hg + eps, H + eps, eps, 0)]
        dist = f.add("Distance")
        f.setNumbers(dist, "PointsList", pt)
        th = f.add("Threshold")
        f.setNumber(th, "InField", dist)
        f.setNumber(th, "SizeMin", h_corner)
        f.setNumber(th, "SizeMax", h)
        f.setNumber(th, "DistMin", 2 * h_corner)
        f.setNumber(th, "DistMax", 2 * h_corner + 4 * h_fine)
        bg = f.add("Min")
        f.setNumbers(bg, "FieldsList", [fid for fid in f.list() if f.getType(fid) == "Threshold"])
        f.setAsBackgroundMesh(bg)
        gmsh.option.setNumber("Mesh.MeshSizeMin", h_corner)
        model.mesh.generate(2)
        # the metal is not meshed unless with_metal: the generator states the sides of its surfaces
        metal_of = {"host_electrolyte": "host", "collector_electrolyte": "collector", "anode_electrolyte": "anode"}
        return {"interface_sides": {n: [metal_of[n], "electrolyte"] for n in facets if n in metal_of}}

    info = dict(kind="comb", coating_thickness=0.0, coating_model="bare", host_thickness=p["fin_height"],
                fin_top_label=label, cell=[W / um, 0.0], analytic=analytic(p))
    return to_dolfinx(comm, make, gdim=2, **info)
