"""Plating history on the plating surfaces of a transient run (issue 9): plated charge, Li coverage, conversion.

State per plating surface, kept as P1 nodal values on the surface dofs of the problem's space (not unknowns
of Newton's system):

* q(x, t) [C/m²]: Li-metal charge plated (plating positive); deposit thickness δ = V_M q / F
  (V_M = 1.30e-5 m³/mol: 4.85 µm per mAh/cm², physics.md §12).
* θ(x, t) [-]: Li coverage of a lithiophobic surface (1 on a Li anode).
* X(x, t) [-]: converted fraction of a lithiophilic film's conversion/alloying capacity Q_conv [C/m²].

Model (physics.md §5, §12; Ely & García, J. Electrochem. Soc. 160 (2013) A662; Pei et al., Nano Lett. 17
(2017) 1132):

* nucleation and growth (JMAK: Avrami, J. Chem. Phys. 7 (1939) 1103, 8 (1940) 212; for electrodeposition
  Bewick, Fleischmann & Thirsk, Trans. Faraday Soc. 58 (1962) 2200, Scharifker & Hills, Electrochim. Acta 28
  (1983) 879): Li nuclei form on the surface at the rate J(η) = J0 a(η) [1/(m² s)] and grow as islands whose
  radius advances at the Li deposition velocity of their surface, G = V_M j_Li/F (j_Li the Li-on-Li plating
  current density at the local η, kinetic control); the covered fraction is Avrami's
      θ = 1 − exp(−θ_ex),   θ_ex = π Σ r² = π M2,
  over the moments of the nucleus radii per area (extended surface, phantom nuclei included)
      dM0/dt = J,   dM1/dt = G M0,   dM2/dt = 2 G M1      (M0 = Σ 1 = N, M1 = Σ r, M2 = Σ r²).
  A place keeps the nuclei it formed: where few formed, coverage needs a long growth (θ_ex ∝ N G² t²), so a
  region that nucleated late stays partly bare while its neighbours plate; a region that nucleated densely
  covers fast. Closed forms at constant η (:func:`coverage_closed_form`): progressive nucleation
  θ = 1 − exp(−π J G² t³/3), instantaneous (N0 at t = 0) θ = 1 − exp(−π N0 G² t²).
  The rate law is the classical one (Ely & García, J. Electrochem. Soc. 160 (2013) A662): J0 exp(−ΔG*/kT) with
  the barrier ΔG* ∝ γ³V_M²/(Fη)² falling as 1/η². Written through the surface's nucleation overpotential η_nuc
  (where nucleation becomes observable, the datum measured in galvanostatic first plating) and the barrier
  there in units of kT, Λ = ΔG*(η_nuc)/kT = ln(J0/J(η_nuc)) (``nucleation_barrier``):
      J(η)/J(η_nuc) = exp(−Λ (η_nuc²/η² − 1)),
  whose logarithmic slope at the onset is 2Λ/η_nuc. licoat keeps the logistic switch (saturating at the full
  rate J0 beyond η_nuc) and gives it that slope:
      a(η) = 1/(1 + exp((η + η_nuc)/w_on)),   w_on = η_nuc/(2Λ),
  1.4 mV on Cu with Λ = 45, 5 mV on lithiated TiO2 (Λ = 2: no estimate; materials/data/TiO2.toml); a
  barrier-free surface (η_nuc = 0) uses w = ``nucleation_width`` (5 mV), which only keeps nucleation off at
  anodic overpotentials. Below the onset the logistic falls off more gently than exp(−Λ η_nuc²/η²), which
  keeps Newton's jump from a conversion plateau to nucleation robust (the exact 1/η² form broke it).
  Rate scale J0 = ν0 N_ref (ν0 = ``nucleation_rate`` [1/s]): N_ref = 4/(9π δ_c²) is the nucleus density at
  which a deposit δ_c (``coalescence_thickness``, 100 nm) of equal hemispheres covers an e-fold of the surface
  (θ_ex = π N r² = 1 with δ = (2/3)π N r³), 1.4e9 cm⁻² at δ_c = 100 nm: the order of the Li nucleus densities
  counted on Cu at ≈1 mA/cm² (Pei et al., Nano Lett. 17 (2017) 1132; materials/data/Li.toml).
  A barrier-free (lithiophilic, η_nuc = 0) surface has no nucleation step: Li wets it (every site is a
  nucleus), and its coverage grows directly, dθ_ex/dt = ν0 a(η) (W below: wetted in ~1/ν0 once cathodic),
  besides the islands; θ_ex = π M2 + W.
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

Time discretisation: implicit in the new overpotential, exact in time for frozen η (unconditionally
stable): inside each step's Newton solve, with J and G at η^{n+1},
    M0' = M0 + J Δt,   M1' = M1 + G M0 Δt + J G Δt²/2,   M2' = M2 + 2G M1 Δt + G² M0 Δt² + J G² Δt³/3,
    θ^{n+1} = 1 − exp(−π M2'),   X^{n+1} = 1 − (1 − X^n) exp(−r(η^{n+1}) Δt/Q_conv)
and the conversion current is the charge consumed over the step, i_conv = −Q_conv (X^{n+1} − X^n)/Δt, so the
film's charge balance is exact. U(X) is lagged (U(X^n)). After each accepted step the nodal values of θ, the moments and X
are interpolated and q gains Δt × the lumped-mass (nodal) projection of the Li-metal current
    q_j += Δt ∫_S (−i_Li) φ_j dS / ∫_S φ_j dS,
which keeps Σ_j q_j ∫φ_j = ∫ I dt exactly (mass balance to round-off). The next step is limited so that
θ changes by at most 0.05, X by 0.02 and U by 2 RT/F. Where q returns to zero on a lithiophobic surface
(stripping), θ and the nuclei are reset to zero.
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
    nucleation_rate: float = 1.0  # nu0, 1/s: J0 = nu0 N_ref nuclei per m^2 and s at full activation
    coalescence_thickness: float = 100e-9  # m: delta_c, which sets N_ref = 4/(9 pi delta_c^2)
    conversion_capacity: float = 0.0  # C/m^2 of surface (0: no conversion film)
    conversion_potential_high: float = 0.0  # V vs Li at X = 0
    conversion_potential_low: float = 0.0  # V vs Li at X = 1
    conversion_exchange_current_density: float = 1.0  # A/m^2
    conversion_alpha: float = 0.5

    @property
    def reference_nucleus_density(self) -> float:
        """N_ref = 4/(9π δ_c²) [1/m²]: equal hemispherical nuclei of this density cover an e-fold of the
        surface (π N r² = 1) when their volume per area (2/3)π N r³ is δ_c."""
        return 4.0 / (9.0 * np.pi * self.coalescence_thickness ** 2)

    @property
    def barrier_free(self) -> bool:
        """A lithiophilic surface (η_nuc = 0): Li wets it instead of nucleating islands."""
        return self.nucleation_overpotential <= 0

    @property
    def nucleation_rate_max(self) -> float:
        """J0 = ν0 N_ref [1/(m² s)]: the nucleation rate at full activation."""
        return self.nucleation_rate * self.reference_nucleus_density

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


def coverage_closed_form(t, eta, j_li, model: SurfaceModel, nuclei0: float = 0.0,
                         molar_volume: float = LI_MOLAR_VOLUME):
    """Avrami's θ(t) at a constant overpotential η, with the Li plating current density j_li [A/m², plating
    positive] on the islands: nuclei form at J = J0 a(η) (progressive) on top of ``nuclei0`` [1/m²] present
    at t = 0 (instantaneous), all growing at G = V_M j_li/F from zero radius:
        θ = 1 − exp(−π (N0 G² t² + J G² t³/3) − W),  W = ν0 a(η) t on a barrier-free surface, else 0."""
    a = model_activation(model, eta)
    J = model.nucleation_rate_max * a
    G = molar_volume * max(j_li, 0.0) / FARADAY
    t = np.asarray(t, dtype=float)
    wet = model.nucleation_rate * a * t if model.barrier_free else 0.0
    return 1.0 - np.exp(-np.pi * G ** 2 * (nuclei0 * t ** 2 + J * t ** 3 / 3.0) - wet)


def model_activation(m: SurfaceModel, eta, lib=np):
    """a(η) of one surface model (numpy or ufl)."""
    return activation(eta, m.nucleation_overpotential, m.nucleation_width, m.nucleation_barrier, lib)


class SurfaceState(Component):
    """q, θ and X on every plating surface of a transient cell; see the module docstring for the model."""

    MAX_DTHETA, MAX_DX, MAX_DU_VT = 0.05, 0.02, 2.0
    MOMENTS = ("M0", "M1", "M2", "W")  # Σ1 [1/m²], Σr [1/m], Σr² [-] of the nuclei per area; wetted W [-]
    #: the Functions that make up the state (carried across a remesh: solver/remesh.py)
    FIELDS = ("q", "theta", "X", "theta_n", "X_n", "nuclei") + MOMENTS + tuple(m + "_n" for m in MOMENTS)
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
        for m in self.MOMENTS:  # the nuclei (accepted, and at the start of the step the forms describe)
            setattr(self, m, fem.Function(V, name=f"nuclei_{m}"))
            setattr(self, m + "_n", fem.Function(V))
        # the real nucleus density [1/m²] (those born on bare area, N = ∫(1 − θ) J dt; M0 counts the extended
        # surface's phantoms too): a result, not used by the model
        self.nuclei = fem.Function(V, name="nucleus_density")
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
        self._moment_expr = {m: {} for m in self.MOMENTS}
        self._b_form = self._m_form = None
        self._m = None

    def _accepted(self) -> list:
        return [self.q, self.theta, self.X, self.nuclei] + [getattr(self, m) for m in self.MOMENTS]

    def _start_of_step(self) -> list:
        """(start-of-step copy, accepted) pairs."""
        return [(self.theta_n, self.theta), (self.X_n, self.X)] + \
            [(getattr(self, m + "_n"), getattr(self, m)) for m in self.MOMENTS]

    def state(self) -> list:
        """q, θ, X and the nucleus moments after the last accepted step (restored on a retried step and from
        checkpoints). The start-of-step copies are not part of it: a retried step must start from the accepted
        state, which ``set_time_step`` has already copied into them (restoring older copies would consume the
        step twice)."""
        return [f.x.array for f in self._accepted()]

    def restore(self, arrays: list):
        for f, a in zip(self._accepted(), arrays):
            f.x.array[:] = a
            f.x.scatter_forward()
        for start, acc in self._start_of_step():
            start.x.array[:] = acc.x.array
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
        """θ^{n+1} = 1 − exp(−π M2^{n+1}) as a function of the new overpotential (UFL): the moments integrated
        exactly over the step with J = J0 a(η) and G = V_M max(j_li, 0)/F frozen (module docstring)."""
        m = self.model(name)
        if m.lithium_present:
            return 1.0
        act = model_activation(m, eta, ufl)
        J = m.nucleation_rate_max * act
        G = self.molar_volume / FARADAY * ufl.max_value(j_li, 0.0) if j_li is not None else 0.0
        dt = self.dt
        M0, M1, M2, W = (getattr(self, k + "_n") for k in self.MOMENTS)
        new = {"M0": M0 + J * dt,
               "M1": M1 + G * M0 * dt + J * G * dt ** 2 / 2,
               "M2": M2 + 2 * G * M1 * dt + G ** 2 * M0 * dt ** 2 + J * G ** 2 * dt ** 3 / 3,
               "W": W + (m.nucleation_rate * act * dt if m.barrier_free else 0.0)}
        for k, e in new.items():
            self._moment_expr[k][name] = e
        expr = 1.0 - ufl.exp(-ufl.min_value(np.pi * new["M2"] + new["W"], 50.0))
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
            for start, acc in self._start_of_step():
                start.x.array[:] = acc.x.array
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
            for k, exprs in self._moment_expr.items():
                interpolate_surface(prob, exprs, new)
                getattr(self, k).x.array[dofs] = np.maximum(new.x.array[dofs], 0.0)
            # real nuclei: the new extended ones on the bare fraction (mid-step θ)
            bare = 1.0 - 0.5 * (self.theta_n.x.array[dofs] + vals)
            self.nuclei.x.array[dofs] += bare * (self.M0.x.array[dofs] - self.M0_n.x.array[dofs])
            # stripped back to nothing: bare again, no nuclei left
            gone = dofs[self.q.x.array[dofs] <= 0.0]
            for f in [self.theta, self.nuclei] + [getattr(self, k) for k in self.MOMENTS]:
                f.x.array[gone] = 0.0
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
        for f in self._accepted():
            f.x.scatter_forward()
        self._limit_ratio = prob.comm.allreduce(ratio, op=MPI.MAX)
        self._pending = True

    def step_limit(self, prob, dt: float) -> float:
        """Largest next step that keeps the state changes within the limits (inf when nothing changes)."""
        return dt / self._limit_ratio if self._limit_ratio > 0 else np.inf

    # ------------------------------------------------------------------ results
    def output_fields(self, out: dict | None = None) -> dict:
        """q [C/m²], δ [m], θ [-], N [1/m²] as P1 functions (zero away from the plating surfaces)."""
        if out is None:
            out = {n: fem.Function(self.V, name=n)
                   for n in ("plated_charge", "deposit_thickness", "li_coverage", "nucleus_density")}
        out["plated_charge"].x.array[:] = self.q.x.array
        out["deposit_thickness"].x.array[:] = self.q.x.array * self.molar_volume / FARADAY
        out["li_coverage"].x.array[:] = self.theta.x.array
        out["nucleus_density"].x.array[:] = self.nuclei.x.array
        return out


def of(cell) -> SurfaceState | None:
    """The cell's SurfaceState component (None in steady runs or without a plating history)."""
    return next((c for c in getattr(cell, "components", []) if isinstance(c, SurfaceState)), None)
