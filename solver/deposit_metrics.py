"""Deposit statistics of a transient run with a plating history (solver/surface_state.py; issue 9).

With q the plated Li-metal charge [C/m²] and δ = V_M q/F on the plating surfaces S (area A; in 2D per metre
of depth), θ the Li coverage:

* ``thickness_mean_m`` δ̄ = ∫_S δ dS / A;  ``thickness_rms_m`` = (∫_S (δ − δ̄)² dS / A)^½ (the rms deviation
  about the mean: the roughness the deposit adds);  ``thickness_max_over_mean`` = max nodal δ / δ̄;
* ``plated_volume_m3`` = ∫_S δ dS (m³; m² per metre of depth in 2D);
* ``nucleated_fraction`` = |{θ > 1/2}| / A (1 on Li);
* ``nucleus_density_mean_1_m2`` = the area mean of the Li nucleus density N = ∫(1 − θ) J dt [1/m²] over the
  surfaces that nucleate (lithiophobic: not Li, η_nuc > 0; None without one);
* anodes (planar, sinusoid, bump): ``interface_height_rms_m`` per step, the rms about its mean of the interface
  height h = z_S + δ (the deposit taken along the vertical, the small-slope limit; h = z_S of the moved surface
  with ``moving_interface``), and
  ``roughness_growth_rate_1_s`` = d ln(rms h)/dt, least-squares slope over the accepted steps (None when the
  interface stays flat, rms h < 1e-12 m);
* hosts: ``fill_profile``, the host layer 0 ≤ z ≤ H in ``n_bins`` slabs: per slab ``plated_capacity_C_m2`` =
  ∫_S q χ dS / ∫_S χ dS (plated charge per host area) and ``pore_volume_fraction_filled`` = ∫_S δ χ dS /
  ∫_electrolyte χ dx, ``nucleus_density_1_m2`` = ∫_S N χ dS / ∫_S χ dS (0 on barrier-free and Li surfaces);
  ``bottom_to_top_fill_ratio`` = the plated charge per host area in the lowest third of
  the host over that in the highest third. The lowest slab (and third) extends below z = 0 and the highest
  above z = H for the surface integrals, so the collector floor and the tops of the host count.
  ``bottom_to_top_lithium_ratio``: the same ratio for all the lithium the host has taken up, Li metal plus the
  conversion/alloying charge of a lithiophilic film (Q_conv X: LiZn + Li2O from ZnO), which a seed layer
  stores in place, over the whole skeleton, before any metal plates (``bottom_to_top_fill_ratio`` counts the
  Li metal only; equal without a conversion film).
"""

from __future__ import annotations

import numpy as np

from licoat import import_stack

import_stack()
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.constants import FARADAY  # noqa: E402
from licoat.solver.surface_state import of  # noqa: E402

BIG = 1e30
ANODE_KINDS = ("planar", "sinusoid", "bump")


def _sum(comm, forms) -> float:
    return comm.allreduce(float(sum(fem.assemble_scalar(f) for f in forms)), op=MPI.SUM)


class DepositMetrics:
    """Forms compiled once per cell; ``step()`` gives the per-step numbers, ``summary(series)`` the block."""

    def __init__(self, cell, kind: str | None = None, host_thickness: float | None = None, n_bins: int = 10):
        self._args = (cell, kind, host_thickness, n_bins)
        self.cell, self.st = cell, of(cell)
        if self.st is None:
            raise ValueError("deposit metrics need a transient cell with a plating history")
        msh = self.mesh = cell.tm.mesh
        d = cell.dim
        self.comm = cell.comm
        st = self.st
        self.k = st.molar_volume / FARADAY  # m per C/m^2
        delta = self.k * st.q
        one = fem.Constant(msh, 1.0)
        self.dmean = fem.Constant(msh, 0.0)
        ms = [cell.sm[n] for n in cell.surfaces]
        self.f_A = [fem.form(one * m) for m in ms]  # the surface may move (moving_interface)
        self.A = cell.area_S
        self.f_delta = [fem.form(delta * m) for m in ms]
        self.f_dev = [fem.form((delta - self.dmean) ** 2 * m) for m in ms]
        self.f_nuc = [fem.form(ufl.conditional(ufl.gt(st.theta, 0.5), 1.0, 0.0) * m) for m in ms]
        # nuclei per area on the surfaces that nucleate (not Li, not barrier-free: solver/surface_state.py)
        nucleating = [n for n in cell.surfaces if not st.model(n).lithium_present and not st.model(n).barrier_free]
        self.f_N = [fem.form(st.nuclei * cell.sm[n]) for n in nucleating]
        self.f_A_N = [fem.form(one * cell.sm[n]) for n in nucleating]
        self.dofs = np.unique(np.concatenate([st.dofs[n] for n in cell.surfaces]))
        self.n_own = st.V.dofmap.index_map.size_local
        self.host = "host" in cell.parent_tm.groups
        self.kind = kind or ("host" if self.host else "planar")
        self.anode = self.kind in ANODE_KINDS and not self.host
        z = ufl.SpatialCoordinate(msh)[d - 1]
        if self.anode:
            self.hmean = fem.Constant(msh, 0.0)
            moving = any(type(c).__name__ == "MovingInterface" for c in cell.components)
            h = z if moving else z + delta  # a moving mesh carries the deposit in its coordinates
            self.f_h = [fem.form(h * m) for m in ms]
            self.f_hdev = [fem.form((h - self.hmean) ** 2 * m) for m in ms]
        if self.host:
            H = host_thickness if host_thickness is not None else cell.tm.info.get("host_thickness")
            if H is None:
                raise ValueError("deposit metrics of a host need its host_thickness")
            self.H, self.n_bins = float(H), int(n_bins)
            self.lo, self.hi = fem.Constant(msh, 0.0), fem.Constant(msh, 0.0)
            chi = ufl.conditional(ufl.And(ufl.ge(z, self.lo), ufl.lt(z, self.hi)), 1.0, 0.0)
            dx_e = cell.dx(cell.tm.tag("electrolyte"))
            self.f_area = [fem.form(chi * one * m) for m in ms]
            self.f_q = [fem.form(chi * st.q * m) for m in ms]
            self.f_Nz = [fem.form(chi * st.nuclei * m) for m in ms]
            self.f_li = [fem.form(chi * (st.q + st.model(n).conversion_capacity * st.X) * cell.sm[n])
                         for n in cell.surfaces]
            self.f_pore = [fem.form(chi * one * dx_e)]
            self.f_pore_all = fem.form(ufl.conditional(ufl.lt(z, self.H), 1.0, 0.0) * one * dx_e)

    # ------------------------------------------------------------------ pieces
    def _slab(self, lo, hi, forms):
        self.lo.value, self.hi.value = lo, hi
        return _sum(self.comm, forms)

    def _per_area(self, lo, hi, forms=None) -> float | None:
        a = self._slab(lo, hi, self.f_area)
        return self._slab(lo, hi, forms or self.f_q) / a if a > 0 else None

    def bottom_to_top(self, forms=None) -> float | None:
        """Charge per host area in the lowest third over the highest third (Li metal; ``forms`` = f_li: all Li)."""
        H = self.H
        bottom, top = self._per_area(-BIG, H / 3, forms), self._per_area(2 * H / 3, BIG, forms)
        if bottom is None or top is None or top == 0:
            return None
        return bottom / top

    def fill_profile(self) -> list[dict]:
        edges = np.linspace(0.0, self.H, self.n_bins + 1)
        out = []
        for k in range(self.n_bins):
            lo = -BIG if k == 0 else edges[k]
            hi = BIG if k == self.n_bins - 1 else edges[k + 1]
            a = self._slab(lo, hi, self.f_area)
            qint = self._slab(lo, hi, self.f_q)
            nint = self._slab(lo, hi, self.f_Nz)
            pore = self._slab(edges[k], edges[k + 1], self.f_pore)
            out.append({"z_m": float(0.5 * (edges[k] + edges[k + 1])),
                        "plated_capacity_C_m2": float(qint / a) if a > 0 else None,
                        "pore_volume_fraction_filled": float(self.k * qint / pore) if pore > 0 else None,
                        "nucleus_density_1_m2": float(nint / a) if a > 0 else None})
        return out

    def hydraulic_diameter(self) -> float:
        """4 × pore volume of the host layer / plating area (m): the pore size the deposit is compared with."""
        return 4.0 * self.comm.allreduce(float(fem.assemble_scalar(self.f_pore_all)), op=MPI.SUM) / self.A

    # ------------------------------------------------------------------ per step and summary
    def step(self) -> dict:
        if self.cell.tm.mesh is not self.mesh:  # remeshed (solver/remesh.py): the forms on the new mesh
            self.__init__(*self._args)
        self.A = _sum(self.comm, self.f_A)
        vol = _sum(self.comm, self.f_delta)
        mean = vol / self.A
        self.dmean.value = mean
        rms = np.sqrt(max(_sum(self.comm, self.f_dev) / self.A, 0.0))
        own = self.dofs[self.dofs < self.n_own]
        dmax = self.comm.allreduce(float(self.st.q.x.array[own].max(initial=-np.inf)), op=MPI.MAX) * self.k
        out = {
            "thickness_mean_m": mean,
            "thickness_rms_m": float(rms),
            "thickness_max_over_mean": float(dmax / mean) if mean > 0 else None,
            "plated_volume_m3": vol,
            "nucleated_fraction": _sum(self.comm, self.f_nuc) / self.A,
            "nucleus_density_mean_1_m2": _sum(self.comm, self.f_N) / _sum(self.comm, self.f_A_N) if self.f_N else None,
            "plated_capacity_C_m2": float(vol / self.k / self.cell.footprint),
        }
        if self.anode:
            hm = _sum(self.comm, self.f_h) / self.A
            self.hmean.value = hm
            out["interface_height_rms_m"] = float(np.sqrt(max(_sum(self.comm, self.f_hdev) / self.A, 0.0)))
        if self.host:
            out["bottom_to_top_fill_ratio"] = self.bottom_to_top()
            out["bottom_to_top_lithium_ratio"] = self.bottom_to_top(self.f_li)
        return out

    def summary(self, series: list[dict] | None = None) -> dict:
        out = self.step()
        out.pop("interface_height_rms_m", None)
        if self.anode:
            out["roughness_growth_rate_1_s"] = roughness_growth_rate(series or [])
        if self.host:
            out["fill_profile"] = self.fill_profile()
            out["hydraulic_diameter_m"] = self.hydraulic_diameter()
        return self.comm.bcast(out, root=0)


def roughness_growth_rate(series: list[dict], floor: float = 1e-12) -> float | None:
    """Least-squares slope of ln(interface_height_rms_m) against time_s [1/s] (None when flat)."""
    pts = [(r["time_s"], r["interface_height_rms_m"]) for r in series
           if r.get("interface_height_rms_m") is not None and r["interface_height_rms_m"] > floor]
    if len(pts) < 2:
        return None
    t, h = np.array(pts).T
    return float(np.polyfit(t, np.log(h), 1)[0])
