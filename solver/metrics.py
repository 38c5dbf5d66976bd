"""Uniformity metrics of the plating current on a surface S (physics.md §7).

mean j̄ = ∫_S j dS / |S|;  cv = sqrt(∫_S (j - j̄)² dS / |S|) / |j̄|;  max_over_mean = max|j| / |j̄|;
uniform_fraction = |{x in S : |j - j̄| <= 0.1 |j̄|}| / |S|.

Integrals are assembled (quadrature of the UFL expression); min and max are taken over the
nodal values of j on S. Every rank computes every number (collectives first, then logging).
"""

from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI


def integrate(comm, form) -> float:
    return comm.allreduce(fem.assemble_scalar(fem.form(form)), op=MPI.SUM)


def uniformity(comm, pieces, nodal_values: np.ndarray, mesh) -> dict:
    """Metrics of the plating current density on S = union of surfaces.

    ``pieces`` is a list of (j, ds) pairs: the UFL plating current density (A/m^2, plating
    positive) on each surface and its measure. ``nodal_values`` are this rank's owned nodal
    values of j on S (for min/max). ``mesh``: the mesh of the measures.
    """

    def total(f):
        return sum(integrate(comm, f(j) * ds) for j, ds in pieces)

    area = total(lambda j: 1.0)
    # the mean enters the forms as a Constant: as a literal it changed their signature, so that every run
    # compiled them anew (2.6 s of a 12 s foam run)
    mean = total(lambda j: j) / area
    m = fem.Constant(mesh, mean)
    var = total(lambda j: (j - m) ** 2) / area
    uniform = total(lambda j: ufl.conditional(ufl.le(abs(j - m), 0.1 * abs(m)), 1.0, 0.0)) / area
    big = np.finfo(float).max
    jmin = comm.allreduce(float(np.min(nodal_values)) if nodal_values.size else big, op=MPI.MIN)
    jmax = comm.allreduce(float(np.max(nodal_values)) if nodal_values.size else -big, op=MPI.MAX)
    jabs = comm.allreduce(float(np.max(np.abs(nodal_values))) if nodal_values.size else 0.0, op=MPI.MAX)
    denom = abs(mean) if mean != 0 else np.nan
    return {
        "area_m2": area,
        "current_density_mean_A_m2": mean,
        "current_density_min_A_m2": jmin,
        "current_density_max_A_m2": jmax,
        "cv": float(np.sqrt(max(var, 0.0)) / denom),
        "max_over_mean": float(jabs / denom),
        "uniform_fraction": uniform,
    }
