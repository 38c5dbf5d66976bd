"""Plating history on the plating surfaces of a transient run (issue 9): plated charge, Li coverage, conversion.

State per plating surface, kept as P1 nodal values on the surface dofs of the problem's space (not unknowns
of Newton's system):

* q(x, t) [C/m²]: Li-metal charge plated (plating positive); deposit thickness δ = V_M q / F
  (V_M = 1.30e-5 m³/mol: 4.85 µm per mAh/cm², physics.md §12).
* θ(x, t) [-]: Li coverage of a lithiophobic surface (1 on a Li anode).
* X(x, t) [-]: converted fraction of a lithiophilic film's conversion/alloying capacity Q_conv [C/m²].

Model (physics.md §5, §12; Ely & García, J. Electrochem. Soc. 160 (2013) A662; Pei et al., Nano Lett. 17
(2017) 1132):

* nucleation: dθ/dt = (1 − θ)(ν(η) + kθ),  ν(η) = ν0 a(η), with the classical nucleation law (Ely & García,
  J. Electrochem. Soc. 160 (2013) A662): the rate of forming a stable nucleus is J0 exp(−ΔG*/kT) with the
  barrier ΔG* ∝ γ³V_M²/(Fη)² falling as 1/η². Written through the surface's nucleation overpotential η_nuc
  (where nucleation becomes observable, the datum measured in galvanostatic first plating) and the barrier
  there in units of kT, Λ = ΔG*(η_nuc)/kT = ln(J0/J(η_nuc)) (``nucleation_barrier``):
      J(η)/J(η_nuc) = exp(−Λ (η_nuc²/η² − 1)),
  whose logarithmic slope at the onset is 2Λ/η_nuc. licoat keeps the logistic switch (saturating at the full
  rate beyond η_nuc) and gives it that slope:
      a(η) = 1/(1 + exp((η + η_nuc)/w_on)),   w_on = η_nuc/(2Λ),
  1.4 mV on Cu with Λ = 45 (was a chosen 5 mV), 5 mV on lithiated TiO2 (Λ = 2: no estimate, the former width;
  materials/data/TiO2.toml); a barrier-free surface (η_nuc = 0) uses w = ``nucleation_width`` (5 mV), which
  only keeps nucleation off at anodic overpotentials. The steepness is not a free parameter but follows from the
  same barrier that sets η_nuc; below the onset the logistic falls off more gently than exp(−Λ η_nuc²/η²),
  which keeps Newton's jump from a conversion plateau to nucleation robust (the exact 1/η² form broke it).
  Growth k = j_Li/q_c with the coalescence charge q_c = F δ_c/V_M (δ_c = ``coalescence_thickness``, 100 nm): the covered area grows in proportion to the Li plated on it,
  dθ = (1 − θ) dq/q_c (impingement as in Avrami's law). δ_c is the deposit that covers an e-fold of the bare
  area; for hemispherical nuclei of density N it is (2/3)(πN)^(-1/2) (JMAK with θ_ex = πNr²), 0.12 µm at the
  N ≈ 10^9 cm⁻² of Li nuclei on Cu at ≈1 mA/cm² (Pei et al., Nano Lett. 17 (2017) 1132, SEM counts; N ∝ η³,
  size ∝ 1/η; an estimate from that paper's order of magnitude, materials/data/Li.toml).
  Closed form at constant η (:func:`coverage_closed_form`): a Riccati equation.
* plating: the covered area plates and strips with Li's Butler–Volmer kinetics, no barrier; the bare area
  plates only through nucleation, with the activation a(η), and cannot strip (no Li there):
      i_Li = [θ + (1 − θ) a(η)] i_BV(η)        (a(η) ≈ 0 for η > 0, so no anodic current on bare area)
  This is also the weight of the Li-on-top path of an electronically leaky thin film.
* conversion (ZnO → LiZn + Li2O, TiO2 → LixTiO2): a cathodic Tafel reaction with its own equilibrium
  potential U(X) vs Li, falling linearly over the material's window from U_high (X = 0) to U_low (X = 1)
  (a plateau when U_high = U_low), on the unconverted fraction:
      dX/dt = (1 − X) r(η − U)/Q_conv,   r = i0,conv exp(−α_c f (η − U))
  Because U > 0 the conversion carries the current (at an electrode potential above 0 V vs Li, where Li
  does not plate) until the film is converted, over the whole surface, and only then Li plates — on the
  converted film with that film's own nucleation overpotential (0 for LiZn: barrier-free; 20.2 mV for
  5 nm TiO2 on Cu, Oyakhire et al. 2020).

Time discretisation: implicit in the new overpotential, exact in time for frozen η (exponential
integrator, unconditionally stable): inside each step's Newton solve
    θ^{n+1} = 1 − (1 − θ^n) exp(−ν(η^{n+1}) Δt),   X^{n+1} = 1 − (1 − X^n) exp(−r(η^{n+1}) Δt/Q_conv)
and the conversion current is the charge consumed over the step, i_conv = −Q_conv (X^{n+1} − X^n)/Δt, so the
film's charge balance is exact. U(X) is lagged (U(X^n)). After each accepted step the nodal values of θ and X
are interpolated and q gains Δt × the lumped-mass (nodal) projection of the Li-metal current
    q_j += Δt ∫_S (−i_Li) φ_j dS / ∫_S φ_j dS,
which keeps Σ_j q_j ∫φ_j = ∫ I dt exactly (mass balance to round-off). The next step is limited so that
θ changes by at most 0.05, X by 0.02 and U by 2 RT/F. Where q returns to zero on a lithiophobic surface
(stripping), θ is reset to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from licoat import import_stack

import_stack()
import ufl  # noqa: E402
from dolfinx import fem, la  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.constants import FARADAY  # noqa: E402
from licoat.solver.components import Component  # noqa: E402
from licoat.solver.properties import butler_volmer  # noqa: E402

LI_MOLAR_VOLUME = 1.30e-5  # m^3/mol (physics.md §12)


@dataclass(frozen=True)
class SurfaceModel:
    """History parameters of one plating surface (SI)."""

    lithium_present: bool = False  # a Li metal surface: theta = 1, no nucleation
    nucleation_overpotential: float = 0.0  # V (magnitude)
    nucleation_width: float = 5e-3  # V: anodic cut-off of nucleation (the whole law when η_nuc = 0)
    nucleation_barrier: float = 45.0  # Λ = ΔG*(η_nuc)/kT = ln(J0/J(η_nuc)) (classical nucleation), dimensionless
    nucleation_rate: float = 1.0  # nu0, 1/s
    coalescence_thickness: float = 100e-9  # m of Li deposit that covers the surface (growth of nuclei)
    conversion_capacity: float = 0.0  # C/m^2 of surface (0: no conversion film)
    conversion_potential_high: float = 0.0  # V vs Li at X = 0
    conversion_potential_low: float = 0.0  # V vs Li at X = 1
    conversion_exchange_current_density: float = 1.0  # A/m^2
    conversion_alpha: float = 0.5

    @property
    def coalescence_charge(self) -> float:
        """q_c = F δ_c / V_M [C/m²]: the plated charge per covered area over which growth of the nuclei
        covers an e-fold of the remaining bare area (k = j/q_c)."""
        return FARADAY * self.coalescence_thickness / LI_MOLAR_VOLUME

    @property
    def converts(self) -> bool:
        return self.conversion_capacity > 0


def activation(eta, eta_nuc, w, barrier=45.0, lib=np):
    """Nucleation activation a(η) = 1/(1 + exp((η + η_nuc)/w_on)) ∈ [0, 1] with the classical onset width
    w_on = η_nuc/(2Λ) (module docstring); a barrier-free surface (η_nuc = 0) uses w, only an anodic cut-off.
    Written with tanh (no overflow); ``lib`` is numpy or ufl."""
    w_on = onset_width(eta_nuc, w, barrier)
    tanh = np.tanh if lib is np else ufl.tanh
    return 0.5 * (1.0 - tanh((eta + eta_nuc) / (2.0 * w_on)))


def onset_width(eta_nuc, w, barrier) -> float:
    """Width of the nucleation onset [V]: η_nuc/(2Λ), the inverse logarithmic slope 2Λ/η_nuc of the classical
    rate exp(−Λ η_nuc²/η²) at η_nuc; w on a barrier-free surface."""
    return w if eta_nuc <= 0 else eta_nuc / (2.0 * barrier)


def smooth_negative(x, scale):
    """−scale ln(1 + exp(−x/scale)): x for x ≪ −scale, → 0⁻ for x ≫ scale (a smooth min(x, 0))."""
    z = -x / scale
    return -scale * ufl.conditional(ufl.gt(z, 30.0), z + ufl.exp(-z), ufl.ln(1.0 + ufl.exp(ufl.min_value(z, 30.0))))


def cathodic_current(kin, eta, f, cf):
    """The cathodic (plating) part of a rate law [A/m², ≤ 0]: −cf i0 exp(−α_c f η) for Butler–Volmer and
    Tafel (exp continued linearly as in butler_volmer), a smooth min(·, 0) of the linear law."""
    i0 = kin.exchange_current_density
    if kin.form == "linear":
        return cf * i0 * (kin.alpha_a + kin.alpha_c) * f * smooth_negative(eta, 1.0 / f)
    return cf * (butler_volmer(eta, i0, 0.0, kin.alpha_c, f, ufl.exp, ufl.conditional) - i0)


def coverage_closed_form(t, eta, j_li, model: SurfaceModel, theta0: float = 0.0):
    """θ(t) at a constant overpotential η with the plating current density j_li [A/m², plating positive]
    on the covered part: dθ/dt = (1 − θ)(ν + kθ), ν = ν0 a(η), k = j_li/q_c, a Riccati equation whose
    solution is 1/(1 − θ) = k/(ν + k) + (1/(1 − θ0) − k/(ν + k)) exp((ν + k) t)."""
    nu = model.nucleation_rate * model_activation(model, eta)
    k = max(j_li, 0.0) / model.coalescence_charge
    w = k / (nu + k) + (1.0 / (1.0 - theta0) - k / (nu + k)) * np.exp((nu + k) * np.asarray(t))
    return 1.0 - 1.0 / w


def model_activation(m: SurfaceModel, eta, lib=np):
    """a(η) of one surface model (numpy or ufl)."""
    return activation(eta, m.nucleation_overpotential, m.nucleation_width, m.nucleation_barrier, lib)


class SurfaceState(Component):
    """q, θ and X on every plating surface of a transient cell; see the module docstring for the model."""

    MAX_DTHETA, MAX_DX, MAX_DU_VT = 0.05, 0.02, 2.0
    EXHAUSTED = 1e-3  # unconverted fraction below which a film counts as converted

    def __init__(self, models: dict[str, SurfaceModel], molar_volume: float = LI_MOLAR_VOLUME):
        self.models = dict(models)
        self.molar_volume = molar_volume
        self._limit_ratio = 0.0

    # ------------------------------------------------------------------ set-up
    def declare(self, prob):
        V = prob.registry["concentration"].function.function_space
        self.V = V
        msh = prob.mesh
        self.q = fem.Function(V, name="plated_charge")  # C/m^2
        self.theta = fem.Function(V, name="li_coverage")  # at the last accepted step
        self.X = fem.Function(V, name="converted_fraction")
        # the state at the start of the step the forms describe: copied from theta, X when the next step
        # starts, so that after an accepted step the forms still give that step's currents (metrics, checks)
        self.theta_n = fem.Function(V)
        self.X_n = fem.Function(V)
        self._pending = False
        self.dt = fem.Constant(msh, 1.0)
        self.Vt = prob.Vt
        d = prob.dim
        self.dofs = {}
        for name in prob.surfaces:
            self.dofs[name] = fem.locate_dofs_topological(V, d - 1, prob.tm.facets(name))
        # initial state: Li surfaces covered, the others bare and unconverted
        for name, dofs in self.dofs.items():
            if self.model(name).lithium_present:
                self.theta.x.array[dofs] = 1.0
        self.theta.x.scatter_forward()
        self.theta_n.x.array[:] = self.theta.x.array
        self._theta_expr, self._x_expr = {}, {}
        self._b_form = self._m_form = None
        self._m = None

    def state(self) -> list:
        """q, θ, X after the last accepted step (restored on a retried step and from checkpoints). The start-of-step
        copies θ_n, X_n are not part of it: a retried step must start from the accepted state, which
        ``set_time_step`` has already copied into them (restoring older copies would consume the step twice)."""
        return [f.x.array for f in (self.q, self.theta, self.X)]

    def restore(self, arrays: list):
        for f, a in zip((self.q, self.theta, self.X), arrays):
            f.x.array[:] = a
            f.x.scatter_forward()
        self.theta_n.x.array[:] = self.theta.x.array
        self.X_n.x.array[:] = self.X.x.array
        self._pending = False

    def model(self, name) -> SurfaceModel:
        return self.models.get(name, SurfaceModel(lithium_present=True))

    def initial_guess(self, prob, load):
        """Newton's start. A film that converts above 0 V vs Li starts at its conversion potential. Bare
        lithiophobic surfaces under a current start at the nucleation-limited overpotential, where the bare
        area carries the current through nucleation alone, a(η) i0 exp(−α_c f η) = i (the steep classical
        activation has no usable slope from the control's estimate η_BV + η_nuc)."""
        conv = [self.model(n) for n in prob.surfaces if self.model(n).converts]
        ep = prob.electrode_potential
        if not isinstance(ep, fem.Function) or load <= 0:
            return
        if conv:
            U = max(m.conversion_potential_high for m in conv)
            ep.x.array[:] = (U - 0.05) / prob.Vt
            return
        bare = [self.model(n) for n in prob.surfaces
                if not self.model(n).lithium_present and self.model(n).nucleation_overpotential > 0]
        i_app = getattr(prob.control, "i_app", None)
        if len(bare) < len(prob.surfaces) or i_app is None or not i_app:
            return
        own = np.concatenate([self.dofs[n] for n in prob.surfaces])
        own = own[own < self.V.dofmap.index_map.size_local]
        covered = prob.comm.allreduce(float(self.theta.x.array[own].max(initial=0.0)), op=MPI.MAX)
        if covered > 0.5:
            return
        from scipy.optimize import brentq

        m = min(bare, key=lambda b: b.nucleation_overpotential)
        i = abs(load * i_app) * prob.footprint / prob.area_S
        i0, ac, f = prob.kin.exchange_current_density, prob.kin.alpha_c, 1.0 / prob.Vt
        lo, hi = 1e-4, m.nucleation_overpotential + 1.0
        g = lambda e: np.log(max(float(model_activation(m, -e)), 1e-300)) + np.log(i0) + ac * f * e - np.log(i)  # noqa: E731
        if g(lo) < 0 < g(hi):
            eta = brentq(g, lo, hi, xtol=1e-7)
            ep.x.array[:] = -(eta + i * prob.stack_asr) / prob.Vt

    # ------------------------------------------------------------------ physics hooks (PlatingInterface)
    def theta_new(self, prob, name, eta, j_li=None):
        """θ^{n+1} as a function of the new overpotential (UFL): the exact solution over the step of
        dθ/dt = (1 − θ)(ν + kθ) with ν, k frozen (see :func:`coverage_closed_form`)."""
        m = self.model(name)
        if m.lithium_present:
            return 1.0
        nu = m.nucleation_rate * model_activation(m, eta, ufl)
        k = ufl.max_value(j_li, 0.0) / m.coalescence_charge if j_li is not None else 0.0
        s = ufl.min_value((nu + k) * self.dt, 30.0)  # e^-30: complete; keeps 0/0 out when nu = theta = 0
        frac = k / (nu + k + 1e-300)
        u_n = 1.0 - self.theta_n
        expr = 1.0 - u_n * ufl.exp(-s) / (1.0 - u_n * frac * (1.0 - ufl.exp(-s)))
        self._theta_expr[name] = expr
        return expr

    def li_current(self, prob, name, eta, kin, cf, i_bv):
        """i_Li = θ i_BV(η) + (1 − θ) a(η) i_BV,cath(η) [A/m², anodic positive]: the covered part plates and
        strips with Li's kinetics (no barrier), the bare part only plates, through nucleation (θ = θ^{n+1}
        from the surface's η and the plating current on its covered part)."""
        m = self.model(name)
        if m.lithium_present:
            return i_bv
        th = self.theta_new(prob, name, eta, -i_bv)
        a = model_activation(m, eta, ufl)
        return th * i_bv + (1.0 - th) * a * cathodic_current(kin, eta, 1.0 / prob.Vt, cf)

    def leak_current(self, prob, name, eta_top, resistance):
        """Li on top of an electronically leaky film, (V − φ)/(r_e + r_ct): all of it on the covered part,
        only its cathodic (smooth) part through nucleation on the bare part."""
        m = self.model(name)
        if m.lithium_present:
            return eta_top / resistance
        th = self._theta_expr[name]
        a = model_activation(m, eta_top, ufl)
        return (th * eta_top + (1.0 - th) * a * smooth_negative(eta_top, self.Vt)) / resistance

    def conversion_current(self, prob, name, eta):
        """i_conv = −Q (X^{n+1} − X^n)/Δt [A/m², anodic positive], or None without a conversion film."""
        m = self.model(name)
        if not m.converts:
            return None
        U = m.conversion_potential_high + (m.conversion_potential_low - m.conversion_potential_high) * self.X_n
        eta_c = eta - U
        i0 = m.conversion_exchange_current_density
        r = i0 - butler_volmer(eta_c, i0, 0.0, m.conversion_alpha, 1.0 / prob.Vt, ufl.exp, ufl.conditional)
        Q = m.conversion_capacity
        left = 1.0 - self.X_n + 1e-12
        consumed = left * (1.0 - ufl.exp(-r * self.dt / (Q * left)))
        self._x_expr[name] = self.X_n + consumed
        return -Q * consumed / self.dt

    # ------------------------------------------------------------------ time stepping
    def set_time_step(self, prob, dt, dt_prev):
        self.dt.value = dt
        if self._pending:  # a new step starts from the last accepted state
            self.theta_n.x.array[:] = self.theta.x.array
            self.X_n.x.array[:] = self.X.x.array
            self._pending = False
        # every conversion film exhausted while the electrode still sits above 0 V vs Li: Newton's start for
        # the jump to Li plating is the control's Li-plating estimate (a jump of up to the window's U_low)
        conv = [n for n in prob.surfaces if self.model(n).converts]
        ep = prob.electrode_potential
        if conv and isinstance(ep, fem.Function) and float(prob.load.value) > 0:
            dofs = np.unique(np.concatenate([self.dofs[n] for n in conv]))
            n_own = self.V.dofmap.index_map.size_local
            left = float((1.0 - self.X.x.array[dofs[dofs < n_own]]).max(initial=0.0))
            left = prob.comm.allreduce(left, op=MPI.MAX)
            if left < self.EXHAUSTED and prob.comm.allreduce(float(ep.x.array[0]) if ep.x.array.size else -np.inf,
                                                          op=MPI.MAX) > 0:
                prob.control.initial_guess(prob, float(prob.load.value))
                for u in prob.unknowns:
                    u.x.scatter_forward()

    def _li_current_forms(self, prob):
        if self._b_form is None:
            v = ufl.TestFunction(self.V)
            conv = prob.expr.get("i_conv", {})
            li = sum(-(prob.i_n[n] - conv.get(n, 0.0)) * v * prob.sm[n] for n in prob.surfaces)
            self._b_form = fem.form(li)
            self._m_form = fem.form(sum(v * prob.sm[n] for n in prob.surfaces))
        # the lumped surface mass, every step (the surface may move: solver/moving_mesh.py)
        m = fem.assemble_vector(self._m_form)
        m.scatter_reverse(la.InsertMode.add)
        m.scatter_forward()
        self._m = m.array.copy()
        return self._b_form

    def accept_time_step(self, prob):
        """Update q, θ, X after an accepted step (and the step-size limit for the next one)."""
        from licoat.solver.cell_metrics import interpolate_surface

        dt = float(self.dt.value)
        form = self._li_current_forms(prob)
        b = fem.assemble_vector(form)
        b.scatter_reverse(la.InsertMode.add)
        b.scatter_forward()
        on = self._m > 0
        self.q.x.array[on] += dt * b.array[on] / self._m[on]
        ratio = 0.0
        n_own = self.V.dofmap.index_map.size_local
        if self._theta_expr:
            new = fem.Function(self.V)
            interpolate_surface(prob, self._theta_expr, new)
            dofs = np.unique(np.concatenate([self.dofs[n] for n in self._theta_expr]))
            vals = np.clip(new.x.array[dofs], 0.0, 1.0)
            change = np.abs(vals - self.theta_n.x.array[dofs])
            ratio = max(ratio, float(change[dofs < n_own].max(initial=0.0)) / self.MAX_DTHETA)
            self.theta.x.array[dofs] = vals
            # stripped back to nothing: bare again
            gone = dofs[self.q.x.array[dofs] <= 0.0]
            self.theta.x.array[gone] = 0.0
        if self._x_expr:
            new = fem.Function(self.V)
            interpolate_surface(prob, self._x_expr, new)
            for n in self._x_expr:
                m, dofs = self.model(n), self.dofs[n]
                vals = np.clip(new.x.array[dofs], 0.0, 1.0)
                change = np.abs(vals - self.X_n.x.array[dofs])[dofs < n_own]
                dmax = float(change.max(initial=0.0))
                dU = abs(m.conversion_potential_high - m.conversion_potential_low) * dmax
                ratio = max(ratio, dmax / self.MAX_DX, dU / (self.MAX_DU_VT * self.Vt))
                self.X.x.array[dofs] = vals
        for f in (self.q, self.theta, self.X):
            f.x.scatter_forward()
        self._limit_ratio = prob.comm.allreduce(ratio, op=MPI.MAX)
        self._pending = True

    def step_limit(self, prob, dt: float) -> float:
        """Largest next step that keeps the state changes within the limits (inf when nothing changes)."""
        return dt / self._limit_ratio if self._limit_ratio > 0 else np.inf

    # ------------------------------------------------------------------ results
    def output_fields(self, out: dict | None = None) -> dict:
        """q [C/m²], δ [m], θ [-] as P1 functions (zero away from the plating surfaces)."""
        if out is None:
            out = {n: fem.Function(self.V, name=n) for n in ("plated_charge", "deposit_thickness", "li_coverage")}
        out["plated_charge"].x.array[:] = self.q.x.array
        out["deposit_thickness"].x.array[:] = self.q.x.array * self.molar_volume / FARADAY
        out["li_coverage"].x.array[:] = self.theta.x.array
        return out


def of(cell) -> SurfaceState | None:
    """The cell's SurfaceState component (None in steady runs or without a plating history)."""
    return next((c for c in getattr(cell, "components", []) if isinstance(c, SurfaceState)), None)
