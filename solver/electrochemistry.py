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

Each line above is one component in :mod:`licoat.solver.components`; :func:`SteadyCell` picks the
components a cell needs and :class:`licoat.solver.problem.CellProblem` assembles them
(docs/architecture.md). Weak form (test functions v, w):

    ∫_e (D∇c + (1-t+) i_e/F)·∇v dx = 0
    ∫_e (-i_e)·∇w dx + ∫_coat κ_c ∇φ·∇w dx - ∫_S i_n w ds - ∫_top i_n,counter w ds = 0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from licoat import import_stack

import_stack()
from licoat.meshes.common import TaggedMesh  # noqa: E402
from licoat.solver import components as C  # noqa: E402
from licoat.solver.problem import DIRECT, SNES_REASONS, CellProblem, SolverError  # noqa: E402,F401
from licoat.solver.properties import Coating, CoatingStack, Electrolyte, Kinetics, Operation  # noqa: E402

METALS = ("anode", "host", "collector")


@dataclass
class SolverOptions:
    rtol: float = 1e-10
    atol: float = 1e-12
    max_iterations: int = 50
    linear_solver: str = "direct"  # "direct" | "iterative"
    petsc_options: dict = field(default_factory=dict)
    ramp_steps: int = 6  # continuation steps in the load if the full-load Newton fails
    reuse_jacobian: bool = True  # reuse a Jacobian while Newton converges fast (CellProblem)
    extrapolate: bool = False  # transient runs: Newton starts from the unknowns extrapolated in time


def plating_surfaces(tm: TaggedMesh) -> list[str]:
    """Facet groups where Li plates: a metal (Li, host, collector) against coating or electrolyte."""
    return tm.plating_surfaces()


def SteadyCell(
    comm,
    tm: TaggedMesh,
    electrolyte: Electrolyte,
    kinetics: Kinetics,
    operation: Operation,
    coating: Coating | CoatingStack | None = None,
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
    surface_models: dict | None = None,
    moving_interface: bool = False,
    coating_membrane=None,
) -> CellProblem:
    """Assemble the cell problem from its components (the one place that chooses them).

    ``tm`` is the full tagged mesh; the unknowns live on its electrolyte and resolved coating volumes
    (and on the metal volumes named in ``metal_conductivity``, whose electronic conduction is then
    resolved). ``coating`` is one layer or a :class:`CoatingStack`: its thin layers act on every
    plating surface as series resistances, its resolved layers are the mesh's coating volumes, in order.
    ``surface_models`` (transient only): {surface: SurfaceModel} for the plating history (coverage,
    conversion, plated charge; solver/surface_state.py); the steady problem ignores it.
    ``moving_interface`` (transient with a plating history): the mesh follows the deposit and is remeshed when
    needed (solver/moving_mesh.py, solver/remesh.py); resolved layers move with the Li surface, and
    ``coating_membrane`` (a moving_mesh.CoatingMembrane) gives their elastic stretch stress.
    """
    opts = options or SolverOptions()
    stack = CoatingStack.of(coating)
    metal_sigma = {k: v for k, v in (metal_conductivity or {}).items() if tm.has(k)}
    layers_in_mesh = [v for v in tm.coating_layers() if tm.has(v)]
    resolved = stack.resolved_layers
    if len(resolved) != len(layers_in_mesh):
        raise ValueError(f"the coating stack has {len(resolved)} resolved layer(s) but the mesh has "
                         f"{len(layers_in_mesh)} coating volume(s) ({', '.join(layers_in_mesh) or 'none'})")
    kin_of = {s: (surface_kinetics or {}).get(s, kinetics) for s in tm.plating_surfaces() if tm.has(s)}
    surfaces = [s for s, k in kin_of.items() if k.active]
    if not surfaces:
        raise ValueError("mesh has no active plating surface (<metal>_coating or <metal>_electrolyte)")
    stress = dict(mechanical_potential or {})

    comps: list[C.Component] = [C.ConcentratedElectrolyte(electrolyte)]
    comps += [C.IonicLayer(vol, layer.ionic_conductivity) for vol, layer in zip(layers_in_mesh, resolved)]
    film = C.ThinFilmStack(stack.thin_layers) if stack.thin_layers else None
    if film is not None:
        comps.append(film)
    state = None
    if transient and surface_models is not None:
        from licoat.solver.surface_state import SurfaceState

        state = SurfaceState({s: m for s, m in surface_models.items() if s in surfaces})
    moving = None
    if state is not None and moving_interface:  # the mesh follows the deposit (solver/moving_mesh.py)
        from licoat.solver.moving_mesh import MovingInterface

        moving = MovingInterface(state, membrane=coating_membrane)
        stress = {s: moving.stress_hook(s, stress.get(s)) for s in surfaces}  # carried across remeshes
        stress = {s: v for s, v in stress.items() if v is not None}
    comps += [C.PlatingInterface(s, kin_of[s], film, stress.get(s), state) for s in surfaces]
    if operation.counter == "lithium":
        comps += [C.LithiumCounter(counter_kinetics or kinetics), C.SaltMultiplier()]
    else:
        comps.append(C.Reservoir())
    if metal_sigma:
        comps.append(C.ElectronicConductor(metal_sigma))
    if operation.mode == "galvanostatic" and operation.voltage_holds:  # current and voltage steps
        comps.append(C.Cycler(operation.current_density))
    elif operation.mode == "galvanostatic":
        comps.append(C.Galvanostatic(operation.current_density))
    else:
        comps.append(C.Potentiostatic(operation.voltage))
    if state is not None:
        comps.append(state)
        if moving is not None:  # after the state update
            comps.append(moving)
    if manufactured is not None:
        comps.append(C.ManufacturedSource(manufactured))
    i_scale = max(abs(operation.current_density or 0.0), kinetics.exchange_current_density, 1e-3)
    return CellProblem(
        comm, tm, comps, electrolyte=electrolyte, kinetics=kinetics, options=opts,
        volumes=["electrolyte"] + layers_in_mesh + list(metal_sigma), surfaces=surfaces, kin_of=kin_of,
        length_scale=length_scale or 1e-5, i_scale=i_scale, footprint_area=footprint_area,
        thermal_voltage=operation.thermal_voltage, transient=transient, degree=degree,
        stack_asr=stack.uniform_asr,
    )
