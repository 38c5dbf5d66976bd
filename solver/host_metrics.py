"""Uniformity of plating inside a 3D host: depth profile, top/bottom ratio, active fraction, Wagner number.

Definitions (physics.md §6, §7), with j the plating current density (A/m², plating positive) on the
active plating surfaces S of a solved :class:`~licoat.solver.electrochemistry.SteadyCell` and z the
vertical (last) coordinate:

* ``depth_profile``: the host layer [z_lo, z_hi] cut into ``n_bins`` equal slabs; per slab the
  area-averaged j = ∫_S j χ_k dS / ∫_S χ_k dS, with χ_k the slab indicator evaluated at the
  quadrature points (UFL conditional on z; exact bin edges up to the quadrature spacing). The bottom
  slab extends down to −∞ and the top one up to +∞, so surfaces exactly at z_lo (collector floor) or
  z_hi (host tops) are always counted. Slabs that contain no surface report ``None``.
* ``top_to_bottom_ratio``: mean j in the highest non-empty slab / the lowest non-empty slab.
* ``active_fraction``: |{x ∈ S : j > 0.1 j̄}| / |S|, j̄ = ∫_S j dS / |S|.
* ``wagner_number``: Wa = κ (∂η/∂i) / L_ref (physics.md §6). ∂η/∂i is the linearisation of each
  surface's own rate law (Butler–Volmer, linear or Tafel, with its nucleation activation and, at a
  bare liquid interface, the concentration factor at the area-mean surface concentration) at the
  area-mean overpotential η̄ of the surfaces: ∂η/∂i = 1 / (di/dη)|η̄, area-weighted over surfaces
  (harmonic in the resistances, i.e. parallel conductances); a thin-film coating adds its ASR in
  series. κ is the volume mean over the electrolyte. L_ref is the host thickness (``host_thickness``
  argument, else the mesh's ``info['host_thickness']``, else the vertical extent of S); a surface
  without vertical extent (planar anode) uses the electrolyte thickness (top of the mesh − z of S).
  For linear kinetics this is κRT/((α_a+α_c)F i0 L); for Tafel κRT/(α_c F |i| L) at i = i(η̄).

Every integral is a collective on ``cell.comm``; rank 0's numbers are broadcast, so the returned
dict is identical on all ranks. Two forms (area and current per slab) are compiled once and
re-assembled per slab through ``fem.Constant`` bin edges.
"""

from __future__ import annotations

import math

import numpy as np

from licoat import import_stack

import_stack()
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402
from mpi4py import MPI  # noqa: E402

BIG = 1e30  # "infinite" bin edge (m)


def _integrate(comm, form) -> float:
    return comm.allreduce(float(fem.assemble_scalar(form)), op=MPI.SUM)


def _surface_z_range(cell) -> tuple[float, float]:
    """Min and max vertical coordinate of the vertices of the active plating facets (all ranks)."""
    msh = cell.tm.mesh
    d = msh.topology.dim
    msh.topology.create_connectivity(d - 1, 0)
    facets = cell.tm.facets(*cell.surfaces)
    lo, hi = np.inf, -np.inf
    if len(facets):
        from dolfinx.mesh import entities_to_geometry

        geo = entities_to_geometry(msh, d - 1, facets, False)
        z = msh.geometry.x[geo.ravel(), d - 1]
        lo, hi = float(z.min()), float(z.max())
    return cell.comm.allreduce(lo, op=MPI.MIN), cell.comm.allreduce(hi, op=MPI.MAX)


def _mesh_top(cell) -> float:
    msh = cell.tm.mesh
    z = msh.geometry.x[:, msh.topology.dim - 1]
    return cell.comm.allreduce(float(z.max()) if z.size else -np.inf, op=MPI.MAX)


def _didEta(kin, eta: float, f: float, conc_factor: float) -> float:
    """d i_n / d eta [A/(m² V)] of one surface's rate law (activation included) at eta (central difference)."""

    def rate(e):
        return conc_factor * kin.activation(e, math.exp) * kin.current(e, f, math.exp)

    h = 1e-6 / f  # 1e-6 thermal voltages
    return (rate(eta + h) - rate(eta - h)) / (2 * h)


def host_uniformity(cell, n_bins: int = 10, host_thickness: float | None = None) -> dict:
    """Depth profile and uniformity numbers of a solved SteadyCell's plating current (see module doc)."""
    comm = cell.comm
    msh = cell.tm.mesh
    d = msh.topology.dim
    z = ufl.SpatialCoordinate(msh)[d - 1]
    one = fem.Constant(msh, 1.0)
    pieces = [(cell.plating_current[n], cell.sm[n]) for n in cell.surfaces]

    # --- whole-surface mean and active fraction
    area = sum(_integrate(comm, fem.form(one * m)) for _, m in pieces)
    mean = sum(_integrate(comm, fem.form(j * m)) for j, m in pieces) / area
    thr = fem.Constant(msh, 0.1 * mean)
    active = sum(_integrate(comm, fem.form(ufl.conditional(ufl.gt(j, thr), 1.0, 0.0) * m)) for j, m in pieces) / area

    # --- host layer and depth bins
    s_lo, s_hi = _surface_z_range(cell)
    H = host_thickness if host_thickness is not None else cell.tm.info.get("host_thickness")
    scale = max(abs(s_lo), abs(s_hi), _mesh_top(cell) - s_lo, 1e-30)
    flat = (s_hi - s_lo) <= 1e-9 * scale
    if H is not None:
        z_lo, z_hi = 0.0, float(H)
    else:
        z_lo, z_hi = s_lo, s_hi
    if flat and H is None:
        n_eff = 1  # a flat surface (planar anode): one bin, uniform depth
        z_hi = z_lo
    else:
        n_eff = int(n_bins)
    edges = np.linspace(z_lo, z_hi, n_eff + 1)
    lo_c, hi_c = fem.Constant(msh, 0.0), fem.Constant(msh, 0.0)
    chi = ufl.conditional(ufl.And(ufl.ge(z, lo_c), ufl.lt(z, hi_c)), 1.0, 0.0)
    f_area = [fem.form(chi * m) for _, m in pieces]
    f_cur = [fem.form(chi * j * m) for j, m in pieces]
    profile = []
    for k in range(n_eff):
        lo_c.value = -BIG if k == 0 else edges[k]
        hi_c.value = BIG if k == n_eff - 1 else edges[k + 1]
        a_k = sum(_integrate(comm, f) for f in f_area)
        i_k = sum(_integrate(comm, f) for f in f_cur)
        zc = 0.5 * (edges[k] + edges[k + 1])
        profile.append({"z_m": float(zc), "z_lo_m": float(edges[k]), "z_hi_m": float(edges[k + 1]),
                        "area_m2": float(a_k), "current_density_A_m2": float(i_k / a_k) if a_k > 0 else None})
    filled = [b for b in profile if b["current_density_A_m2"] is not None]
    j_top, j_bot = filled[-1]["current_density_A_m2"], filled[0]["current_density_A_m2"]
    ratio = j_top / j_bot if j_bot != 0 else float("inf")

    # --- Wagner number: kappa (d eta / d i) / L_ref at the mean overpotential
    Vt = cell.Vt
    f = 1.0 / Vt
    dx_e = cell.dx(cell.tm.tag("electrolyte"))
    kappa = _integrate(comm, fem.form(cell.kappa * one * dx_e)) / _integrate(comm, fem.form(one * dx_e))
    eta_mean = sum(_integrate(comm, fem.form(cell.eta[n] * m)) for n, (_, m) in zip(cell.surfaces, pieces)) / area
    c_mean = sum(_integrate(comm, fem.form(cell.c_hat * m)) for _, m in pieces) / area
    thin = getattr(cell, "thin", False)
    g_total, a_total = 0.0, 0.0
    for n, (_, m) in zip(cell.surfaces, pieces):
        kin = cell.kin_of[n]
        a_n = _integrate(comm, fem.form(one * m))
        liquid = cell.parent_tm.role(cell.parent_tm.sides(n)[1]) == "electrolyte" and not thin
        cf = max(c_mean, 1e-8) ** kin.concentration_exponent if liquid and kin.concentration_exponent else 1.0
        g_total += a_n * _didEta(kin, eta_mean, f, cf)
        a_total += a_n
    dEta_di = a_total / g_total if g_total != 0 else float("inf")  # [Ohm m^2]
    if thin:  # the thin stack's series ASR (CellProblem.stack_asr)
        dEta_di += getattr(cell, "stack_asr", 0.0)
    if not flat or H is not None:
        L_ref = float(H) if H is not None else s_hi - s_lo
    else:
        L_ref = _mesh_top(cell) - s_lo
    wa = kappa * dEta_di / L_ref

    out = {
        "depth_profile": profile,
        "top_to_bottom_ratio": float(ratio),
        "active_fraction": float(active),
        "wagner_number": float(wa),
        "current_density_mean_A_m2": float(mean),
        "overpotential_mean_V": float(eta_mean),
        "kinetic_resistance_ohm_m2": float(dEta_di),
        "conductivity_S_m": float(kappa),
        "wagner_length_m": float(L_ref),
        "surface_area_m2": float(area),
    }
    return comm.bcast(out, root=0)


__all__ = ["host_uniformity"]
