"""Pillar arrays on a Cu collector (3D hosts), optionally coated.

Cylindrical pillars (diameter ``pillar_diameter``, height ``pillar_height``) stand on the collector
top (z = 0) in a ``square`` or ``hexagonal`` lattice of nearest-neighbour distance ``pitch``. The
cell is a mirror-symmetric unit of the lattice: square a x a with a pillar at the centre; hexagonal
a x a√3 with pillars at the centre and (quarters) at the four corners; ``width``/``depth`` may be
multiples of these. The sides carry zero normal flux by symmetry (the solver's default); with
``periodic`` the facets on opposite sides get matching nodes. In 2D the pillars are ridges (a
rectangle of width d, height h per pitch). The host layer is 0..pillar_height, the electrolyte
goes up to pillar_height + electrolyte_thickness. A resolved coating covers the pillars and the
collector top (thickness t; the pillar's top rim is a sharp offset edge, t√2 there).
"""

from __future__ import annotations

import numpy as np

from licoat.meshes.common import GMSH_UNIT, GeometryError, check_common, host_layout, host_model, to_dolfinx


def cell(p: dict) -> tuple[float, float, list[tuple[float, float]]]:
    """(W, D, pillar centres) in SI."""
    a = p["pitch"]
    lattice = p.get("lattice", "square")
    dim = int(p["dim"])
    if lattice == "square" or dim == 2:
        cx, cy, base = a, a, [(0.5 * a, 0.5 * a)]
    elif lattice == "hexagonal":
        cx, cy = a, a * np.sqrt(3)
        base = [(0.5 * a, 0.5 * cy), (0, 0), (a, 0), (0, cy), (a, cy)]
    else:
        raise GeometryError(f"geometry.lattice = '{lattice}' must be 'square' or 'hexagonal'")
    W = p.get("width") or cx
    D = (p.get("depth") or cy) if dim == 3 else cy
    nx, ny = W / cx, D / cy
    for key, n, c, v in (("width", nx, cx, W), ("depth", ny, cy, D)):
        if key == "depth" and dim == 2:
            continue
        if abs(n - round(n)) > 1e-6 * max(1, n) or round(n) < 1:
            raise GeometryError(f"geometry.{key} = {v:g} m must be a multiple of the {lattice} lattice cell "
                                f"({c:g} m for geometry.pitch = {a:g} m)")
    centres = sorted({(round(x + i * cx, 15), round(y + j * cy, 15)) for i in range(round(nx))
                      for j in range(round(ny) if dim == 3 else 1) for x, y in base})
    return W, D, centres


def check(p: dict) -> None:
    check_common(p, "pillar_diameter", "pillar_height", "pitch", "electrolyte_thickness", "mesh_size")
    d, a = p["pillar_diameter"], p["pitch"]
    if a <= d:
        raise GeometryError(f"geometry.pitch = {a:g} m must be larger than geometry.pillar_diameter = {d:g} m")
    t = p.get("coating_thickness", 0.0) if p.get("coating_model", "resolved") == "resolved" else 0.0
    if t > 0 and 2 * t >= 0.9 * (a - d):
        raise GeometryError(f"coating.thickness = {t:g} m must be smaller than half the gap between pillars "
                            f"(geometry.pitch - geometry.pillar_diameter = {a - d:g} m)")


def analytic(p: dict) -> dict:
    """Exact areas and volumes (SI) of the bare geometry: per-cell host surface, collector, host volume."""
    W, D, centres = cell(p)
    r, hp = p["pillar_diameter"] / 2, p["pillar_height"]
    if int(p["dim"]) == 2:
        n = W / p["pitch"]
        return {"host_surface": n * (2 * hp + 2 * r), "collector_exposed": W - n * 2 * r, "host_collector": n * 2 * r,
                "host_volume": n * 2 * r * hp, "pillars": float(n)}
    a = p["pitch"]
    n = W * D / a**2 if p.get("lattice", "square") == "square" else 2 * W * D / (a**2 * np.sqrt(3))
    return {"host_surface": n * (2 * np.pi * r * hp + np.pi * r**2), "collector_exposed": W * D - n * np.pi * r**2,
            "host_collector": n * np.pi * r**2, "host_volume": n * np.pi * r**2 * hp, "pillars": float(n)}


def build(comm, p: dict):
    check(p)
    lay = host_layout(p)
    lay.update(coating_cells=p.get("coating_cells", 2), algorithm3d=p.get("mesh_algorithm3d", 1))
    um, dim = lay["um"], lay["dim"]
    W, D, centres = (v * um if not isinstance(v, list) else [(x * um, y * um) for x, y in v] for v in cell(p))
    r, hp = p["pillar_diameter"] / 2 * um, p["pillar_height"] * um

    def primitives(gmsh, off):
        occ = gmsh.model.occ
        if dim == 2:
            xs = sorted({x for x, _ in centres})
            return [(2, occ.addRectangle(x - r - off, -1.0, 0, 2 * (r + off), hp + off + 1.0)) for x in xs]
        return [(3, occ.addCylinder(x, y, -1.0, 0, 0, hp + off + 1.0, r + off)) for x, y in centres]

    def make(gmsh):
        host_model(gmsh, lay, W, D, hp, primitives)
        return {}

    info = dict(kind="pillars", coating_thickness=lay["t"] / um, coating_model=lay["mode"], periodic=lay["periodic"],
                host_thickness=hp / um, cell=[W / um, D / um], analytic=analytic(p))
    return to_dolfinx(comm, make, gdim=dim, **info)
