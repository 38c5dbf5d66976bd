"""Sinusoidal Li surface (ridges) under a conformal coating, 2D or 3D.

The Li surface is z = A cos(2πx/λ) (mean at 0) on x ∈ [0, n λ/2]: a peak at x = 0 and a peak or a
valley at x = W, so the cell is mirror-symmetric and the sides carry zero normal flux by symmetry
(the solver's default). In 3D the profile is extruded along y (ridges), so the interface area is
(arc length) × depth. Li fills -anode_thickness..surface, electrolyte up to electrolyte_thickness.
A resolved coating is the band between the surface and its exact offset curve (normal offset by
the coating thickness); it needs t < 1/(A k²), the smallest radius of curvature at the valleys.
"""

from __future__ import annotations

import numpy as np

from licoat.meshes.common import (GMSH_UNIT, GeometryError, anode_maker, check_common, coating_mode,
                                  to_dolfinx)

SPLINE_POINTS_PER_HALF_WAVE = 24  # B-spline points that represent the cosine surface


def profile(x, A, lam, offset=0.0):
    """Points of the surface z = A cos(kx) moved by ``offset`` along its upward normal."""
    k = 2 * np.pi / lam
    z = A * np.cos(k * x)
    dz = -A * k * np.sin(k * x)
    nrm = np.sqrt(1 + dz**2)
    return x - offset * dz / nrm, z + offset / nrm


def arc_length(A, lam, W, n=20001):
    """Arc length of z = A cos(2πx/λ) on [0, W] by composite Simpson quadrature (for tests)."""
    x = np.linspace(0.0, W, n if n % 2 else n + 1)
    f = np.sqrt(1 + (A * 2 * np.pi / lam * np.sin(2 * np.pi * x / lam)) ** 2)
    hx = x[1] - x[0]
    return hx / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())


def check(p: dict) -> None:
    check_common(p, "width", "amplitude", "wavelength", "electrolyte_thickness", "anode_thickness", "mesh_size")
    A, lam, W = p["amplitude"], p["wavelength"], p["width"]
    n = W / (lam / 2)
    if abs(n - round(n)) > 1e-6 * max(1.0, n) or round(n) < 1:
        raise GeometryError(
            f"geometry.width = {W:g} m must be a multiple of geometry.wavelength/2 = {lam / 2:g} m "
            "(a mirror-symmetric cell from peak to peak or valley)")
    if p.get("periodic") and round(n) % 2:
        raise GeometryError(f"geometry.periodic = true needs geometry.width = {W:g} m to be a multiple of "
                            f"geometry.wavelength = {lam:g} m")
    t = p.get("coating_thickness", 0.0) if coating_mode(p) == "resolved" else 0.0
    rho = 1.0 / (A * (2 * np.pi / lam) ** 2)
    if t >= 0.9 * rho:
        raise GeometryError(
            f"coating.thickness = {t:g} m is not smaller than the radius of curvature {rho:g} m at the valleys of "
            f"geometry.amplitude = {A:g} m, geometry.wavelength = {lam:g} m: the coating surface would fold")
    if A + t >= p["electrolyte_thickness"]:
        raise GeometryError(f"geometry.amplitude + coating.thickness = {A + t:g} m must be smaller than "
                            f"geometry.electrolyte_thickness = {p['electrolyte_thickness']:g} m")
    if A >= p["anode_thickness"]:
        raise GeometryError(f"geometry.amplitude = {A:g} m must be smaller than geometry.anode_thickness = "
                            f"{p['anode_thickness']:g} m")


def build(comm, p: dict):
    check(p)
    um = 1.0 / GMSH_UNIT
    dim = int(p["dim"])
    mode = coating_mode(p)
    W, A, lam = p["width"] * um, p["amplitude"] * um, p["wavelength"] * um
    D = p.get("depth", p["width"]) * um
    L, Ha = p["electrolyte_thickness"] * um, p["anode_thickness"] * um
    t = p.get("coating_thickness", 0.0) * um
    t_res = t if mode == "resolved" else 0.0
    h = p["mesh_size"] * um
    h_fine = min(h, (p.get("interface_mesh_size") or p["mesh_size"] / 4) * um)
    npts = SPLINE_POINTS_PER_HALF_WAVE
    nhalf = int(round(W / (lam / 2)))

    def region(gmsh, offset):
        """Surface (2D) or volume (3D) below the (offset) profile, clipped to [0, W]."""
        occ = gmsh.model.occ
        x = np.linspace(0.0, W, nhalf * npts + 1)
        xs, zs = profile(x, A, lam, offset)
        xs[0], xs[-1] = 0.0, W  # normal is vertical at peaks/valleys: exact already
        if dim == 2:
            pts = [occ.addPoint(a, b, 0) for a, b in zip(xs, zs)]
            b0, b1 = occ.addPoint(W, -Ha, 0), occ.addPoint(0, -Ha, 0)
        else:
            pts = [occ.addPoint(a, 0, b) for a, b in zip(xs, zs)]
            b0, b1 = occ.addPoint(W, 0, -Ha), occ.addPoint(0, 0, -Ha)
        curve = occ.addSpline(pts)
        loop = occ.addCurveLoop([curve, occ.addLine(pts[-1], b0), occ.addLine(b0, b1), occ.addLine(b1, pts[0])])
        s = occ.addPlaneSurface([loop])
        if dim == 2:
            return [(2, s)]
        ext = occ.extrude([(2, s)], 0, D, 0)
        return [e for e in ext if e[0] == 3]

    make = anode_maker(p, dim, (W, D, -Ha, L), region, t_res, mode, h, h_fine)
    if p.get("defects"):  # pinholes / cracks in the coating: gaps in the shell, mesh refined at every defect
        from licoat.meshes.defects import defect_anode_maker

        make = defect_anode_maker(p, dim, (W, D, -Ha, L), region, t_res, mode, h, h_fine,
                                  surface_height=f"{A!r}*Cos({2 * np.pi / lam!r}*x)")

    return to_dolfinx(comm, make, gdim=dim, kind="sinusoid", coating_thickness=t / um, coating_model=mode,
                      periodic=bool(p.get("periodic")),
                      interface_area_exact=arc_length(A / um, lam / um, W / um) * (1.0 if dim == 2 else D / um))
