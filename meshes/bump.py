"""A hemispherical Li bump (a protrusion, e.g. a nucleus or a dendrite tip) on a planar Li surface.

The bump of radius ``bump_radius`` is centred at the cell corner on the Li surface (vertical = 0):
a half disc at x = 0 in 2D, a quarter hemisphere at (0, 0) in 3D, so the cell is the symmetric
half/quarter of a bump and the sides carry zero normal flux by symmetry (the solver's default);
with ``periodic`` the bump is repeated at every corner of the cell (a square array of
bumps with pitch W). Li fills -anode_thickness..surface, the
electrolyte goes up to electrolyte_thickness. A resolved coating is the exact offset shell
(flat slab of thickness t and sphere of radius R + t).
Analytic Li surface area: 2D W - R + πR/2; 3D W D - πR²/4 + πR²/2.
"""

from __future__ import annotations

import numpy as np

from licoat.meshes.common import (GMSH_UNIT, GeometryError, anode_maker, check_common, coating_mode,
                                  to_dolfinx)


def check(p: dict) -> None:
    check_common(p, "width", "bump_radius", "electrolyte_thickness", "anode_thickness", "mesh_size")
    R, W, L = p["bump_radius"], p["width"], p["electrolyte_thickness"]
    D = p.get("depth", W) if int(p["dim"]) == 3 else W
    t = p.get("coating_thickness", 0.0) if coating_mode(p) == "resolved" else 0.0
    frac = 0.475 if p.get("periodic") else 0.95
    if R + t >= frac * min(W, D):
        raise GeometryError(f"geometry.bump_radius + coating.thickness = {R + t:g} m must be smaller than "
                            f"geometry.width = {W:g} m" + (f" and geometry.depth = {D:g} m" if int(p["dim"]) == 3 else ""))
    if R + t >= 0.95 * L:
        raise GeometryError(f"geometry.bump_radius + coating.thickness = {R + t:g} m must be smaller than "
                            f"geometry.electrolyte_thickness = {L:g} m")


def surface_area(p: dict) -> float:
    """Analytic area (length in 2D) of the Li surface, SI."""
    R, W = p["bump_radius"], p["width"]
    n = 2 if p.get("periodic") else 1  # bump pieces per axis
    if int(p["dim"]) == 2:
        return W + n * (np.pi * R / 2 - R)
    D = p.get("depth", W)
    return W * D + n * n * (np.pi * R**2 / 2 - np.pi * R**2 / 4)


def build(comm, p: dict):
    check(p)
    um = 1.0 / GMSH_UNIT
    dim = int(p["dim"])
    mode = coating_mode(p)
    W, R = p["width"] * um, p["bump_radius"] * um
    D = p.get("depth", p["width"]) * um
    L, Ha = p["electrolyte_thickness"] * um, p["anode_thickness"] * um
    t = p.get("coating_thickness", 0.0) * um
    t_res = t if mode == "resolved" else 0.0
    h = p["mesh_size"] * um
    h_fine = min(h, (p.get("interface_mesh_size") or p["mesh_size"] / 4) * um)

    per = bool(p.get("periodic"))
    corners_x = (0.0, W) if per else (0.0,)
    corners_y = (0.0, D) if per else (0.0,)

    def body(gmsh, off):
        occ = gmsh.model.occ
        if dim == 2:
            slab = occ.addRectangle(0, -Ha, 0, W, Ha + off)
            disks = [(2, occ.addDisk(x, 0, 0, R + off, R + off)) for x in corners_x]
            clip = occ.addRectangle(0, -Ha, 0, W, Ha + R + off + 1)
            fused, _ = occ.fuse([(2, slab)], disks)
            out, _ = occ.intersect(fused, [(2, clip)])
        else:
            slab = occ.addBox(0, 0, -Ha, W, D, Ha + off)
            balls = [(3, occ.addSphere(x, y, 0, R + off)) for x in corners_x for y in corners_y]
            clip = occ.addBox(0, 0, -Ha, W, D, Ha + R + off + 1)
            fused, _ = occ.fuse([(3, slab)], balls)
            out, _ = occ.intersect(fused, [(3, clip)])
        return out

    make = anode_maker(p, dim, (W, D, -Ha, L), body, t_res, mode, h, h_fine)

    return to_dolfinx(comm, make, gdim=dim, kind="bump", coating_thickness=t / um, coating_model=mode,
                      periodic=bool(p.get("periodic")), interface_area_exact=surface_area(p))
