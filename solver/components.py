"""Physics components: each term of the cell's equations as one small object.

A :class:`~licoat.solver.problem.CellProblem` is the sum of its components. Each component

* ``declare(prob)``: registers the unknowns it owns (:mod:`licoat.solver.fields`) and its constants;
* ``contribute(ctx)``: adds its residual terms to the fields' residuals, written as a function of the
  fields in ``ctx`` (the unknowns, or the exact fields of a manufactured solution), and publishes the
  expressions others need (``ctx.expr``);
* ``bcs(prob)``: its Dirichlet conditions; ``initial_guess(prob, load)``: its share of Newton's start.

Scaled unknowns (physics.md §10): ĉ = c/c0, φ̂ = Fφ/RT, V̂ = FV/RT, ψ̂ = Fψ/RT; residuals are
multiplied by s_c = 1/(D0 c0 ℓ^(d-2)), s_φ = 1/(κ0 RT/F ℓ^(d-2)), s_V = 1/(i_ref ℓ^(d-1)) so that
every block is O(1). ``source_term = True`` marks the components whose residual a manufactured
solution subtracts (the transport and kinetics physics; not constraints and controls).
"""

from __future__ import annotations

import numpy as np

from licoat import import_stack

import_stack()
import basix.ufl  # noqa: E402
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402

from licoat.constants import FARADAY  # noqa: E402
from licoat.solver.fields import Field  # noqa: E402
from licoat.solver.properties import Kinetics  # noqa: E402


def _where(cond, a, b):
    return ufl.conditional(cond, a, b)


def reaction_current(kin: Kinetics, eta, f, conc_factor):
    """i_n = (c/c0)^γ i0 [exp(α_a f η) − exp(−α_c f η)] (or the linear/Tafel form) [A/m²], anodic positive."""
    return conc_factor * kin.current(eta, f, ufl.exp, _where)


class Component:
    source_term = False  # subtracted by a manufactured solution
    needs_direct_solver = False

    def declare(self, prob):
        pass

    def contribute(self, ctx):
        pass

    def bcs(self, prob) -> list:
        return []

    def initial_guess(self, prob, load: float):
        pass

    # transient runs: state a component keeps between time steps (e.g. solver/surface_state.py)
    def set_time_step(self, prob, dt: float, dt_prev: float | None):
        pass

    def accept_time_step(self, prob):
        pass

    def step_limit(self, prob, dt: float) -> float:
        """Largest next time step this component allows [s] (inf: no limit)."""
        return np.inf

    def state(self) -> list:
        """Arrays this component keeps between time steps (P1 on the problem's mesh): saved with the
        unknowns when a step is retried and in checkpoints."""
        return []

    def restore(self, arrays: list):
        pass


class ConcentratedElectrolyte(Component):
    """Binary salt, concentrated-solution theory (Newman & Thomas-Alyea ch. 12, constant t+):

        i_e = −κ ∇φ + (2κRT/F)(1 − t+) TDF ∇ln c,   ∇·i_e = 0
        ∂c/∂t = −∇·N₋,  N₋ = −D ∇c − (1 − t+) i_e / F   (anion flux; N₋·n = 0 at every Li+-only surface,
                                                         so blocked-anion conditions are natural)
    Weak form:  ∫_e (D∇c + (1−t+) i_e/F)·∇v dx = 0,   ∫_e −i_e·∇w dx − Σ_S ∫ i_n w ds = 0.
    Owns ĉ (electrolyte only) and φ̂ (every ionic volume)."""

    source_term = True

    def __init__(self, electrolyte):
        self.el = electrolyte

    def declare(self, prob):
        P1c = fem.functionspace(prob.mesh, ("Lagrange", prob.degree))
        P1p = fem.functionspace(prob.mesh, ("Lagrange", prob.degree))
        prob.registry.add(Field("concentration", fem.Function(P1c, name="concentration_scaled"), volumes=("electrolyte",)))
        prob.registry.add(Field("potential", fem.Function(P1p, name="potential_scaled"), volumes=tuple(prob.ionic_volumes)))

    def contribute(self, ctx):
        el, p = self.el, ctx.prob
        c_hat, phi_hat = ctx.u("concentration"), ctx.u("potential")
        c_pos = ufl.max_value(c_hat, 1e-8)
        kappa = el.conductivity.ufl(p.c0 * c_hat)
        D = el.diffusivity.ufl(p.c0 * c_hat)
        tp, tdf = el.transference_number, el.thermodynamic_factor
        # modified Ohm's law, i_e = -kappa grad(phi) + (2 kappa RT/F)(1 - t+) TDF grad(ln c)
        i_e = -kappa * p.Vt * (ufl.grad(phi_hat) - 2 * (1 - tp) * tdf * ufl.grad(c_hat) / c_pos)
        ctx.expr.update(i_e=i_e, kappa=kappa, c_pos=c_pos)
        v, w = ctx.v("concentration"), ctx.v("potential")
        dx_e = p.dx(p.tm.tag("electrolyte"))
        ctx.add("concentration", p.s_c * ufl.inner(D * p.c0 * ufl.grad(c_hat) + (1 - tp) * i_e / FARADAY, ufl.grad(v)) * dx_e)
        ctx.add("potential", p.s_phi * ufl.inner(-i_e, ufl.grad(w)) * dx_e)

    def storage(self, prob, c_hat):
        """The capacity term ∫_e c v dx (scaled) whose time derivative the salt balance carries."""
        return prob.s_c * prob.c0 * c_hat * ufl.TestFunction(prob.registry["concentration"].function.function_space) * prob.dx(prob.tm.tag("electrolyte"))

    def initial_guess(self, prob, load):
        prob.registry["concentration"].function.x.array[:] = 1.0
        prob.registry["potential"].function.x.array[:] = 0.0


class IonicLayer(Component):
    """One resolved coating layer, a single-ion conductor (t+ = 1): i_c = −κ_c ∇φ, ∇·i_c = 0.
    Weak form ∫_layer κ_c ∇φ·∇w dx; flux continuity with its neighbours is natural, and continuity of
    φ is continuity of the Li+ electrochemical potential (physics.md §1, §3)."""

    source_term = True

    def __init__(self, volume: str, ionic_conductivity: float):
        self.volume, self.kappa = volume, ionic_conductivity

    def contribute(self, ctx):
        p = ctx.prob
        phi, w = ctx.u("potential"), ctx.v("potential")
        ctx.add("potential", p.s_phi * self.kappa * p.Vt * ufl.inner(ufl.grad(phi), ufl.grad(w)) * p.dx(p.tm.tag(self.volume)))


class ThinFilmStack(Component):
    """Thin layers of a coating stack on every plating surface (film much thinner than the mesh):
    layers in series, ASR = Σ_k t_k/κ_k (or a field, e.g. with defects), with the potential ψ on
    the metal side of the film as an unknown on the plating facets:

        i_n = (ψ − φ_e)/ASR   (film)      i_n = BV(V − ψ)   (Li|film kinetics)

    An electronically leaky stack (every layer σ_e > 0) also plates Li on top of the film, fed by
    electrons through it: i_top = a(η) (V − φ_e)/(Σ t_k/σ_k + R_ct), with the linearised
    charge-transfer resistance R_ct = RT/((α_a+α_c) F i0) (exact for linear kinetics)."""

    def __init__(self, layers):
        self.layers = list(layers)

    def declare(self, prob):
        V = fem.functionspace(prob.mesh, ("Lagrange", prob.degree))
        prob.registry.add(Field("film_potential", fem.Function(V, name="film_potential_scaled"),
                              facets=tuple(prob.surfaces)))

    def asr(self, prob):
        """Series area-specific resistance of the thin layers [Ω m²] (a UFL field where a layer has one)."""
        cache = prob.__dict__.setdefault("_film_asr", {})
        if id(self) not in cache:
            parts = [layer.asr_field(prob.tm) if layer.asr_field is not None else layer.area_specific_resistance
                     for layer in self.layers]
            cache[id(self)] = sum(parts[1:], parts[0])
        return cache[id(self)]

    @property
    def uniform_asr(self) -> float:
        return float(sum(layer.area_specific_resistance for layer in self.layers))

    def electronic_resistance(self) -> float | None:
        """Σ t_k/σ_k [Ω m²], or None when a layer blocks electrons."""
        if any(layer.electronic_conductivity <= 0 for layer in self.layers):
            return None
        return float(sum(layer.thickness / layer.electronic_conductivity for layer in self.layers))

    def initial_guess(self, prob, load):
        prob.registry["film_potential"].function.x.array[:] = 0.0


class PlatingInterface(Component):
    """Li plating on one metal surface S (Butler–Volmer, physics.md §4):

        i_n = a(η) i0 (c/c0)^γ [exp(α_a f η) − exp(−α_c f η)],   η = V − φ_l,   f = F/RT
        stress (Monroe–Newman):  η → η − Δμ/F,  i0 → i0 exp((1 − α_a) Δμ/RT)
        nucleation:              a(η) = 1/(1 + exp((η + η_nuc)/w))   (Kinetics.activation)

    φ_l is φ (bare Li or a resolved coating) or the film potential ψ under a thin stack, and then
    the film equation ∫_S s_φ (i_kin − i_film) μ ds = 0 holds on S (the charge balance's scale: its rows
    ℓ times smaller were invisible to the Newton and Krylov norms). γ applies at a Li|liquid
    contact only. Adds −∫_S i_n w ds to the charge balance."""

    source_term = True

    def __init__(self, surface: str, kinetics: Kinetics, film: ThinFilmStack | None = None, stress=None, state=None):
        self.surface, self.kin, self.film, self.stress = surface, kinetics, film, stress
        self.history = state  # transient plating history (solver/surface_state.SurfaceState) or None

    def _dmu(self, prob):
        if callable(self.stress):  # built against this problem's ionic submesh (mechanics hook)
            self.stress = self.stress(prob)
        return self.stress

    def contribute(self, ctx):
        p, kin, name = ctx.prob, self.kin, self.surface
        phi = ctx.u("potential")
        psi = ctx.u("film_potential") if self.film is not None else None
        liquid = self.film is None and p.tm.role(p.tm.sides(name)[1]) == "electrolyte"
        cf = ctx.expr["c_pos"] ** kin.concentration_exponent if liquid and kin.concentration_exponent else 1.0
        phi_l = psi if self.film is not None else phi
        eta = (p.electrode_potential - phi_l) * p.Vt
        dmu = self._dmu(p)
        if dmu is not None:
            eta = eta - dmu / FARADAY
            cf = cf * ufl.exp((1 - kin.alpha_a) * dmu / (FARADAY * p.Vt))
        st = self.history  # with a plating history: coverage-weighted Li kinetics + a conversion reaction
        i_bv = reaction_current(kin, eta, 1.0 / p.Vt, cf)
        i_kin = kin.activation(eta, ufl.exp) * i_bv if st is None else st.li_current(p, name, eta, kin, cf, i_bv)
        # a conversion film reacts on its electrolyte side when it conducts electrons, else at the metal
        r_e = self.film.electronic_resistance() if self.film is not None else None
        conv_on_top = st is not None and r_e is not None
        i_conv = st.conversion_current(p, name, eta) if st is not None and not conv_on_top else None
        if i_conv is not None:
            ctx.expr.setdefault("i_conv", {})[name] = i_conv
            i_kin = i_kin + i_conv
        sm = p.sm[name]
        ctx.expr["eta"][name] = eta
        ctx.expr["i_kin"][name] = i_kin
        if self.film is None:
            i_n = i_kin
        else:
            i_film = (psi - phi) * p.Vt / self.film.asr(p)
            i_leak = 0.0
            if r_e is not None:
                r_ct = p.Vt / ((kin.alpha_a + kin.alpha_c) * kin.exchange_current_density)
                eta_top = (p.electrode_potential - phi) * p.Vt  # electrons at V on top of the film
                i_leak = kin.activation(eta_top, ufl.exp) * eta_top / (r_e + r_ct) if st is None else \
                    st.leak_current(p, name, eta_top, r_e + r_ct)
                ctx.expr["i_leak"][name] = i_leak
                i_conv = st.conversion_current(p, name, eta_top) if conv_on_top else None
                if i_conv is not None:  # the control's residual adds it (i_conv_top)
                    ctx.expr.setdefault("i_conv", {})[name] = i_conv
                    ctx.expr.setdefault("i_conv_top", {})[name] = i_conv
                    i_leak = i_leak + i_conv
            i_n = i_film + i_leak
            ctx.add("film_potential", p.s_phi * (i_kin - i_film) * ctx.v("film_potential") * sm)
        ctx.expr["i_n"][name] = i_n
        ctx.add("potential", -p.s_phi * i_n * ctx.v("potential") * sm)


class Reservoir(Component):
    """Top boundary: bulk electrolyte at c = c0 and φ = 0 (the reference)."""

    def bcs(self, prob):
        fdim = prob.dim - 1
        top = prob.tm.facets("top")
        out = []
        for name, value in (("concentration", 1.0), ("potential", 0.0)):
            V = prob.registry[name].function.function_space
            out.append(fem.dirichletbc(fem.Constant(prob.mesh, value), fem.locate_dofs_topological(V, fdim, top), V))
        return out


class LithiumCounter(Component):
    """Li counter electrode on the top boundary, held at 0 V: i_top = BV(0 − φ) (c/c0)^γ, with the salt
    inventory conserved by :class:`SaltMultiplier` (no reservoir)."""

    source_term = True
    needs_direct_solver = True  # the multiplier makes a saddle point the field split cannot precondition

    def __init__(self, kinetics: Kinetics):
        self.kin = kinetics

    def contribute(self, ctx):
        p, kin = ctx.prob, self.kin
        phi = ctx.u("potential")
        cf = ctx.expr["c_pos"] ** kin.concentration_exponent if kin.concentration_exponent else 1.0
        i_counter = reaction_current(kin, (0.0 - phi) * p.Vt, 1.0 / p.Vt, cf)
        ctx.expr["i_counter"] = i_counter
        ctx.add("potential", -p.s_phi * i_counter * ctx.v("potential") * p.ds(p.tm.tag("top")))


class SaltMultiplier(Component):
    """A closed cell keeps its salt: ∫_e (ĉ − 1) dx = 0, enforced by a real multiplier λ."""

    def declare(self, prob):
        R = fem.functionspace(prob.mesh, basix.ufl.real_element(prob.mesh.basix_cell(), dtype=np.float64))
        prob.registry.add(Field("salt_multiplier", fem.Function(R, name="salt_multiplier")))

    def contribute(self, ctx):
        p = ctx.prob
        lam = ctx.u("salt_multiplier")
        dx_e = p.dx(p.tm.tag("electrolyte"))
        ctx.add("concentration", p.s_c * p.ell**2 * lam * ctx.v("concentration") * dx_e)
        ctx.add("salt_multiplier", p.ell ** (-p.dim) * (ctx.u("concentration") - 1.0) * ctx.v("salt_multiplier") * dx_e)

    def initial_guess(self, prob, load):
        prob.registry["salt_multiplier"].function.x.array[:] = 0.0


class ElectronicConductor(Component):
    """Electronic conduction in resolved metal volumes (hosts, collector): −∇·(σ∇φ_s) = 0, the plating
    current i_n leaves through S and the applied current enters at the bottom (set by the control).
    φ_s is then the electrode potential of the plating interfaces."""

    def __init__(self, conductivity: dict[str, float]):
        self.sigma = dict(conductivity)

    def declare(self, prob):
        V = fem.functionspace(prob.mesh, ("Lagrange", prob.degree))
        f = prob.registry.add(Field("metal_potential", fem.Function(V, name="metal_potential_scaled"),
                                  volumes=tuple(self.sigma)))
        prob.electrode_potential = f.function
        self.s_s = 1.0 / (max(self.sigma.values()) * prob.Vt * prob.ell ** (prob.dim - 2))

    def contribute(self, ctx):
        p = ctx.prob
        phis, ws = ctx.u("metal_potential"), ctx.v("metal_potential")
        F = sum(self.s_s * sig * p.Vt * ufl.inner(ufl.grad(phis), ufl.grad(ws)) * p.dx(p.tm.tag(vol))
                for vol, sig in self.sigma.items())
        F += sum(self.s_s * ctx.expr["i_n"][n] * ws * p.sm[n] for n in p.surfaces)
        ctx.add("metal_potential", F)


class Galvanostatic(Component):
    """Applied current: ∫_S i_n dS = −i_app A_footprint (plating positive i_app), with the load
    continuation parameter in front of i_app. Without a resolved conductor the electrode potential V
    is a global (real) unknown with this constraint; with one, the current enters at the bottom."""

    def __init__(self, current_density: float):
        self.i_app = current_density

    def declare(self, prob):
        self.conductor = prob.electrode_potential is not None
        if not self.conductor:
            R = fem.functionspace(prob.mesh, basix.ufl.real_element(prob.mesh.basix_cell(), dtype=np.float64))
            V = prob.registry.add(Field("electrode_potential", fem.Function(R, name="electrode_potential_scaled")))
            prob.electrode_potential = V.function

    def contribute(self, ctx):
        p = ctx.prob
        if self.conductor:
            ws = ctx.v("metal_potential")
            s_s = next(c.s_s for c in p.components if isinstance(c, ElectronicConductor))
            ctx.add("metal_potential", s_s * p.load * self.i_app * ws * p.ds(p.tm.tag("bottom")))
            return
        ctx.add("electrode_potential", self.current_balance(ctx))

    def current_balance(self, ctx):
        """s_V ∫_S (i_kin + i_leak + i_conv,top + load i_app A_footprint/A_S) q dS: the residual of V."""
        p, q = ctx.prob, ctx.v("electrode_potential")
        # the kinetic current (= film current at convergence) keeps dR/dV != 0 for thin films
        return sum(
            p.s_v * (ctx.expr["i_kin"][n] + ctx.expr["i_leak"].get(n, 0.0) + ctx.expr.get("i_conv_top", {}).get(n, 0.0)
                     + p.load * self.i_app * p.footprint * p.inv_area_S)
            * q * p.sm[n] for n in p.surfaces)

    def scale_load(self, prob, load):
        prob.load.value = load

    def cell_voltage(self, prob) -> float:
        if self.conductor:  # mean metal potential where the current leaves
            return prob.surface_mean(prob.electrode_potential, ["bottom"]) * prob.Vt
        return float(prob.electrode_potential.x.array[0]) * prob.Vt  # real dof: on every rank

    def initial_guess(self, prob, load):
        """1D estimate: kinetic + film + electrolyte drops at the mean surface current."""
        i = load * self.i_app * prob.footprint / prob.area_S
        i0 = prob.kin.exchange_current_density
        eta = 2 * prob.Vt * np.arcsinh(i / (2 * i0))
        asr = prob.stack_asr
        # surfaces without Li need their nucleation overpotential before they carry current
        eta_nuc = min(prob.kin_of[n].nucleation_overpotential for n in prob.surfaces)
        prob.electrode_potential.x.array[:] = -(eta + i * asr + eta_nuc) / prob.Vt
        if prob.tm.coating_layers():  # the film drop sits in the coating: start phi there at -i ASR
            phi = prob.registry["potential"].function
            prob.mesh.topology.create_connectivity(prob.dim, prob.dim)
            cdofs = fem.locate_dofs_topological(phi.function_space, prob.dim, prob.tm.cells(*prob.tm.coating_layers()))
            phi.x.array[cdofs] = -i * asr / prob.Vt
        if "film_potential" in prob.registry:  # Li side of the film carries the film drop
            prob.registry["film_potential"].function.x.array[:] = -i * asr / prob.Vt


class Cycler(Galvanostatic):
    """A battery cycler on the plating electrode: constant-current steps (rests are zero current) and
    constant-voltage holds, switched by a protocol (licoat/protocol.py) inside one problem, so that every
    field, the BDF history and the surface state carry over from step to step.

    The electrode potential stays the unknown of :class:`Galvanostatic`; a weight w (1: current, 0: hold)
    blends its residual with the hold condition:

        w s_V ∫_S (i_n + load i_app A_footprint/A_S) q dS + (1 − w) ℓ^(1−d) ∫_S (V̂ − V̂_hold) q dS = 0

    With a resolved conductor the applied current enters at the bottom times w, and a hold is a Dirichlet
    condition φ_s = V_hold at the bottom, added to the problem's conditions while it lasts."""

    def declare(self, prob):
        super().declare(prob)
        self.w = fem.Constant(prob.mesh, 1.0)
        self.V_hold = fem.Constant(prob.mesh, 0.0)  # scaled, V F/RT
        self.holding = False
        self._bc = None

    def contribute(self, ctx):
        p = ctx.prob
        if self.conductor:
            ws = ctx.v("metal_potential")
            s_s = next(c.s_s for c in p.components if isinstance(c, ElectronicConductor))
            ctx.add("metal_potential", s_s * self.w * p.load * self.i_app * ws * p.ds(p.tm.tag("bottom")))
            return
        q = ctx.v("electrode_potential")
        hold = sum(p.ell ** (1 - p.dim) * (p.electrode_potential - self.V_hold) * q * p.sm[n] for n in p.surfaces)
        ctx.add("electrode_potential", self.w * self.current_balance(ctx) + (1.0 - self.w) * hold)

    def bcs(self, prob):
        if self.conductor:  # the hold's condition, in the problem's list only while a hold lasts
            V = prob.registry["metal_potential"].function.function_space
            bottom = fem.locate_dofs_topological(V, prob.dim - 1, prob.tm.facets("bottom"))
            self._bc = fem.dirichletbc(self.V_hold, bottom, V)
        return []

    def constant_current(self, prob, current_density: float):
        """A current step (plating positive, 0 for a rest) [A/m² of footprint]."""
        prob.load.value = current_density / self.i_app if self.i_app else 0.0  # i_app = 0: holds and rests only
        self.w.value = 1.0
        if self.holding and self._bc is not None:
            prob.bcs.remove(self._bc)  # the nonlinear solver holds this very list
        self.holding = False

    def constant_voltage(self, prob, voltage: float):
        """A voltage hold of the electrode potential [V vs the top boundary]."""
        self.V_hold.value = voltage / prob.Vt
        self.w.value = 0.0
        if not self.holding and self._bc is not None:
            prob.bcs.append(self._bc)
        self.holding = True

    def cell_voltage(self, prob) -> float:
        if self.holding:
            return float(self.V_hold.value) * prob.Vt
        return super().cell_voltage(prob)

    def initial_guess(self, prob, load):
        if not self.holding:
            return super().initial_guess(prob, load)
        if self.conductor:
            prob.registry["metal_potential"].function.x.array[:] = float(self.V_hold.value)
        else:
            prob.electrode_potential.x.array[:] = float(self.V_hold.value)


class Potentiostatic(Component):
    """Applied electrode potential V (vs the top boundary), scaled by the load continuation."""

    def __init__(self, voltage: float):
        self.voltage = voltage

    def declare(self, prob):
        self.V_hat = fem.Constant(prob.mesh, self.voltage / prob.Vt)
        self.conductor = prob.electrode_potential is not None
        if not self.conductor:
            prob.electrode_potential = self.V_hat

    def bcs(self, prob):
        if not self.conductor:
            return []
        V = prob.registry["metal_potential"].function.function_space
        bottom = fem.locate_dofs_topological(V, prob.dim - 1, prob.tm.facets("bottom"))
        return [fem.dirichletbc(self.V_hat, bottom, V)]

    def scale_load(self, prob, load):
        self.V_hat.value = load * self.voltage / prob.Vt

    def cell_voltage(self, prob) -> float:
        return float(self.V_hat.value) * prob.Vt

    def initial_guess(self, prob, load):
        if self.conductor:
            prob.registry["metal_potential"].function.x.array[:] = float(self.V_hat.value)


class ManufacturedSource(Component):
    """Method of manufactured solutions: subtract the residual of the exact fields, so that they solve
    the continuous problem with the corresponding volume and surface sources (in time with the exact
    ∂c/∂t, so that only the time-discretisation error remains). ``exact(x, t)`` returns
    (ĉ, φ̂, ψ̂[, ∂ĉ/∂t]) as UFL expressions."""

    FIELDS = ("concentration", "potential", "film_potential")

    def __init__(self, exact):
        self.exact = exact

    def contribute(self, ctx):
        p = ctx.prob
        ex = self.exact(ufl.SpatialCoordinate(p.mesh), p.time)
        exact_ctx = ctx.with_fields({n: e for n, e in zip(self.FIELDS, ex[:3]) if e is not None})
        for comp in p.components:
            if comp.source_term:
                comp.contribute(exact_ctx)
        if p.time_scheme is not None and len(ex) > 3:
            exact_ctx.add("concentration", p.electrolyte.storage(p, ex[3]))
        for name in self.FIELDS:
            if name in exact_ctx.residual:
                ctx.add(name, -exact_ctx.residual[name])


class BDF2:
    """Variable-step BDF2 as a transform of a component's storage term (BDF1 on the first step):
    ∂/∂t S(u) ≈ b0 S(u^{n+1}) + b1 S(u^n) + b2 S(u^{n-1}), the b's carrying 1/dt (``set_step``)."""

    def __init__(self, prob, field: str = "concentration"):
        V = prob.registry[field].function.function_space
        self.field = field
        self.u_n, self.u_nm1 = fem.Function(V), fem.Function(V)
        self.u_n.x.array[:] = 1.0
        self.u_nm1.x.array[:] = 1.0
        self.b = [fem.Constant(prob.mesh, 0.0) for _ in range(3)]

    def discretise(self, storage, u):
        b0, b1, b2 = self.b
        return b0 * storage(u) + b1 * storage(self.u_n) + b2 * storage(self.u_nm1)

    def set_step(self, dt: float, dt_prev: float | None):
        if dt_prev is None:
            coef = (1.0 / dt, -1.0 / dt, 0.0)
        else:
            w = dt / dt_prev
            coef = ((1 + 2 * w) / (1 + w) / dt, -(1 + w) / dt, w * w / (1 + w) / dt)
        for const, value in zip(self.b, coef):
            const.value = value

    def accept(self, u):
        self.u_nm1.x.array[:] = self.u_n.x.array
        self.u_n.x.array[:] = u.x.array
