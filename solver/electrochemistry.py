"""Steady Li+ transport and Butler–Volmer kinetics in an electrolyte under a coated Li surface.

Unknowns on the ion-conducting part of the mesh (electrolyte + resolved coating), all
non-dimensional so that Newton's residual norms mean the same in every field:

* ĉ = c / c0                salt concentration (electrolyte only)
* φ̂ = φ F / RT              Li+ electrochemical potential / F, measured against a Li reference
                            (Newman's convention). One continuous field over electrolyte and
                            coating: continuity of φ̂ across coating|electrolyte *is* continuity of
                            the Li+ electrochemical potential, and flux continuity is natural.
* ψ̂                         (thin coatings only) the potential on the Li side of the film,
                            a field that lives on the plating surface (its off-surface dofs pinned)
* V̂ = V F / RT              plating-electrode potential: a global (real) unknown when
                            galvanostatic, a constant when potentiostatic
* λ                         (Li counter only) multiplier that conserves the salt inventory
* φ̂_s                       (resolved hosts only) electronic potential in host and collector;
                            the applied current leaves through the collector bottom

Equations (Newman & Thomas-Alyea ch. 12, binary salt, constant t+):

    electrolyte   i_e = -κ ∇φ + (2κRT/F)(1-t+) TDF ∇ln c        ∇·i_e = 0
                  ∂c/∂t = -∇·N_-,  N_- = -D ∇c - (1-t+) i_e / F  (anion flux; N_-·n = 0 at every
                  Li+-only surface, so blocked-anion conditions are natural)
    coating       i_c = -κ_c ∇φ                                   ∇·i_c = 0   (t+ = 1)
    Li surface    i_n = i0 (c/c0)^γ [exp(α_a f η) - exp(-α_c f η)],  η = V - φ_l,  f = F/RT
    thin coating  i_n = (ψ - φ_e) / ASR  with  i_n = BV(V - ψ),  ASR = t/κ_c
    leaky film    + i_top = a(η) (V - φ_e) / (t/σ_e + R_ct)     (Li plating on top of the film)
    metal         -∇·(σ ∇φ_s) = 0,  η = φ_s - φ_l              (resolved hosts)
    stress        η -> η - Δμ/F,  i0 -> i0 exp((1 - α_a) Δμ/RT) (Monroe–Newman, optional)
    nucleation    i_n -> a(η) i_n,  a = 1/(1 + exp((η + η_nuc)/w))
    galvanostatic ∫_S i_n dS = -i_app A_footprint                  (plating positive i_app)

Weak form (test functions v, w):

    ∫_e (D∇c + (1-t+) i_e/F)·∇v dx = 0
    ∫_e (-i_e)·∇w dx + ∫_coat κ_c ∇φ·∇w dx - ∫_S i_n w ds - ∫_top i_n,counter w ds = 0
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from licoat import import_stack

import_stack()
import basix.ufl  # noqa: E402
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402
from dolfinx.fem.petsc import NonlinearProblem  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.constants import FARADAY  # noqa: E402
from licoat.meshes.common import TaggedMesh  # noqa: E402
from licoat.solver.properties import Coating, Electrolyte, Kinetics, Operation  # noqa: E402
from licoat.solver.submesh import one_sided_entities, restrict  # noqa: E402

METALS = ("anode", "host", "collector")

DIRECT = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}


class SolverError(RuntimeError):
    """Nonlinear solve failed; the message names the field and the reason."""


SNES_REASONS = {
    -1: "function domain error",
    -2: "function count exceeded",
    -3: "linear solve failed",
    -4: "residual became NaN/Inf",
    -5: "maximum Newton iterations reached",
    -6: "line search failed",
    -8: "Jacobian domain error",
    -9: "trust region / divergence tolerance",
}


@dataclass
class SolverOptions:
    rtol: float = 1e-10
    atol: float = 1e-12
    max_iterations: int = 50
    linear_solver: str = "direct"  # "direct" | "iterative"
    petsc_options: dict = field(default_factory=dict)
    ramp_steps: int = 6  # continuation steps in the load if the full-load Newton fails


def plating_surfaces(tm: TaggedMesh) -> list[str]:
    """Facet groups where Li plates: a metal (Li, host, collector) against coating or electrolyte."""
    out = []
    for name in tm.groups:
        parts = name.split("_")
        if len(parts) == 2 and parts[0] in METALS and parts[1] in ("coating", "electrolyte"):
            if tm.groups[name][0] == tm.dim - 1:
                out.append(name)
    return sorted(out)


class SteadyCell:
    """Steady coupled electrolyte–coating–kinetics problem on a tagged mesh.

    ``tm`` is the full tagged mesh; the unknowns live on its electrolyte and coating volumes.
    """

    def __init__(
        self,
        comm: MPI.Comm,
        tm: TaggedMesh,
        electrolyte: Electrolyte,
        kinetics: Kinetics,
        operation: Operation,
        coating: Coating | None = None,
        counter_kinetics: Kinetics | None = None,
        options: SolverOptions | None = None,
        footprint_area: float | None = None,
        length_scale: float | None = None,
        manufactured=None,
        surface_kinetics: dict | None = None,
        degree: int = 1,
        transient: bool = False,
        mechanical_potential: dict | None = None,
        metal_conductivity: dict | None = None,
    ):
        t0 = time.perf_counter()
        self.comm = comm
        self.el, self.kin, self.op, self.coat = electrolyte, kinetics, operation, coating
        self.cnt = counter_kinetics or kinetics
        self.opts = options or SolverOptions()
        # The salt-conservation multiplier of a Li|Li cell makes a saddle point (zero diagonal) that
        # the block preconditioner cannot split: such cells always use the direct solver.
        self.iterative = self.opts.linear_solver != "direct" and operation.counter != "lithium"
        # Electronic conduction resolved in these metal volumes (sigma [S/m]); other metals are
        # equipotential boundaries at the electrode potential V.
        self.metal_sigma = {k: v for k, v in (metal_conductivity or {}).items() if tm.has(k)}
        self.ionic_volumes = ["electrolyte"] + (["coating"] if tm.has("coating") else [])
        self.tm, _ = restrict(tm, self.ionic_volumes + list(self.metal_sigma))
        surface_kinetics = surface_kinetics or {}
        # surface -> UFL dmu [J/mol], or a callable(cell) returning one on cell.tm.mesh
        self.mechanical_potential = dict(mechanical_potential or {})
        self.kin_of = {s: surface_kinetics.get(s, kinetics) for s in plating_surfaces(tm) if tm.has(s)}
        self.surfaces = [s for s, k in self.kin_of.items() if k.active]
        if not self.surfaces:
            raise ValueError("mesh has no active plating surface (<metal>_coating or <metal>_electrolyte)")
        self.thin = coating is not None and coating.model == "thin"
        self.resolved = tm.has("coating")
        msh = self.tm.mesh
        d = msh.topology.dim
        self.dim = d
        self.galvanostatic = operation.mode == "galvanostatic"
        self.lithium_counter = operation.counter == "lithium"

        # Scales: residuals O(1) in every field (see physics.md §10 on tiny SI residuals).
        c0 = electrolyte.concentration
        self.c0 = c0
        self.Vt = operation.thermal_voltage
        kappa0 = electrolyte.conductivity.at(c0)
        D0 = electrolyte.diffusivity.at(c0)
        ell = length_scale or 1e-5
        self.i_scale = max(abs(operation.current_density or 0.0), kinetics.exchange_current_density, 1e-3)
        s_c = 1.0 / (D0 * c0 * ell ** (d - 2))
        s_phi = 1.0 / (kappa0 * self.Vt * ell ** (d - 2))
        s_v = 1.0 / (self.i_scale * ell ** (d - 1))

        # One P1 space object per field: Dirichlet conditions are assigned to blocks by space.
        P1 = fem.functionspace(msh, ("Lagrange", degree))
        P1_phi = fem.functionspace(msh, ("Lagrange", degree))
        self.P1 = P1
        self.c_hat = fem.Function(P1, name="concentration_scaled")
        self.phi_hat = fem.Function(P1_phi, name="potential_scaled")
        self.load = fem.Constant(msh, 1.0)  # continuation parameter on the applied current/voltage
        self.c_hat.x.array[:] = 1.0
        unknowns = [self.c_hat, self.phi_hat]
        # One fixed quadrature degree for every volume integral: the salt and charge residuals share
        # the term i_e (with grad(c)/c), and only an identical rule keeps the discrete identity
        # "salt flux = (1 - t+) i_n / F at the surface" exact (UFL would estimate different degrees).
        dx = ufl.Measure("dx", domain=msh, subdomain_data=self.tm.cell_tags, metadata={"quadrature_degree": 2 * degree + 2})
        # Facet integrals over custom (owned cell, local facet) entities: every facet group is
        # integrated once, from one side (the electrolyte side of coating|electrolyte, the ionic side
        # of a metal surface), whether it bounds the unknowns' mesh or lies inside it. A submesh has
        # no shared-facet ghost layer, so interior-facet (dS) integrals would fail in parallel.
        ds = ufl.Measure("ds", domain=msh, subdomain_data=self._facet_entities(), metadata={"quadrature_degree": 4})
        self.dx, self.ds = dx, ds
        self.sm = {n: ds(self.tm.tag(n)) for n in self.surfaces}
        dx_e = dx(self.tm.tag("electrolyte"))

        tp, tdf = electrolyte.transference_number, electrolyte.thermodynamic_factor
        self.conducting = bool(self.metal_sigma)
        if self.conducting:
            # electrode potential field in the resolved metal; the current enters at the bottom
            P1_s = fem.functionspace(msh, ("Lagrange", degree))
            self.phis_hat = fem.Function(P1_s, name="metal_potential_scaled")
            unknowns.append(self.phis_hat)
            if not self.galvanostatic:
                self.V_hat = fem.Constant(msh, operation.voltage / self.Vt)
        if self.galvanostatic and not self.conducting:
            R = fem.functionspace(msh, basix.ufl.real_element(msh.basix_cell(), dtype=np.float64))
            self.V_hat = fem.Function(R, name="electrode_potential_scaled")
            unknowns.append(self.V_hat)
        elif not self.conducting:
            self.V_hat = fem.Constant(msh, operation.voltage / self.Vt)
        V_hat = self.phis_hat if self.conducting else self.V_hat
        P1_psi = None
        self.psi_hat = None
        if self.thin:
            P1_psi = fem.functionspace(msh, ("Lagrange", degree))
            self.psi_hat = fem.Function(P1_psi, name="film_potential_scaled")
            unknowns.append(self.psi_hat)
        if self.lithium_counter:
            R2 = fem.functionspace(msh, basix.ufl.real_element(msh.basix_cell(), dtype=np.float64))
            self.lam = fem.Function(R2, name="salt_multiplier")
            unknowns.append(self.lam)
        self.unknowns = unknowns

        self.film_asr = None
        if self.thin:  # uniform t/kappa_c, or a field over the surface (Coating.asr_field)
            self.film_asr = coating.asr_field(self.tm) if coating.asr_field is not None else coating.area_specific_resistance
        f = 1.0 / self.Vt
        where = lambda cond, a, b: ufl.conditional(cond, a, b)  # noqa: E731

        def bv(kin: Kinetics, eta_volts, conc_factor):
            return conc_factor * kin.current(eta_volts, f, ufl.exp, where)

        v = ufl.TestFunction(P1)
        w = ufl.TestFunction(P1_phi)
        mu = ufl.TestFunction(P1_psi) if self.thin else None
        top = self.tm.tag("top")
        bare = not (self.resolved or self.thin)

        def physics(c_hat, phi_hat, psi_hat):
            """Fluxes and residuals of the transport-kinetics system for (possibly exact) fields."""
            c = c0 * c_hat
            c_pos = ufl.max_value(c_hat, 1e-8)
            kappa = electrolyte.conductivity.ufl(c)
            D = electrolyte.diffusivity.ufl(c)
            # modified Ohm's law, i_e = -kappa grad(phi) + (2 kappa RT/F)(1 - t+) TDF grad(ln c)
            i_e = -kappa * self.Vt * (ufl.grad(phi_hat) - 2 * (1 - tp) * tdf * ufl.grad(c_hat) / c_pos)
            out = {"i_e": i_e, "kappa": kappa, "i_n": {}, "eta": {}, "i_kin": {}, "i_film": {}, "i_leak": {}}
            for name in self.surfaces:
                kin = self.kin_of[name]
                liquid = name.endswith("_electrolyte") and not self.thin
                cf = c_pos ** kin.concentration_exponent if liquid and kin.concentration_exponent else 1.0
                phi_l = psi_hat if self.thin else phi_hat  # Li side of the film (thin) or the ionic phase
                eta = (V_hat - phi_l) * self.Vt
                dmu = self.mechanical_potential.get(name)
                if callable(dmu):  # built against this problem's ionic submesh
                    dmu = self.mechanical_potential[name] = dmu(self)
                if dmu is not None:
                    # Monroe–Newman: eta -> eta - dmu/F and i0 -> i0 exp((1 - alpha_a) dmu / RT)
                    eta = eta - dmu / FARADAY
                    cf = cf * ufl.exp((1 - kin.alpha_a) * dmu / (FARADAY * self.Vt))
                i_kin = kin.activation(eta, ufl.exp) * bv(kin, eta, cf)
                out["eta"][name] = eta
                out["i_kin"][name] = i_kin
                if self.thin:
                    # ionic film current, in series with the Li|film kinetics (psi equation below) ...
                    out["i_film"][name] = (psi_hat - phi_hat) * self.Vt / self.film_asr
                    # ... and, for an electronically leaky film, Li plating on top of the film, fed by
                    # electrons through it: electronic ASR t/sigma_e in series with the linearised
                    # charge-transfer resistance RT/((alpha_a+alpha_c) F i0) (exact for linear kinetics)
                    out["i_leak"][name] = 0.0
                    if coating.electronic_conductivity > 0:
                        r_e = coating.thickness / coating.electronic_conductivity
                        r_ct = self.Vt / ((kin.alpha_a + kin.alpha_c) * kin.exchange_current_density)
                        eta_top = (V_hat - phi_hat) * self.Vt  # electrons at V on top of the film
                        out["i_leak"][name] = kin.activation(eta_top, ufl.exp) * eta_top / (r_e + r_ct)
                    out["i_n"][name] = out["i_film"][name] + out["i_leak"][name]
                else:
                    out["i_n"][name] = i_kin
            # salt: anion flux N_- = -D grad c - (1 - t+) i_e / F, blocked at every Li+-only surface
            F_c = s_c * ufl.inner(D * c0 * ufl.grad(c_hat) + (1 - tp) * i_e / FARADAY, ufl.grad(v)) * dx_e
            # charge: div i = 0 in electrolyte and coating, i_n leaves through the plating surface
            F_phi = s_phi * ufl.inner(-i_e, ufl.grad(w)) * dx_e
            for name, i_n in out["i_n"].items():
                F_phi -= s_phi * i_n * w * self.sm[name]
            if self.resolved:
                F_phi += s_phi * coating.ionic_conductivity * self.Vt * ufl.inner(ufl.grad(phi_hat), ufl.grad(w)) * dx(self.tm.tag("coating"))
            if self.lithium_counter:
                # Li counter electrode at the top held at 0 V: eta = 0 - phi
                cf = c_pos ** self.cnt.concentration_exponent if self.cnt.concentration_exponent else 1.0
                out["i_counter"] = bv(self.cnt, (0.0 - phi_hat) * self.Vt, cf)
                F_phi += -s_phi * out["i_counter"] * w * ds(top)
            forms = [F_c, F_phi]
            if self.thin:  # film current = kinetic current on the Li side of the film
                forms.append(sum(s_phi * ell * (out["i_kin"][n] - out["i_film"][n]) * mu * self.sm[n] for n in self.surfaces))
            out["forms"] = forms
            return out

        ph = physics(self.c_hat, self.phi_hat, self.psi_hat)
        self.transient = transient
        self.time = fem.Constant(msh, 0.0)  # t at the new time level [s]
        if transient:
            # Variable-step BDF2 (BDF1 on the first step): dc/dt ~ b0 c^{n+1} + b1 c^n + b2 c^{n-1},
            # the b's carrying 1/dt; set by set_time_step().
            P1c = self.c_hat.function_space
            self.c_n, self.c_nm1 = fem.Function(P1c), fem.Function(P1c)
            self.c_n.x.array[:] = 1.0
            self.c_nm1.x.array[:] = 1.0
            self.bdf = [fem.Constant(msh, 0.0) for _ in range(3)]
            b0, b1, b2 = self.bdf
            ph["forms"][0] += s_c * c0 * (b0 * self.c_hat + b1 * self.c_n + b2 * self.c_nm1) * v * dx_e
        if manufactured is not None:
            # Method of manufactured solutions: subtract the residual of the exact fields, so that
            # they solve the continuous problem with the corresponding volume/surface sources
            # (in time with the exact dc/dt, so that the time-discretisation error remains).
            exact = manufactured(ufl.SpatialCoordinate(msh), self.time)
            c_ex, phi_ex, psi_ex = exact[:3]
            ex = physics(c_ex, phi_ex, psi_ex)
            if transient:
                ex["forms"][0] += s_c * c0 * exact[3] * v * dx_e
            ph["forms"] = [a - b for a, b in zip(ph["forms"], ex["forms"])]
        self.i_e, self.kappa, self.i_n, self.eta = ph["i_e"], ph["kappa"], ph["i_n"], ph["eta"]
        self.i_counter = ph.get("i_counter")
        self.plating_current = {n: -i for n, i in self.i_n.items()}  # plating positive, A/m^2
        self.i_leak = {n: i for n, i in ph["i_leak"].items() if not isinstance(i, float)}
        F_c, F_phi = ph["forms"][:2]
        # Pinned dofs (c inside the coating, psi off the surface) need a diagonal in the sparsity
        # pattern for their Dirichlet rows: a symbolic zero mass term provides it.
        self._zero = fem.Constant(msh, 0.0)
        # one-point rule: these terms only put diagonals into the sparsity pattern
        dx_pin = ufl.Measure("dx", domain=msh, subdomain_data=self.tm.cell_tags, metadata={"quadrature_degree": 0})
        for vol in self.ionic_volumes[1:] + list(self.metal_sigma):
            F_c += self._zero * self.c_hat * v * dx_pin(self.tm.tag(vol))
        for vol in self.metal_sigma:
            F_phi += self._zero * self.phi_hat * w * dx_pin(self.tm.tag(vol))
        forms = [F_c, F_phi]

        # Footprint (projected) area for the galvanostatic constraint
        one = fem.Constant(msh, 1.0)
        self._one = one
        self.area_S = sum(self._integrate(one * self.sm[n]) for n in self.surfaces)
        if self.conducting:
            # electronic conduction in the metal: div(-sigma grad phi_s) = 0, i_n leaves through S,
            # the applied current leaves through the bottom (galvanostatic) or phi_s = V there
            ws = ufl.TestFunction(self.phis_hat.function_space)
            sigma_ref = max(self.metal_sigma.values())
            s_s = 1.0 / (sigma_ref * self.Vt * ell ** (d - 2))
            F_s = sum(s_s * sig * self.Vt * ufl.inner(ufl.grad(self.phis_hat), ufl.grad(ws)) * dx(self.tm.tag(vol))
                      for vol, sig in self.metal_sigma.items())
            F_s += sum(s_s * self.i_n[n] * ws * self.sm[n] for n in self.surfaces)
            for vol in self.ionic_volumes:
                F_s += self._zero * self.phis_hat * ws * dx_pin(self.tm.tag(vol))
            if self.galvanostatic:
                F_s += s_s * self.load * operation.current_density * ws * ds(self.tm.tag("bottom"))
        self.footprint = footprint_area if footprint_area is not None else self._integrate(one * ds(top))
        if self.galvanostatic and not self.conducting:
            q = ufl.TestFunction(self.V_hat.function_space)
            i_app = operation.current_density
            # the kinetic current (= film current at convergence) keeps dR/dV != 0 for thin films
            forms.append(sum(s_v * (ph["i_kin"][n] + ph["i_leak"].get(n, 0.0) + self.load * i_app * self.footprint / self.area_S) * q * ds(self.tm.tag(n))
                             for n in self.surfaces))
        if self.conducting:
            forms.insert(2, F_s)  # unknown order: c, phi, phi_s, [V], [psi], [lambda]
        if self.thin:
            forms.append(ph["forms"][2] + self._zero * self.psi_hat * mu * dx_pin)
        if self.lithium_counter:
            q2 = ufl.TestFunction(self.lam.function_space)
            forms[0] += s_c * ell**2 * self.lam * v * dx_e
            forms.append(ell ** (-d) * (self.c_hat - 1.0) * q2 * dx_e)
        self.forms = forms

        # Dirichlet conditions
        fdim = d - 1
        bcs = []
        zero, one_ = fem.Constant(msh, 0.0), fem.Constant(msh, 1.0)
        if not self.lithium_counter:
            top_facets = self.tm.facets("top")
            bcs.append(fem.dirichletbc(one_, fem.locate_dofs_topological(P1, fdim, top_facets), P1))
            bcs.append(fem.dirichletbc(zero, fem.locate_dofs_topological(P1_phi, fdim, top_facets), P1_phi))
        all_dofs = np.arange(P1.dofmap.index_map.size_local + P1.dofmap.index_map.num_ghosts, dtype=np.int32)

        def outside(space, volumes):
            """Dofs that no cell of ``volumes`` touches (where a field has no meaning: pinned)."""
            inside = np.unique(space.dofmap.list[self.tm.cells(*volumes)].ravel())
            return np.setdiff1d(all_dofs, inside).astype(np.int32)

        if self.resolved or self.conducting:
            # c only in the electrolyte, phi only in electrolyte + coating
            bcs.append(fem.dirichletbc(one_, outside(P1, ["electrolyte"]), P1))
        if self.conducting:
            bcs.append(fem.dirichletbc(zero, outside(P1_phi, self.ionic_volumes), P1_phi))
            P1_s = self.phis_hat.function_space
            bcs.append(fem.dirichletbc(zero, outside(P1_s, list(self.metal_sigma)), P1_s))
            if not self.galvanostatic:
                bottom = fem.locate_dofs_topological(P1_s, fdim, self.tm.facets("bottom"))
                bcs.append(fem.dirichletbc(self.V_hat, bottom, P1_s))
        if self.thin:
            s_dofs = fem.locate_dofs_topological(P1_psi, fdim, self.tm.facets(*self.surfaces))
            all_dofs = np.arange(P1.dofmap.index_map.size_local + P1.dofmap.index_map.num_ghosts, dtype=np.int32)
            off = np.setdiff1d(all_dofs, s_dofs).astype(np.int32)
            bcs.append(fem.dirichletbc(zero, off, P1_psi))
        self.bcs = bcs

        # Per-dof surface set for nodal min/max of the plating current
        self.S_dofs = fem.locate_dofs_topological(P1, fdim, self.tm.facets(*self.surfaces))
        self.setup_s = time.perf_counter() - t0
        self._problem = None
        self.newton_iterations = 0
        self.linear_iterations = 0

    # ------------------------------------------------------------------ helpers
    def _facet_entities(self) -> list:
        d = self.tm.mesh.topology.dim
        ionic = self.tm.cells(*self.ionic_volumes)
        out = []
        for name, (dim, tag) in self.tm.groups.items():
            if dim != d - 1:
                continue
            side = self.tm.cells("electrolyte") if name == "coating_electrolyte" else ionic
            ents = one_sided_entities(self.tm, side, [tag])
            if self.comm.allreduce(ents.size, op=MPI.SUM) == 0 and self.metal_sigma:
                ents = one_sided_entities(self.tm, self.tm.cells(*self.metal_sigma), [tag])  # e.g. bottom
            out.append((tag, ents))
        return out

    def _integrate(self, form) -> float:
        return self.comm.allreduce(fem.assemble_scalar(fem.form(form)), op=MPI.SUM)

    def _petsc_options(self) -> dict:
        opts = {
            "snes_type": "newtonls",
            "snes_linesearch_type": "basic",  # full Newton steps; load continuation is the safeguard
            "snes_rtol": self.opts.rtol,
            "snes_atol": self.opts.atol,
            "snes_stol": 0.0,
            "snes_max_it": self.opts.max_iterations,
            "snes_error_if_not_converged": False,
            "ksp_error_if_not_converged": False,
        }
        if not self.iterative:
            opts.update(DIRECT)
        else:
            # GMRES + multiplicative field split: algebraic multigrid on the concentration and the
            # potential blocks, point Jacobi on the small global/surface blocks (V, psi, lambda).
            opts.update({
                "ksp_type": "gmres", "ksp_rtol": 1e-8, "ksp_atol": 1e-14, "ksp_max_it": 1000,
                "ksp_gmres_restart": 200, "ksp_norm_type": "unpreconditioned",
                "pc_type": "fieldsplit", "pc_fieldsplit_type": "multiplicative",
            })
            for name in {self.SPLITS[n] for n in self._field_names()}:
                opts[f"fieldsplit_{name}_ksp_type"] = "preonly"
                # film block: a surface mass-like matrix (identity off the surface): block-Jacobi ILU is
                # as good as an exact solve here at a fraction of its cost
                opts[f"fieldsplit_{name}_pc_type"] = {"global": "jacobi", "film": "bjacobi"}.get(name, "gamg")
        opts.update(self.opts.petsc_options)
        return opts

    def initial_guess(self, load: float = 1.0):
        """c = c0, φ linear in height from the applied current, V from the 1D estimate."""
        self.c_hat.x.array[:] = 1.0
        self.phi_hat.x.array[:] = 0.0
        if self.thin:
            self.psi_hat.x.array[:] = 0.0
        if self.lithium_counter:
            self.lam.x.array[:] = 0.0
        if self.conducting and not self.galvanostatic:
            self.phis_hat.x.array[:] = float(self.V_hat.value)
        if self.galvanostatic:
            # 1D estimate: kinetic + film + electrolyte ohmic drops at the mean surface current
            i = load * self.op.current_density * self.footprint / self.area_S
            i0 = self.kin.exchange_current_density
            eta = 2 * self.Vt * np.arcsinh(i / (2 * i0))
            asr = self.coat.area_specific_resistance if self.coat is not None else 0.0
            # surfaces without Li need their nucleation overpotential before they carry current
            eta_nuc = min(self.kin_of[n].nucleation_overpotential for n in self.surfaces)
            V0 = -(eta + i * asr + eta_nuc) / self.Vt
            if self.conducting:
                self.phis_hat.x.array[:] = V0
            else:
                self.V_hat.x.array[:] = V0
            if self.resolved:  # the film drop sits in the coating: start phi there at -i ASR
                cdofs = np.unique(self.phi_hat.function_space.dofmap.list[self.tm.cells("coating")].ravel())
                self.phi_hat.x.array[cdofs] = -i * asr / self.Vt
            if self.thin:  # Li side of the film carries the film drop
                self.psi_hat.x.array[:] = -i * asr / self.Vt
        for u in self.unknowns:
            u.x.scatter_forward()

    def set_time_step(self, dt: float, dt_prev: float | None):
        """BDF coefficients for the step t^n -> t^n + dt (BDF1 when there is no previous step)."""
        if dt_prev is None:
            coef = (1.0 / dt, -1.0 / dt, 0.0)
        else:
            w = dt / dt_prev
            coef = ((1 + 2 * w) / (1 + w) / dt, -(1 + w) / dt, w * w / (1 + w) / dt)
        for const, value in zip(self.bdf, coef):
            const.value = value

    def state(self) -> list[np.ndarray]:
        return [u.x.array.copy() for u in self.unknowns] + [self.c_n.x.array.copy(), self.c_nm1.x.array.copy()]

    def restore(self, saved: list[np.ndarray]):
        for u, a in zip(self.unknowns + [self.c_n, self.c_nm1], saved):
            u.x.array[:] = a

    def _field_names(self) -> list[str]:
        names = ["concentration", "potential"] + (["metal_potential"] if self.conducting else [])
        names += ["electrode_potential"] if self.galvanostatic and not self.conducting else []
        return names + (["film_potential"] if self.thin else []) + (["salt_multiplier"] if self.lithium_counter else [])

    def _build(self):
        if self._problem is None:
            self._problem = NonlinearProblem(
                self.forms, self.unknowns, bcs=self.bcs, petsc_options_prefix=f"licoat_steady_{id(self)}_",
                petsc_options=self._petsc_options(), kind="mpi",
            )
            if self.iterative:
                self._set_field_split(self._problem)
        return self._problem

    SPLITS = {"concentration": "concentration", "potential": "potential", "film_potential": "film",
              "metal_potential": "metal",
              "electrode_potential": "global", "salt_multiplier": "global"}

    def _set_field_split(self, problem):
        """Index sets for the field split in the blocked (kind="mpi") layout, where on every rank the
        owned dofs of field 0, then field 1, ... are contiguous from the rank's ownership start.
        Splits: concentration | potential | metal potential | thin-film surface potential (its block
        is the identity away from the surface: block-Jacobi ILU) | global unknowns (V, multiplier)."""
        from petsc4py import PETSc

        offset = problem.A.getOwnershipRange()[0]
        groups: dict[str, list[np.ndarray]] = {}
        for name, u in zip(self._field_names(), self.unknowns):
            n = u.function_space.dofmap.index_map.size_local * u.function_space.dofmap.index_map_bs
            groups.setdefault(self.SPLITS[name], []).append(np.arange(offset, offset + n, dtype=PETSc.IntType))
            offset += n
        sets = [(g, PETSc.IS().createGeneral(np.concatenate(idx), comm=self.comm)) for g, idx in groups.items()]
        pc = problem.solver.getKSP().getPC()
        pc.setType("fieldsplit")
        pc.setFieldSplitIS(*sets)
        problem.solver.getKSP().setFromOptions()

    def solve(self):
        """Newton solve; on failure, continuation in the load (current or voltage) from the
        trivial zero-load state with adaptive steps: a failed step is cut in half and retried
        from the last converged state. Raises SolverError with the field and the reason."""
        t0 = time.perf_counter()
        problem = self._build()
        self.initial_guess()
        ok, reason = self._newton(problem)
        if not ok:
            self._continuation(problem)
        self.solve_s = time.perf_counter() - t0
        return self

    def _continuation(self, problem):
        self._scale_load(0.0)
        self.initial_guess(0.0)
        saved = [u.x.array.copy() for u in self.unknowns]
        done, step = 0.0, 1.0 / self.opts.ramp_steps
        while done < 1.0:
            target = min(1.0, done + step)
            self._scale_load(target)
            ok, reason = self._newton(problem)
            if ok:
                done, step = target, step * 1.5
                saved = [u.x.array.copy() for u in self.unknowns]
                continue
            for u, a in zip(self.unknowns, saved):
                u.x.array[:] = a
            step /= 2
            if step < 1e-3:
                worst = self._worst_field(problem)
                self._scale_load(1.0)
                raise SolverError(
                    f"steady Newton solve failed at {target:.1%} of the applied load "
                    f"(last converged {done:.1%}, step cut to {step:.1e}): {reason}; "
                    f"largest residual in field '{worst}'"
                )

    def _scale_load(self, load: float):
        if self.galvanostatic:
            self.load.value = load
        else:
            self.V_hat.value = load * self.op.voltage / self.Vt

    def _newton(self, problem):
        try:
            problem.solve()
        except Exception as exc:  # PETSc errors surface as exceptions in some configurations
            return False, f"exception {str(exc).splitlines()[0]}"
        snes = problem.solver
        reason = snes.getConvergedReason()
        self.newton_iterations += snes.getIterationNumber()
        self.linear_iterations += snes.getLinearSolveIterations()
        finite = all(np.isfinite(u.x.array).all() for u in self.unknowns)
        finite = self.comm.allreduce(finite, op=MPI.LAND)
        if reason > 0 and finite:
            return True, ""
        return False, SNES_REASONS.get(reason, f"SNES reason {reason}") if finite else "non-finite solution"

    def _worst_field(self, problem) -> str:
        """Name of the field whose (scaled) residual block is largest at the last iterate."""
        names = self._field_names()
        norms = []
        for form in self.forms:
            b = fem.assemble_vector(fem.form(form))
            n_own = b.index_map.size_local * b.block_size
            local = float(np.sum(b.array[:n_own] ** 2))
            norms.append(self.comm.allreduce(local, op=MPI.SUM))
        return names[int(np.argmax(norms))]

    # ------------------------------------------------------------------ results
    @property
    def cell_voltage(self) -> float:
        """Plating-electrode potential minus the top boundary's (reservoir or Li counter at 0 V) [V]."""
        if self.conducting and self.galvanostatic:  # mean metal potential where the current leaves
            return self._surface_mean(self.phis_hat, ["bottom"]) * self.Vt
        if self.galvanostatic:
            return self._real_value(self.V_hat) * self.Vt
        return float(self.V_hat.value) * self.Vt

    def _real_value(self, u) -> float:
        # a real-space Function holds its single dof on every rank (owned on rank 0, ghosted elsewhere)
        return float(u.x.array[0])

    def fields(self, out: dict | None = None) -> dict:
        """Dimensional fields: concentration [mol/m^3], potential [V], plating current density [A/m^2].
        With ``out`` (a previous return value) the same Functions are refreshed in place, so that a
        writer opened on them can write a time series."""
        P1 = self.c_hat.function_space
        if out is None:
            out = {n: fem.Function(P1, name=n) for n in ("concentration", "potential", "plating_current_density")}
        out["concentration"].x.array[:] = self.c_hat.x.array * self.c0
        out["potential"].x.array[:] = self.phi_hat.x.array * self.Vt
        self._interpolate_surface(self.plating_current, out["plating_current_density"])
        return out

    def _interpolate_surface(self, exprs: dict, target):
        """Nodal values of per-surface expressions into a P1 function (zero away from the surfaces).
        Compiled expressions and cell/dof sets are cached per (surface, expression)."""
        V = target.function_space
        cache = self.__dict__.setdefault("_surface_interp", {})
        target.x.array[:] = 0.0
        for name, expr in exprs.items():
            key = (name, id(expr), id(V))
            if key not in cache:
                d = self.dim
                f2c = self.tm.mesh.topology.connectivity(d - 1, d)
                facets = self.tm.facets(name)
                cells = np.unique(np.concatenate([f2c.links(f) for f in facets])) if len(facets) else np.zeros(0)
                cache[key] = (fem.Expression(expr, V.element.interpolation_points), cells.astype(np.int32),
                              fem.locate_dofs_topological(V, d - 1, facets), fem.Function(V), expr)
            compiled, cells, dofs, tmp, _ = cache[key]
            tmp.interpolate(compiled, cells0=cells)
            target.x.array[dofs] = tmp.x.array[dofs]
        target.x.scatter_forward()

    def plating_series(self) -> dict:
        """Cheap per-time-step numbers (forms compiled once): voltage, mean/min/max plating current, cv."""
        if not hasattr(self, "_series_forms"):
            self._series_forms = (
                [fem.form(j * self.sm[n]) for n, j in self.plating_current.items()],
                [fem.form(j * j * self.sm[n]) for n, j in self.plating_current.items()],
                fem.Function(self.c_hat.function_space),
            )
        f1, f2, jfun = self._series_forms
        mean = sum(self._integrate_compiled(f) for f in f1) / self.area_S
        var = max(sum(self._integrate_compiled(f) for f in f2) / self.area_S - mean**2, 0.0)
        self._interpolate_surface(self.plating_current, jfun)
        own = self.S_dofs[self.S_dofs < jfun.function_space.dofmap.index_map.size_local]
        vals = jfun.x.array[own]
        big = np.finfo(float).max
        return {
            "cell_voltage_V": self.cell_voltage,
            "current_density_mean_A_m2": mean,
            "current_density_min_A_m2": self.comm.allreduce(float(vals.min()) if vals.size else big, op=MPI.MIN),
            "current_density_max_A_m2": self.comm.allreduce(float(vals.max()) if vals.size else -big, op=MPI.MAX),
            "cv": float(np.sqrt(var) / abs(mean)) if mean else float("nan"),
        }

    def _integrate_compiled(self, form) -> float:
        return self.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)

    def _surface_mean(self, expr, names) -> float:
        """Area mean of a continuous expression over facet groups (exterior or interior facets)."""
        from licoat.solver.metrics import integrate

        if all(n in self.sm for n in names):
            return sum(self._integrate(expr * self.sm[n]) for n in names) / sum(self._integrate(self._one * self.sm[n]) for n in names)
        tags = tuple(self.tm.tag(n) for n in names)
        ds = self.ds(tags)
        return integrate(self.comm, expr * ds) / integrate(self.comm, self._one * ds)

    def metrics(self) -> dict:
        """Summary numbers: plating uniformity, overpotential breakdown (signed, V), sizes."""
        from licoat.solver.metrics import uniformity

        j = fem.Function(self.c_hat.function_space)
        self._interpolate_surface(self.plating_current, j)
        n_owned = self.c_hat.function_space.dofmap.index_map.size_local
        s_owned = self.S_dofs[self.S_dofs < n_owned]
        plating = uniformity(self.comm, [(self.plating_current[n], self.sm[n]) for n in self.surfaces],
                             j.x.array[s_owned])

        if self.i_leak:  # share of the plating that lands on top of an electronically leaky film
            leak = sum(self._integrate(-self.i_leak[n] * self.sm[n]) for n in self.i_leak)
            plating["above_coating_fraction"] = leak / (plating["current_density_mean_A_m2"] * plating["area_m2"])
        Vt = self.Vt
        V = self.cell_voltage
        phi = self.phi_hat * Vt
        eta_w = sum(self._integrate(self.eta[n] * self.sm[n]) for n in self.surfaces) / self.area_S
        phi_S = self._surface_mean(phi, self.surfaces)
        gamma = ["coating_electrolyte"] if self.resolved else self.surfaces
        phi_G = self._surface_mean(phi, gamma) if self.resolved else phi_S
        if self.thin:
            psi_S = self._surface_mean(self.psi_hat * Vt, self.surfaces)
            coating_ohmic = psi_S - phi_S
        else:
            coating_ohmic = phi_S - phi_G if self.resolved else 0.0
        phi_top = self._surface_mean(phi, ["top"])
        kinetic = eta_w
        if self.lithium_counter:
            kinetic = eta_w - self._surface_mean((0.0 - phi), ["top"])
        ln_c = ufl.ln(ufl.max_value(self.c_hat, 1e-12))
        el = self.el
        conc = 2 * Vt * (1 - el.transference_number) * el.thermodynamic_factor * (
            self._surface_mean(ln_c, gamma) - self._surface_mean(ln_c, ["top"])
        )
        electrolyte_total = phi_G - phi_top
        c_surface = self._surface_mean(self.c_hat * self.c0, gamma)
        cmin_local = self.c_hat.x.array[: n_owned].min() if n_owned else np.inf
        c_min = self.comm.allreduce(float(cmin_local), op=MPI.MIN) * self.c0
        dofs = sum(u.function_space.dofmap.index_map.size_global * u.function_space.dofmap.index_map_bs for u in self.unknowns)
        return {
            "cell_voltage_V": V,
            "plating": plating,
            "overpotentials_V": {
                "kinetic": kinetic,
                "coating_ohmic": coating_ohmic,
                "electrolyte_ohmic": electrolyte_total - conc,
                "concentration": conc,
            },
            "surface_concentration_mean_mol_m3": c_surface,
            "concentration_min_mol_m3": c_min,
            "dofs": int(dofs),
            "newton_iterations": int(self.newton_iterations),
            "linear_iterations": int(self.linear_iterations),
        }
