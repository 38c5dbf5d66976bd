"""Linear stability of a perturbed Li | solid interface (Monroe–Newman / Ahmad–Viswanathan) by FEM.

The boundary-value problem is the one of ``/work/shared/reference/mechanics.md`` ("The stability
boundary-value problem"); references: Monroe & Newman, J. Electrochem. Soc. 152 (2005) A396;
Ahmad & Viswanathan, Phys. Rev. Lett. 119 (2017) 056003.

Model (plane strain, isotropic, one conforming mesh, P2 displacement, G and nu as DG0 fields):

* domain x in [0, lambda/2] (half a wavelength), Li (``e``) for -3 lambda <= y <= 0, the solid above
  (``s``): up to +3 lambda (half-space) or a coating of thickness t (top at y = t, traction free);
* interface y = 0: ``u_y = A cos kx`` prescribed on the interface nodes (shared by both sides, so it
  holds on both sides); u_x continuous (conforming mesh); shear traction continuous (natural); the normal
  traction is *not* balanced (it is the reaction to the prescribed displacement);
* sides x = 0, lambda/2: ``u_x = 0`` (symmetry); far bottom ``u = 0``; far top ``u = 0`` (half-space)
  or traction-free (finite coating);
* stresses on each side are extracted as the interface Fourier amplitude
  ``(2/L) int_0^L sigma cos(kx) dx`` over the interface facets, using the one-sided restrictions of an
  interior-facet integral: ``ind('+') s('+') + ind('-') s('-')`` with a DG0 indicator ``ind`` = 1 on the
  cells of the side wanted (Li or solid), 0 elsewhere, so the result does not depend on the (arbitrary)
  '+'/'-' orientation of each facet;
* ``z Delta mu = (V_M - V_+)/2 (p_e + p_s) + (V_M + V_+)/2 (tau_e - tau_s) - (V_M + V_+)/2 gamma kappa``,
  ``p = -(sxx + syy)/2``, ``tau = (syy - sxx)/2``, ``kappa = k^2 A`` at the peak;
  ``chi = Delta mu(peak) / A`` in J/(mol m); ``chi < 0`` is stable.

The problem is solved non-dimensionally (lengths in units of lambda, moduli in units of a reference
modulus, unit amplitude), which is exact because the problem is linear: stresses per unit amplitude are
``G_ref * sigma_hat / lambda``.

Everything is computed on the communicator passed in; nothing is kept between calls except what the
caller holds (``InterfaceStabilityProblem`` instances).
"""

from __future__ import annotations

import math
import uuid

import numpy as np

from licoat import import_stack
from licoat.constants import FARADAY

import_stack()
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

import dolfinx  # noqa: E402
import dolfinx.fem  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402
import dolfinx.mesh  # noqa: E402
import ufl  # noqa: E402

from licoat.solver import elasticity as el  # noqa: E402
from licoat.solver.jit import JIT_OPTIONS  # noqa: E402

__all__ = [
    "InterfaceStabilityProblem",
    "stability_chi",
    "critical_shear_modulus_ratio",
    "critical_ratio_details",
    "closed_form_chi",
    "closed_form_critical_ratio",
    "stability_summary",
    "flat_interface_stresses",
    "flat_interface_shift",
]

# The stability problems are small 2D ones, solved many times: MUMPS LU (issue 12: direct only for
# small 2D problems; 3D elasticity uses CG + GAMG, solver/mechanics.py).
_MUMPS = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
    "ksp_error_if_not_converged": True,
}


# ----------------------------------------------------------------------------------------------------
# Closed forms (mechanics.md; for tests and reporting only — the FEM does not use them)
# ----------------------------------------------------------------------------------------------------
def closed_form_chi(*, G_e, nu_e, G_s, nu_s, V_M, V_plus, gamma, wavelength=None, wavenumber=None, z=1):
    """Half-space closed form of mechanics.md (Ahmad & Viswanathan 2017; code ahzeeshan/screening-ml).

    Returns a dict with ``chi_J_per_mol_m``, ``chi_hydrostatic_J_per_mol_m`` (chi_p),
    ``chi_deviatoric_J_per_mol_m`` (chi_tau), ``chi_surface_J_per_mol_m`` (chi_gamma), ``stable``.
    """
    k = _wavenumber(wavelength, wavenumber)
    D = G_s * (4 * nu_e - 3) * (nu_s - 1) + G_e * (nu_e - 1) * (4 * nu_s - 3)
    chi_p = (V_M - V_plus) * k * (G_s**2 * (3 - 4 * nu_e) - G_e**2 * (3 - 4 * nu_s)) / (2 * z * D)
    chi_t = 2 * G_e * G_s * (V_M + V_plus) * k * (2 - 3 * nu_s - 3 * nu_e + 4 * nu_e * nu_s) / (z * D)
    chi_g = -(V_M + V_plus) * gamma * k**2 / (2 * z)
    chi = chi_p + chi_t + chi_g
    return {
        "chi_J_per_mol_m": chi,
        "chi_hydrostatic_J_per_mol_m": chi_p,
        "chi_deviatoric_J_per_mol_m": chi_t,
        "chi_surface_J_per_mol_m": chi_g,
        "stable": bool(chi < 0),
    }


def closed_form_critical_ratio(*, nu_e, nu_s, V_M=None, V_plus=None, v=None):
    """Closed-form critical G_s/G_e (gamma neglected, two half-spaces), mechanics.md.

    ``v = V_plus / V_M`` (pass ``v`` directly, or ``V_M`` and ``V_plus``; ``v = inf`` allowed).
    For v > 1 the interface is stable when G_s/G_e > r*; for v < 1 when G_s/G_e < r*. v = 1 has no
    critical ratio (returns nan).
    """
    if v is None:
        v = V_plus / V_M
    ke, ks = 3 - 4 * nu_e, 3 - 4 * nu_s
    beta = 2 - 3 * nu_s - 3 * nu_e + 4 * nu_e * nu_s
    if v == 1:
        return math.nan
    if math.isinf(v):
        w = 1.0
    else:
        w = (1 + v) / abs(1 - v)
    root = math.sqrt(4 * w * w * beta * beta + ke * ks)
    if v > 1:  # "-" root of the mechanics.md formula, rewritten with (v - 1) > 0
        return (2 * w * beta + root) / ke
    return (-2 * w * beta + root) / ke  # "+" root


def _wavenumber(wavelength, wavenumber):
    if (wavelength is None) == (wavenumber is None):
        raise ValueError("give exactly one of wavelength, wavenumber")
    return 2 * math.pi / wavelength if wavelength is not None else float(wavenumber)


# ----------------------------------------------------------------------------------------------------
# Mesh
# ----------------------------------------------------------------------------------------------------
def _graded_nodes(length, h0, growth, hmax, n_min=1):
    """Nodes 0 = s_0 < s_1 < ... < s_n = length, first spacing h0, geometric growth, capped at hmax."""
    nodes = [0.0]
    h = min(h0, length / n_min)
    while True:
        nxt = nodes[-1] + h
        if nxt >= length * (1 - 1e-12):
            break
        nodes.append(nxt)
        h = min(h * growth, hmax)
    # close the last interval; merge a sliver into its neighbour
    if len(nodes) > 1 and (length - nodes[-1]) < 0.5 * (nodes[-1] - nodes[-2]):
        nodes.pop()
    nodes.append(length)
    return np.asarray(nodes)


def _row_coordinates(depth, top, coating, h0, growth, hmax, min_coating_cells, inner=None):
    """y rows (units of lambda) from -depth to the top; y = 0 (and y = t for a coating, y = t_inner for
    the boundary between the two layers of a bilayer) are rows."""
    below = -_graded_nodes(depth, h0, growth, hmax)[::-1]
    if coating is None:
        above = _graded_nodes(top, h0, growth, hmax)
    elif inner is None:
        above = _graded_nodes(coating, h0, growth, hmax, n_min=min_coating_cells)
    else:
        lower = _graded_nodes(inner, h0, growth, hmax, n_min=min_coating_cells)
        upper = inner + _graded_nodes(coating - inner, h0, growth, hmax, n_min=min_coating_cells)
        above = np.concatenate([lower[:-1], upper])
    return np.concatenate([below[:-1], above])


class InterfaceStabilityProblem:
    """The linear-stability BVP on a fixed mesh; re-solvable for any (G_e, nu_e, G_s, nu_s).

    Lengths are in units of the wavelength and the interface amplitude is 1 (linear problem); the
    per-side interface Fourier amplitudes of sxx, syy are returned by :meth:`solve_amplitudes` in units
    of the reference modulus per wavelength (multiply by ``G_ref / lambda`` for Pa per metre of
    amplitude).
    """

    def __init__(
        self,
        comm,
        *,
        coating_thickness_over_wavelength=None,
        cells_per_wavelength=32,
        degree=2,
        depth=3.0,
        growth=1.2,
        hmax=0.25,
        min_coating_cells=4,
        inner_thickness_over_wavelength=None,
    ):
        if cells_per_wavelength < 4:
            raise ValueError("cells_per_wavelength must be >= 4")
        t = coating_thickness_over_wavelength
        if t is not None and not t > 0:
            raise ValueError(f"coating thickness must be > 0 (got t/lambda = {t})")
        t_in = inner_thickness_over_wavelength  # bilayer: inner layer on Li, the outer one above it
        if t_in is not None and not (t is not None and 0 < t_in < t):
            raise ValueError(f"inner layer thickness must lie in (0, t) (got t_inner/lambda = {t_in}, t/lambda = {t})")
        self.comm = comm
        self.coating = t
        self.inner = t_in
        h0 = 1.0 / cells_per_wavelength
        nx = max(2, int(round(cells_per_wavelength / 2)))
        rows = _row_coordinates(depth, depth, t, h0, growth, max(hmax, h0), min_coating_cells, inner=t_in)
        ny = len(rows) - 1
        self.rows = rows
        # structured triangles on [0, 1/2] x [0, ny]; row index j -> y = rows[j] (mesh lines at y=0, y=t)
        mesh = dolfinx.mesh.create_rectangle(
            comm,
            [np.array([0.0, 0.0]), np.array([0.5, float(ny)])],
            [nx, ny],
            cell_type=dolfinx.mesh.CellType.triangle,
            diagonal=dolfinx.mesh.DiagonalType.crossed,
        )
        gx = mesh.geometry.x
        gx[:, 1] = np.interp(gx[:, 1], np.arange(ny + 1, dtype=float), rows)
        self.mesh = mesh
        y_top, y_bot = rows[-1], rows[0]
        tdim, fdim = 2, 1
        mesh.topology.create_connectivity(fdim, tdim)

        # materials: Li (y < 0) and the solid above
        V0 = el.dg0_space(mesh)
        self.li_cells = el.cells_where(mesh, lambda x: x[1] < 0)
        self.solid_cells = el.cells_where(mesh, lambda x: x[1] > 0)
        # bilayer: cells of the outer layer (their own moduli; the interface sees the inner layer)
        self.outer_cells = (el.cells_where(mesh, lambda x: x[1] > t_in) if t_in is not None
                            else np.zeros(0, dtype=np.int32))
        self.ind_e = el.dg0_field(mesh, [self.li_cells], [1.0], name="is_li", space=V0)
        self.ind_s = el.dg0_field(mesh, [self.solid_cells], [1.0], name="is_solid", space=V0)
        self.G = dolfinx.fem.Function(V0, name="G")
        self.nu = dolfinx.fem.Function(V0, name="nu")

        # displacement space and boundary conditions
        V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree, (2,)))
        self.V = V
        tol = 1e-9
        interface = dolfinx.mesh.locate_entities(mesh, fdim, lambda x: np.abs(x[1]) < tol)
        sides = dolfinx.mesh.locate_entities_boundary(
            mesh, fdim, lambda x: np.isclose(x[0], 0.0, atol=tol) | np.isclose(x[0], 0.5, atol=tol)
        )
        bottom = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.abs(x[1] - y_bot) < tol)
        top = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.abs(x[1] - y_top) < tol)

        V1, _ = V.sub(1).collapse()
        g = dolfinx.fem.Function(V1)
        g.interpolate(lambda x: np.cos(2 * np.pi * x[0]))
        dofs_if = dolfinx.fem.locate_dofs_topological((V.sub(1), V1), fdim, interface)
        bcs = [dolfinx.fem.dirichletbc(g, dofs_if, V.sub(1))]
        dofs_sides = dolfinx.fem.locate_dofs_topological(V.sub(0), fdim, sides)
        bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(0), dofs_sides, V.sub(0)))
        zero = np.zeros(2, dtype=PETSc.ScalarType)
        bcs.append(dolfinx.fem.dirichletbc(zero, dolfinx.fem.locate_dofs_topological(V, fdim, bottom), V))
        if t is None:
            bcs.append(dolfinx.fem.dirichletbc(zero, dolfinx.fem.locate_dofs_topological(V, fdim, top), V))
        self.bcs = bcs

        u, w = ufl.TrialFunction(V), ufl.TestFunction(V)
        a = ufl.inner(el.sigma(u, self.G, self.nu), el.epsilon(w)) * ufl.dx
        f = dolfinx.fem.Constant(mesh, np.zeros(2, dtype=PETSc.ScalarType))
        L = ufl.inner(f, w) * ufl.dx
        self._prefix = f"licoat_stability_{uuid.uuid4().hex[:12]}_"
        self.problem = dolfinx.fem.petsc.LinearProblem(
            a, L, bcs=bcs, petsc_options_prefix=self._prefix, petsc_options=dict(_MUMPS), jit_options=JIT_OPTIONS
        )
        self.uh = self.problem.u

        # interface Fourier-amplitude functionals: (2/L) int sigma cos(kx) dS, L = 1/2, k = 2 pi
        order = np.argsort(interface)
        ft = dolfinx.mesh.meshtags(mesh, fdim, interface[order], np.full(interface.size, 1, np.int32))
        dS = ufl.Measure("dS", domain=mesh, subdomain_data=ft, subdomain_id=1)
        x = ufl.SpatialCoordinate(mesh)
        weight = 4.0 * ufl.cos(2 * ufl.pi * x[0])  # 2/L with L = 1/2
        s = el.sigma(self.uh, self.G, self.nu)

        def one_side(expr, ind):
            return ind("+") * expr("+") + ind("-") * expr("-")

        self._forms = {}
        for side, ind in (("e", self.ind_e), ("s", self.ind_s)):
            for name, comp in (("xx", s[0, 0]), ("yy", s[1, 1]), ("xy", s[0, 1])):
                self._forms[f"s{name}_{side}"] = dolfinx.fem.form(one_side(comp, ind) * weight * dS)
        self.dofs = V.dofmap.index_map.size_global * V.dofmap.index_map_bs

    def set_materials(self, G_e, nu_e, G_s, nu_s, G_o=None, nu_o=None):
        for arr, ve, vs, vo in ((self.G, G_e, G_s, G_o), (self.nu, nu_e, nu_s, nu_o)):
            dm = arr.function_space.dofmap.list
            arr.x.array[dm[self.li_cells, 0]] = ve
            arr.x.array[dm[self.solid_cells, 0]] = vs
            if self.inner is not None:
                arr.x.array[dm[self.outer_cells, 0]] = vo
            arr.x.scatter_forward()

    def solve_amplitudes(self, G_e, nu_e, G_s, nu_s, G_o=None, nu_o=None):
        """Solve for the given (non-dimensional) moduli; return the interface amplitudes on each side.

        Keys ``sxx_e, syy_e, sxy_e, sxx_s, syy_s, sxy_s`` (Fourier cos-amplitudes), and the derived
        ``p_e, p_s, tau_e, tau_s``.
        """
        for name, nu in (("nu_e", nu_e), ("nu_s", nu_s)):
            if not -1.0 < nu < 0.5:
                raise ValueError(
                    f"{name} = {nu}: the displacement formulation needs -1 < nu < 0.5 "
                    "(use e.g. 0.4999 for an incompressible solid; P2 on crossed triangles does not lock)"
                )
        if not (G_e > 0 and G_s > 0):
            raise ValueError(f"shear moduli must be > 0 (got G_e = {G_e}, G_s = {G_s})")
        if self.inner is not None and not (G_o is not None and G_o > 0 and nu_o is not None and -1.0 < nu_o < 0.5):
            raise ValueError(f"a bilayer needs the outer layer's G_o > 0 and -1 < nu_o < 0.5 (got {G_o}, {nu_o})")
        self.set_materials(G_e, nu_e, G_s, nu_s, G_o, nu_o)
        self.problem.solve()
        reason = self.problem.solver.getConvergedReason()
        if reason <= 0:
            raise RuntimeError(f"stability solve did not converge (KSP reason {reason})")
        out = {
            key: self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)
            for key, form in self._forms.items()
        }
        for side in ("e", "s"):
            out[f"p_{side}"] = -(out[f"sxx_{side}"] + out[f"syy_{side}"]) / 2
            out[f"tau_{side}"] = (out[f"syy_{side}"] - out[f"sxx_{side}"]) / 2
        return out


def _chi_from_amplitudes(amp, *, G_ref, V_M, V_plus, gamma, k, wavelength, z=1):
    """chi terms (J/(mol m)) from the non-dimensional interface amplitudes."""
    scale = G_ref / wavelength  # Pa per metre of amplitude
    chi_p = (V_M - V_plus) / (2 * z) * (amp["p_e"] + amp["p_s"]) * scale
    chi_t = (V_M + V_plus) / (2 * z) * (amp["tau_e"] - amp["tau_s"]) * scale
    chi_g = -(V_M + V_plus) / (2 * z) * gamma * k**2
    return chi_p, chi_t, chi_g


def stability_chi(
    comm,
    *,
    G_e,
    nu_e,
    G_s,
    nu_s,
    V_M,
    V_plus,
    gamma,
    wavelength,
    coating_thickness=None,
    amplitude=None,
    cells_per_wavelength=32,
    degree=2,
    z=1,
    problem: InterfaceStabilityProblem | None = None,
    outer_layer: dict | None = None,
) -> dict:
    """FEM stability parameter chi = Delta mu(peak)/A of a perturbation of wavelength ``wavelength``.

    SI inputs (Pa, m^3/mol, J/m^2, m). ``coating_thickness=None`` is the half-space (closed-form) case;
    otherwise a coating of that thickness with a traction-free top. Returns ``chi_J_per_mol_m``,
    ``chi_hydrostatic_J_per_mol_m``, ``chi_deviatoric_J_per_mol_m``, ``chi_surface_J_per_mol_m``,
    ``stable`` (chi < 0), ``dofs``, and the interface stress amplitudes per unit amplitude
    (``interface_stress_Pa_per_m``); with ``amplitude`` (m) also ``delta_mu_peak_J_per_mol`` and
    ``delta_mu_peak_over_F_V`` for that amplitude. A prebuilt ``problem`` (same geometry) may be passed.
    ``outer_layer`` = {"G", "nu", "thickness"} puts a second layer on top of the coating (a bilayer:
    ``coating_thickness`` is then the inner layer's); Li+ enters the inner layer (V_plus is its).
    """
    k = 2 * math.pi / wavelength
    t_hat, t_in = None if coating_thickness is None else coating_thickness / wavelength, None
    G_o = nu_o = None
    if outer_layer is not None:
        if coating_thickness is None:
            raise ValueError("a bilayer (outer_layer) needs a finite inner coating_thickness")
        t_in, t_hat = t_hat, (coating_thickness + outer_layer["thickness"]) / wavelength
        G_o, nu_o = outer_layer["G"], outer_layer["nu"]
    G_ref = max(abs(G_e), abs(G_s), abs(G_o or 0.0))
    dofs = None
    if G_ref > 0:
        if problem is None:
            problem = InterfaceStabilityProblem(
                comm,
                coating_thickness_over_wavelength=t_hat,
                cells_per_wavelength=cells_per_wavelength,
                degree=degree,
                inner_thickness_over_wavelength=t_in,
            )
        amp = problem.solve_amplitudes(G_e / G_ref, nu_e, G_s / G_ref, nu_s,
                                       None if G_o is None else G_o / G_ref, nu_o)
        dofs = problem.dofs
    else:  # no elasticity at all: only surface tension
        amp = {key: 0.0 for key in ("sxx_e", "syy_e", "sxy_e", "sxx_s", "syy_s", "sxy_s")}
        amp.update(p_e=0.0, p_s=0.0, tau_e=0.0, tau_s=0.0)
        G_ref = 1.0
    chi_p, chi_t, chi_g = _chi_from_amplitudes(
        amp, G_ref=G_ref, V_M=V_M, V_plus=V_plus, gamma=gamma, k=k, wavelength=wavelength, z=z
    )
    chi = chi_p + chi_t + chi_g
    out = {
        "chi_J_per_mol_m": chi,
        "chi_hydrostatic_J_per_mol_m": chi_p,
        "chi_deviatoric_J_per_mol_m": chi_t,
        "chi_surface_J_per_mol_m": chi_g,
        "stable": bool(chi < 0),
        "dofs": dofs,
        "interface_stress_Pa_per_m": {key: val * G_ref / wavelength for key, val in amp.items()},
    }
    if amplitude is not None:
        out["delta_mu_peak_J_per_mol"] = chi * amplitude
        out["delta_mu_peak_over_F_V"] = chi * amplitude / FARADAY
    return out


# ----------------------------------------------------------------------------------------------------
# Critical shear-modulus ratio (found by the FEM)
# ----------------------------------------------------------------------------------------------------
def critical_ratio_details(
    comm,
    *,
    nu_e,
    nu_s,
    V_M,
    V_plus,
    wavelength=1.0,
    coating_thickness=None,
    cells_per_wavelength=32,
    degree=2,
    r_min=1e-3,
    r_max=1e3,
    n_scan=13,
    rtol=1e-10,
    problem: InterfaceStabilityProblem | None = None,
    outer_layer: dict | None = None,
) -> dict:
    """Root in r = G_s/G_e of the elastic chi (chi_p + chi_tau, gamma neglected), by the FEM.

    A bilayer (``outer_layer`` with "G_ratio" = G_outer/G_inner, "nu" and a prebuilt ``problem``)
    scales both layers together: r is the inner layer's ratio, the outer one's is r G_ratio.

    Each evaluation solves the BVP with G_e = 1, G_s = r (the elastic chi is homogeneous of degree one
    in the moduli, so only the ratio matters). A log-spaced scan over [r_min, r_max] brackets the sign
    change, then an Illinois (modified regula falsi) iteration in log r refines it. Returns
    ``ratio`` (nan if chi_elastic does not change sign in the range), ``regime`` ("stable_above" /
    "stable_below" / "never_stable_in_range" / "always_stable_in_range"), ``evaluations``, ``dofs``.
    """
    v = V_plus / V_M
    if problem is None:
        t_hat = None if coating_thickness is None else coating_thickness / wavelength
        problem = InterfaceStabilityProblem(
            comm,
            coating_thickness_over_wavelength=t_hat,
            cells_per_wavelength=cells_per_wavelength,
            degree=degree,
        )
    # chi_elastic / ((V_M + V_+) G_e k / (2 z)) up to a positive factor: finite for v -> infinity
    c_p = (1 - v) / (1 + v)
    n_eval = 0

    def g(log_r):
        nonlocal n_eval
        n_eval += 1
        r = math.exp(log_r)
        if outer_layer is None:
            amp = problem.solve_amplitudes(1.0, nu_e, r, nu_s)
        else:
            amp = problem.solve_amplitudes(1.0, nu_e, r, nu_s, r * outer_layer["G_ratio"], outer_layer["nu"])
        return c_p * (amp["p_e"] + amp["p_s"]) + (amp["tau_e"] - amp["tau_s"])

    grid = np.linspace(math.log(r_min), math.log(r_max), n_scan)
    vals = [g(s) for s in grid]
    bracket = None
    for i in range(len(grid) - 1):
        if vals[i] == 0.0:
            bracket = (grid[i], grid[i], vals[i], vals[i])
            break
        if vals[i] * vals[i + 1] < 0:
            bracket = (grid[i], grid[i + 1], vals[i], vals[i + 1])
            break
    if bracket is None:
        regime = "never_stable_in_range" if all(val > 0 for val in vals) else "always_stable_in_range"
        return {"ratio": math.nan, "regime": regime, "evaluations": n_eval, "dofs": problem.dofs}
    a, b, fa, fb = bracket
    regime = "stable_above" if fa > 0 else "stable_below"
    side = 0
    root = a
    if a != b:
        for _ in range(100):
            c = (a * fb - b * fa) / (fb - fa)
            fc = g(c)
            root = c
            if fc == 0.0 or abs(b - a) < rtol:
                break
            if fc * fb < 0:
                a, fa = b, fb
                b, fb = c, fc
                side = 0
            else:
                b, fb = c, fc
                if side == 1:
                    fa *= 0.5  # Illinois modification
                side = 1
            if abs(b - a) < rtol:
                root = b
                break
    return {"ratio": math.exp(root), "regime": regime, "evaluations": n_eval, "dofs": problem.dofs}


def critical_shear_modulus_ratio(
    comm,
    *,
    nu_e,
    nu_s,
    V_M,
    V_plus,
    wavelength=1.0,
    coating_thickness=None,
    cells_per_wavelength=32,
    degree=2,
    **kwargs,
) -> float:
    """G_s/G_e at which the FEM elastic chi (surface tension neglected) changes sign.

    v = V_plus/V_M > 1: stable above the returned ratio; v < 1: stable below it (see
    :func:`critical_ratio_details` for the regime found and for the search options). nan when no sign
    change lies in the search range (e.g. v = 1, or a very thin coating with v > 1).
    For a finite coating only t/lambda matters (the elastic chi scales with k).
    """
    return critical_ratio_details(
        comm,
        nu_e=nu_e,
        nu_s=nu_s,
        V_M=V_M,
        V_plus=V_plus,
        wavelength=wavelength,
        coating_thickness=coating_thickness,
        cells_per_wavelength=cells_per_wavelength,
        degree=degree,
        **kwargs,
    )["ratio"]


def stability_summary(comm, params: dict) -> dict:
    """The ``stability`` block of ``summary.json`` from SI floats.

    ``params``: G_e, nu_e, G_s, nu_s, V_M, V_plus, gamma, wavelength, coating_thickness (or None);
    optional cells_per_wavelength, degree. JSON-serialisable output (nan is written as None).
    """
    t = params.get("coating_thickness")
    cpw = int(params.get("cells_per_wavelength", 32))
    deg = int(params.get("degree", 2))
    lam = float(params["wavelength"])
    outer = params.get("outer_layer")  # bilayer: {"G", "nu", "thickness"} above the inner coating
    t_total = None if t is None else float(t) + (float(outer["thickness"]) if outer else 0.0)
    problem = InterfaceStabilityProblem(
        comm,
        coating_thickness_over_wavelength=None if t is None else t_total / lam,
        cells_per_wavelength=cpw,
        degree=deg,
        inner_thickness_over_wavelength=float(t) / lam if outer else None,
    )
    mats = {key: float(params[key]) for key in ("G_e", "nu_e", "G_s", "nu_s", "V_M", "V_plus", "gamma")}
    res = stability_chi(comm, **mats, wavelength=lam, coating_thickness=t, problem=problem, outer_layer=outer)
    crit = critical_ratio_details(
        comm,
        nu_e=mats["nu_e"],
        nu_s=mats["nu_s"],
        V_M=mats["V_M"],
        V_plus=mats["V_plus"],
        wavelength=lam,
        coating_thickness=t,
        problem=problem,
        outer_layer=None if not outer else {"G_ratio": float(outer["G"]) / mats["G_s"], "nu": float(outer["nu"])},
    )

    def clean(x):
        return None if isinstance(x, float) and not math.isfinite(x) else x

    out = {
        "model": "half_space" if t is None else "finite_coating",
        "wavelength_m": lam,
        "coating_thickness_m": None if t is None else t_total,
        "shear_modulus_ratio": mats["G_s"] / mats["G_e"],
        "partial_molar_volume_ratio": mats["V_plus"] / mats["V_M"],
        "chi_J_per_mol_m": res["chi_J_per_mol_m"],
        "chi_hydrostatic_J_per_mol_m": res["chi_hydrostatic_J_per_mol_m"],
        "chi_deviatoric_J_per_mol_m": res["chi_deviatoric_J_per_mol_m"],
        "chi_surface_J_per_mol_m": res["chi_surface_J_per_mol_m"],
        "stable": res["stable"],
        "critical_shear_modulus_ratio": clean(crit["ratio"]),
        "critical_ratio_regime": crit["regime"],
        "dofs": res["dofs"],
    }
    if outer:
        out["layers"] = [{"thickness_m": float(t), "shear_modulus_Pa": mats["G_s"], "poisson_ratio": mats["nu_s"]},
                         {"thickness_m": float(outer["thickness"]), "shear_modulus_Pa": float(outer["G"]),
                          "poisson_ratio": float(outer["nu"])}]
    if t is None:
        cf = closed_form_chi(**mats, wavelength=lam)
        out["closed_form"] = {
            "chi_J_per_mol_m": cf["chi_J_per_mol_m"],
            "chi_hydrostatic_J_per_mol_m": cf["chi_hydrostatic_J_per_mol_m"],
            "chi_deviatoric_J_per_mol_m": cf["chi_deviatoric_J_per_mol_m"],
            "chi_surface_J_per_mol_m": cf["chi_surface_J_per_mol_m"],
            "stable": cf["stable"],
            "critical_shear_modulus_ratio": clean(
                closed_form_critical_ratio(nu_e=mats["nu_e"], nu_s=mats["nu_s"], V_M=mats["V_M"], V_plus=mats["V_plus"])
            ),
        }
    return out


# ----------------------------------------------------------------------------------------------------
# Flat interface under a prescribed loading
# ----------------------------------------------------------------------------------------------------
def flat_interface_stresses(
    comm,
    *,
    loading,
    pressure,
    G_e,
    nu_e,
    G_s,
    nu_s,
    V_M,
    V_plus,
    width=1.0,
    li_thickness=1.0,
    solid_thickness=1.0,
    n=8,
    degree=2,
    z=1,
) -> dict:
    """Flat Li | solid bilayer (bonded, one conforming mesh) under a prescribed load; Delta mu by FEM.

    ``loading``:

    * ``"hydrostatic"``: pressure ``p`` on every outer face. Modelled on the quarter block
      (symmetry ``u_x = 0`` at x = 0, ``u_y = 0`` at the Li bottom) with traction ``-p n`` on the right
      and top faces. The in-plane state is exactly ``sigma = -p I`` in both phases only if their
      plane-strain bulk moduli ``G/(1 - 2 nu)`` are equal; otherwise the bonded interface adds a
      misfit stress (reported as computed, averaged along the interface).
    * ``"uniaxial_constrained"``: stack pressure ``p`` on the top, ``u_x = 0`` on both sides, Li bottom
      ``u_y = 0``: ``sigma_yy = -p``, ``sigma_xx = nu/(1 - nu) sigma_yy`` in each phase (exact).

    Stresses are the interface averages (1/L) int sigma dx of the one-sided restrictions (as in the
    stability problem). Returns p_e, p_s, tau_e, tau_s, sxx_e, syy_e, sxx_s, syy_s (Pa),
    ``delta_mu_J_per_mol`` and ``delta_mu_over_F_V``.
    """
    if loading not in ("hydrostatic", "uniaxial_constrained"):
        raise ValueError(f"unknown loading '{loading}'")
    ny_e = max(1, int(round(n * li_thickness / width)))
    ny_s = max(1, int(round(n * solid_thickness / width)))
    mesh = dolfinx.mesh.create_rectangle(
        comm, [np.array([0.0, 0.0]), np.array([1.0, float(ny_e + ny_s)])], [n, ny_e + ny_s]
    )
    gx = mesh.geometry.x
    rows = np.concatenate(
        [np.linspace(-li_thickness, 0.0, ny_e + 1)[:-1], np.linspace(0.0, solid_thickness, ny_s + 1)]
    )
    gx[:, 1] = np.interp(gx[:, 1], np.arange(ny_e + ny_s + 1, dtype=float), rows)
    gx[:, 0] *= width
    fdim = 1
    mesh.topology.create_connectivity(fdim, 2)
    V0 = el.dg0_space(mesh)
    li = el.cells_where(mesh, lambda x: x[1] < 0)
    so = el.cells_where(mesh, lambda x: x[1] > 0)
    G = el.dg0_field(mesh, [li, so], [1.0, G_s / G_e], name="G", space=V0)
    nu = el.dg0_field(mesh, [li, so], [nu_e, nu_s], name="nu", space=V0)
    ind = {"e": el.dg0_field(mesh, [li], [1.0], space=V0), "s": el.dg0_field(mesh, [so], [1.0], space=V0)}

    V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree, (2,)))
    tol = 1e-9 * max(width, li_thickness, solid_thickness)
    left = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.abs(x[0]) < tol)
    right = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.abs(x[0] - width) < tol)
    bottom = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.abs(x[1] + li_thickness) < tol)
    top = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.abs(x[1] - solid_thickness) < tol)
    interface = dolfinx.mesh.locate_entities(mesh, fdim, lambda x: np.abs(x[1]) < tol)

    zero = PETSc.ScalarType(0)
    bcs = [
        dolfinx.fem.dirichletbc(zero, dolfinx.fem.locate_dofs_topological(V.sub(0), fdim, left), V.sub(0)),
        dolfinx.fem.dirichletbc(zero, dolfinx.fem.locate_dofs_topological(V.sub(1), fdim, bottom), V.sub(1)),
    ]
    loaded = [right, top] if loading == "hydrostatic" else [top]
    if loading == "uniaxial_constrained":
        bcs.append(
            dolfinx.fem.dirichletbc(zero, dolfinx.fem.locate_dofs_topological(V.sub(0), fdim, right), V.sub(0))
        )
    idx = np.concatenate([*loaded, interface]).astype(np.int32)
    val = np.concatenate([np.full(f.size, 1, np.int32) for f in loaded] + [np.full(interface.size, 2, np.int32)])
    idx, keep = np.unique(idx, return_index=True)
    ft = dolfinx.mesh.meshtags(mesh, fdim, idx, val[keep])
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=ft)
    dS = ufl.Measure("dS", domain=mesh, subdomain_data=ft)

    # non-dimensional: moduli / G_e, load p / G_e
    p_hat = dolfinx.fem.Constant(mesh, PETSc.ScalarType(pressure / G_e))
    u, w = ufl.TrialFunction(V), ufl.TestFunction(V)
    nrm = ufl.FacetNormal(mesh)
    a = ufl.inner(el.sigma(u, G, nu), el.epsilon(w)) * ufl.dx
    L = ufl.inner(-p_hat * nrm, w) * ds(1)
    problem = dolfinx.fem.petsc.LinearProblem(
        a, L, bcs=bcs, petsc_options_prefix=f"licoat_flat_{uuid.uuid4().hex[:12]}_", petsc_options=dict(_MUMPS),
        jit_options=JIT_OPTIONS,
    )
    uh = problem.solve()
    reason = problem.solver.getConvergedReason()
    if reason <= 0:
        raise RuntimeError(f"flat-interface solve did not converge (KSP reason {reason})")
    s = el.sigma(uh, G, nu)
    out = {}
    for side in ("e", "s"):
        for name, comp in (("xx", s[0, 0]), ("yy", s[1, 1])):
            expr = (ind[side]("+") * comp("+") + ind[side]("-") * comp("-")) / width
            loc = dolfinx.fem.assemble_scalar(dolfinx.fem.form(expr * dS(2)))
            out[f"s{name}_{side}"] = comm.allreduce(loc, op=MPI.SUM) * G_e
        out[f"p_{side}"] = -(out[f"sxx_{side}"] + out[f"syy_{side}"]) / 2
        out[f"tau_{side}"] = (out[f"syy_{side}"] - out[f"sxx_{side}"]) / 2
    dmu = (V_M - V_plus) / (2 * z) * (out["p_e"] + out["p_s"]) + (V_M + V_plus) / (2 * z) * (
        out["tau_e"] - out["tau_s"]
    )
    out["delta_mu_J_per_mol"] = dmu
    out["delta_mu_over_F_V"] = dmu / FARADAY
    out["loading"] = loading
    return out


def flat_interface_shift(comm, **kwargs) -> float:
    """Delta mu / F (volts) of a flat interface under a prescribed load; see :func:`flat_interface_stresses`."""
    return flat_interface_stresses(comm, **kwargs)["delta_mu_over_F_V"]
