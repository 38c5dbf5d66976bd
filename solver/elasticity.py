"""Isotropic linear elasticity helpers (plane strain in 2D, full 3D), SI units.

Constitutive law (``mechanics.md``, "Elasticity"): ``sigma = 2 G eps + lambda tr(eps) I`` with
``lambda = 2 G nu / (1 - 2 nu)``. In 2D the displacement has two components and the same expression is
the plane-strain law (``eps_zz = 0``); ``sigma_zz = nu (sigma_xx + sigma_yy)`` is available from
:func:`sigma_zz_plane_strain`. The shear modulus ``G`` and Poisson ratio ``nu`` may be numbers,
``dolfinx.fem.Constant`` or (typically) cell-wise DG0 fields built with :func:`dg0_field`.

Interface stress measures of the stress-coupled kinetics (``mechanics.md``, "Stress-coupled kinetics"),
with y (the last coordinate in 2D) normal to a flat interface:
``p = -(sigma_xx + sigma_yy)/2`` and ``tau = (sigma_yy - sigma_xx)/2``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from licoat import import_stack

import_stack()
import dolfinx  # noqa: E402
import dolfinx.fem  # noqa: E402
import dolfinx.mesh  # noqa: E402
import ufl  # noqa: E402


def lame_parameters(G, nu, *, plane_stress: bool = False):
    """Return ``(lambda, mu)`` from the shear modulus and Poisson ratio.

    Works for floats, numpy arrays and UFL expressions. ``plane_stress=True`` gives the effective 2D
    ``lambda* = 2 G nu / (1 - nu)`` (thin sheet, ``sigma_zz = 0``); the default is the 3D / plane-strain value.
    """
    if plane_stress:
        return 2.0 * G * nu / (1.0 - nu), G
    return 2.0 * G * nu / (1.0 - 2.0 * nu), G


def youngs_modulus(G, nu):
    """E = 2 G (1 + nu)."""
    return 2.0 * G * (1.0 + nu)


def bulk_modulus(G, nu):
    """3D bulk modulus K = 2 G (1 + nu) / (3 (1 - 2 nu))."""
    return 2.0 * G * (1.0 + nu) / (3.0 * (1.0 - 2.0 * nu))


def epsilon(u):
    """Small strain ``sym(grad u)``."""
    return ufl.sym(ufl.grad(u))


def sigma(u, G, nu, *, plane_stress: bool = False):
    """Cauchy stress of an isotropic linear solid: ``2 G eps + lambda tr(eps) I``.

    For a 2-component ``u`` this is plane strain (default) or plane stress (``plane_stress=True``);
    for 3 components it is the 3D law.
    """
    eps = epsilon(u)
    lam, mu = lame_parameters(G, nu, plane_stress=plane_stress)
    d = len(u)
    return 2.0 * mu * eps + lam * ufl.tr(eps) * ufl.Identity(d)


def sigma_zz_plane_strain(s, nu):
    """Out-of-plane stress of plane strain: ``nu (sigma_xx + sigma_yy)``."""
    return nu * (s[0, 0] + s[1, 1])


def in_plane_pressure(s):
    """``p = -(sigma_xx + sigma_yy)/2`` (mechanics.md; not the 3D mean stress)."""
    return -(s[0, 0] + s[1, 1]) / 2.0


def deviatoric_normal_stress(s):
    """``tau = (sigma_yy - sigma_xx)/2`` with y normal to the interface."""
    return (s[1, 1] - s[0, 0]) / 2.0


def dg0_space(mesh: dolfinx.mesh.Mesh):
    """Scalar cell-wise constant space."""
    return dolfinx.fem.functionspace(mesh, ("DG", 0))


def dg0_field(
    mesh: dolfinx.mesh.Mesh,
    cell_sets: Sequence[np.ndarray],
    values: Sequence[float],
    *,
    default: float = 0.0,
    name: str = "material",
    space=None,
) -> dolfinx.fem.Function:
    """A DG0 field equal to ``values[i]`` on the local cells ``cell_sets[i]`` (ghosts included).

    Cells in no set take ``default``. Later sets override earlier ones. Pass the *local* cell indices
    including ghost cells (e.g. from a marker over ``num_cells_local + num_ghosts``) so that interior
    facet integrals on process boundaries see the right values; a ghost update is done anyway.
    """
    V0 = space if space is not None else dg0_space(mesh)
    f = dolfinx.fem.Function(V0, name=name)
    f.x.array[:] = default
    dofs = V0.dofmap.list
    for cells, val in zip(cell_sets, values, strict=True):
        cells = np.asarray(cells, dtype=np.int32)
        if cells.size:
            f.x.array[dofs[cells, 0]] = val
    f.x.scatter_forward()
    return f


def all_local_cells(mesh: dolfinx.mesh.Mesh) -> np.ndarray:
    """Indices of all local cells, owned and ghost."""
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    return np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)


def cells_where(mesh: dolfinx.mesh.Mesh, predicate) -> np.ndarray:
    """Local cells (ghosts included) whose midpoint satisfies ``predicate(x)`` with x of shape (3, n)."""
    tdim = mesh.topology.dim
    cells = all_local_cells(mesh)
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim, cells)
    return cells[np.asarray(predicate(mid.T), dtype=bool)]
