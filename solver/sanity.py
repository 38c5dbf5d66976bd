"""Physical sanity of a solved state, checked before a run is reported as a success.

A converged Newton solve is not yet a physical state (a relative tolerance can stop far from the
solution; a steady state above the transport limit does not exist). Every rule below raises
:class:`~licoat.solver.electrochemistry.SolverError` (the CLI's exit 3) with the reason; the
material-validity rule raises :class:`~licoat.case.CaseError` (exit 2) before anything runs.

Rules (tolerances are module constants, stated here):

* **finite**: every unknown is finite on every rank.
* **concentration positive**: min c > 0 everywhere in the electrolyte (steady); transient runs
  may end at depletion with c_min >= -1e-6 c0, the integrator's own acceptance threshold.
* **potential window**: |V| <= 5 V and max |φ| <= 5 V (V, φ against Li/Li+). The liquid
  electrolytes in the database decompose beyond ≈ 4.5–5 V vs Li/Li+ (Goodenough & Kim,
  Chem. Mater. 22 (2010) 587) and the model has no side reactions; a larger potential also means
  a field far above the dielectric breakdown of an ALD film (≈ 1e9 V/m) for films >= 5 nm.
* **current balance**: galvanostatic, the plating current equals the applied current,
  |∫_S j dS - i_app A| <= 1e-6 |i_app A| (A: footprint); with a resolved coating of area-specific
  resistance ASR = t/κ_c the film current -η_film/ASR (η_film = coating_ohmic) equals the plating
  current that enters the film within 5 % (exact for a flat film, O(t·curvature) otherwise).
* **limiting current** (steady galvanostatic runs, before the solve): |i_app| < i_lim with the
  Kirchhoff-transformed 1D limit i_lim = F ∫_0^c0 D(c) dc / ((1 - t+) L) (reservoir counter) or
  twice that (Li counter; Newman, physics.md §6: F D c0/((1-t+)L) and 2 F D c0/((1-t+)L) for a
  constant D), L = geometry.electrolyte_thickness.
* **material validity**: operation.temperature and the bulk concentration lie inside the
  ``[validity]`` ranges of the materials' property fits (materials/data/*.toml, with sources).
"""

from __future__ import annotations

import numpy as np

from licoat.constants import FARADAY

POTENTIAL_WINDOW_V = 5.0  # |V| and |phi| against Li/Li+
BALANCE_RTOL = 1e-6  # plating vs applied current (galvanostatic)
FILM_RTOL = 0.05  # film current from the film's ohmic drop vs plating current (resolved film)
TRANSIENT_C_TOL = 1e-6  # c_min >= -TRANSIENT_C_TOL c0 at the end of a transient run


def _solver_error(msg: str):
    from licoat.solver.electrochemistry import SolverError

    return SolverError(msg)


# --------------------------------------------------------------------------- before the solve
def limiting_current(case) -> float:
    """Estimated steady limiting current density [A/m^2 of footprint] of the case (1D, physics.md §6).

    i_lim = n F ∫_0^c0 D(c) dc / ((1 - t+) L), n = 1 against the reservoir, 2 for a Li counter;
    exact in 1D for the anion-flux salt balance with constant t+ (N_- = 0: D dc/dy = (1-t+) i/F).
    """
    from licoat import setup

    el = setup.electrolyte(case)
    c0 = el.concentration
    # Gauss-Legendre on [0, c0] (D(c) is a low-order polynomial/expression in the fits)
    x, w = np.polynomial.legendre.leggauss(16)
    c = 0.5 * c0 * (x + 1.0)
    integral = 0.5 * c0 * float(sum(wi * el.diffusivity.at(ci) for ci, wi in zip(c, w)))
    n = 2.0 if case.operation.counter == "lithium" else 1.0
    return n * FARADAY * integral / ((1.0 - el.transference_number) * case.geometry.electrolyte_thickness)


def check_limiting_current(case, transient: bool) -> float:
    """Steady galvanostatic runs at or above the transport limit have no steady state: SolverError."""
    i_lim = limiting_current(case)
    o = case.operation
    if not transient and o.mode == "galvanostatic" and abs(o.current_density) >= i_lim:
        raise _solver_error(
            f"operation.current_density = {o.current_density:.4g} A/m^2 is at or above the estimated limiting "
            f"current i_lim = {i_lim:.4g} A/m^2 (= F ∫D dc/((1 - t+) L), L = geometry.electrolyte_thickness = "
            f"{case.geometry.electrolyte_thickness:.3g} m): no steady state exists; run a transient instead "
            "(operation.duration or operation.capacity) to find the depletion (Sand's) time"
        )
    return i_lim


# --------------------------------------------------------------------------- material validity
def validity_problems(case) -> list[str]:
    """Messages for inputs outside the ``[validity]`` ranges of the case's materials (empty: fine)."""
    from licoat.materials import load_material

    T = case.operation.temperature
    out = []
    names = [("electrolyte", case.electrolyte.material), ("anode", case.anode.material)]
    if case.coating.material.lower() != "none":
        names.append(("coating", case.coating.material))
    if case.geometry.kind in ("pillars", "fibers", "foam"):
        names.append(("host", case.host.material))
    for section, name in names:
        try:
            m = load_material(name)
        except KeyError:
            continue  # reported by the name check
        validity = getattr(m, "validity", {}) or {}
        r = validity.get("temperature")
        if r is not None and not r.contains(T):
            out.append(f"operation.temperature = {T:g} K: outside the validity range {r.describe()} of the "
                       f"{m.name} ({section}) property data (source: {r.source})")
        r = validity.get("concentration")
        if r is not None and section == "electrolyte":
            c0 = case.electrolyte.concentration
            key = "electrolyte.concentration"
            if c0 is None:
                c0, key = m.value("concentration"), f"{m.name} concentration"
            if not r.contains(c0):
                out.append(f"{key} = {c0:g} mol/m^3: outside the validity range {r.describe()} of the {m.name} "
                           f"property fits (source: {r.source})")
    return out


# --------------------------------------------------------------------------- after the solve
def _owned(u) -> np.ndarray:
    im = u.function_space.dofmap.index_map
    return u.x.array[: im.size_local * u.function_space.dofmap.index_map_bs]


def check_finite(cell) -> None:
    """Every unknown finite on every rank."""
    bad = [u.name for u in cell.unknowns if not np.isfinite(_owned(u)).all()]
    bad = sorted(set(sum(cell.comm.allgather(bad), [])))
    if bad:
        raise _solver_error(f"non-finite values in the solved field(s) {', '.join(bad)}")


def _min_max(cell, u) -> tuple[float, float, float]:
    from mpi4py import MPI

    a = _owned(u)
    lo = cell.comm.allreduce(float(a.min()) if a.size else np.inf, op=MPI.MIN)
    hi = cell.comm.allreduce(float(a.max()) if a.size else -np.inf, op=MPI.MAX)
    return lo, hi, max(abs(lo), abs(hi))


def check_concentration(cell, case=None, transient: bool = False) -> float:
    """c > 0 in the electrolyte (steady) or c >= -1e-6 c0 (end of a transient). Returns c_min [mol/m^3]."""
    c_min = _min_max(cell, cell.c_hat)[0] * cell.c0
    floor = -TRANSIENT_C_TOL * cell.c0 if transient else 0.0
    if not c_min > floor:
        hint = ""
        if case is not None:
            i_lim = limiting_current(case)
            hint = (f"; the estimated limiting current is {i_lim:.4g} A/m^2: above it no steady state exists, "
                    "run a transient (operation.duration) to find the depletion time")
        raise _solver_error(f"unphysical state: the salt concentration reaches {c_min:.4g} mol/m^3 "
                            f"(must stay > 0 everywhere){hint}")
    return c_min


def check_potentials(cell, metrics: dict | None = None, coating=None) -> None:
    """|V| and max |φ| within ±POTENTIAL_WINDOW_V (against Li/Li+)."""
    V = float(cell.cell_voltage)
    phi = _min_max(cell, cell.phi_hat)[2] * cell.Vt
    worst = max(abs(V), phi)
    if not worst <= POTENTIAL_WINDOW_V:
        msg = (f"unphysical state: potential outside the window ±{POTENTIAL_WINDOW_V:g} V vs Li/Li+ "
               f"(cell voltage {V:.4g} V, max |phi| {phi:.4g} V): beyond it the electrolyte decomposes and the "
               "model has no side reactions")
        if metrics is not None and coating is not None:
            film = metrics["overpotentials_V"]["coating_ohmic"]
            if abs(film) > 0.5 * worst:
                msg += (f"; {film:.4g} V of it lies across the coating {coating.name} ({coating.thickness:.3g} m, "
                        f"area-specific resistance {coating.area_specific_resistance:.3g} Ohm m^2): a dense "
                        "continuous film cannot carry this current (Li+ must pass through defects or lithiated paths)")
        raise _solver_error(msg)


def check_current_balance(cell, case, metrics: dict, coating=None) -> None:
    """Galvanostatic: plating = applied current; resolved film: film current = plating current."""
    p = metrics["plating"]
    total = p["current_density_mean_A_m2"] * p["area_m2"]
    o = case.operation
    if o.mode == "galvanostatic" and not getattr(cell.control, "holding", False):  # not a Cycler's voltage hold
        applied = o.current_density * float(cell.load.value) * cell.footprint  # load: a protocol step's share
        # a rest: relative to the reference current, or to the exchange current where no step sets a current
        scale = max(abs(applied), abs(o.current_density) * cell.footprint, cell.kin.exchange_current_density * cell.footprint)
        if not abs(total - applied) <= BALANCE_RTOL * scale:
            raise _solver_error(
                f"current balance violated: plating current {total / cell.footprint:.6g} A/m^2 (per footprint) "
                f"against the applied {applied / cell.footprint:.6g} A/m^2 (relative tolerance {BALANCE_RTOL:g})")
    # the film rule holds for a dense film; with [coating.defects] current bypasses the film through the
    # defects (the defects block reports that split), so the plating current exceeds the film current
    dense = getattr(case.coating, "defects", None) is None
    if dense and coating is not None and coating.model == "resolved" and coating.ionic_conductivity > 0:
        j = p["current_density_mean_A_m2"] * (1.0 - p.get("above_coating_fraction", 0.0))
        j_film = -metrics["overpotentials_V"]["coating_ohmic"] / coating.area_specific_resistance
        scale = max(abs(j), abs(j_film), 1e-30)
        if not abs(j - j_film) <= FILM_RTOL * scale:
            raise _solver_error(
                f"current balance violated: the plating current {j:.6g} A/m^2 differs from the film current "
                f"{j_film:.6g} A/m^2 (coating ohmic drop {metrics['overpotentials_V']['coating_ohmic']:.4g} V over "
                f"ASR {coating.area_specific_resistance:.3g} Ohm m^2; tolerance {FILM_RTOL:.0%}): the Newton "
                "iterate is not a solution")


def check_thin_film_balance(cell, rtol: float = FILM_RTOL) -> None:
    """Thin films: the Li|film reaction current equals the current through the film,
    ∫_S i_kin dS = ∫_S (ψ − φ)/ASR dS (the film equation), within ``rtol`` of the plating current."""
    if not getattr(cell, "thin", False):
        return
    from dolfinx import fem
    from mpi4py import MPI

    def integral(expr_of):
        local = sum(fem.assemble_scalar(fem.form(expr_of(n) * cell.sm[n])) for n in cell.surfaces)
        return cell.comm.allreduce(local, op=MPI.SUM)

    i_kin = integral(lambda n: cell.expr["i_kin"][n])
    i_film = integral(lambda n: cell.i_n[n] - cell.i_leak.get(n, 0.0))
    scale = max(abs(i_kin), abs(i_film), 1e-300)
    if not abs(i_kin - i_film) <= rtol * scale:
        raise _solver_error(
            f"current balance violated: the Li|film reaction current {i_kin / cell.area_S:.6g} A/m^2 differs from "
            f"the current through the thin film {i_film / cell.area_S:.6g} A/m^2 (tolerance {rtol:.0%}): the "
            "Newton iterate is not a solution")


def check_state(cell, case, metrics: dict | None = None, coating=None, transient: bool = False) -> dict:
    """Every post-solve rule; returns ``metrics`` (computed when not given)."""
    check_finite(cell)
    if metrics is None:
        metrics = cell.metrics()
    check_concentration(cell, case, transient)
    check_current_balance(cell, case, metrics, coating)
    check_thin_film_balance(cell)
    check_potentials(cell, metrics, coating)
    return metrics


# --------------------------------------------------------------------------- environment
def check_ranks(comm, tm) -> None:
    """Every rank must own cells of the mesh: more ranks than the mesh can feed is invalid input (exit 2)."""
    from mpi4py import MPI

    tdim = tm.mesh.topology.dim
    local = tm.mesh.topology.index_map(tdim).size_local
    if comm.allreduce(local, op=MPI.MIN) == 0:
        total = tm.mesh.topology.index_map(tdim).size_global
        empty = comm.allreduce(int(local == 0), op=MPI.SUM)
        raise ValueError(f"{comm.size} MPI ranks for a mesh of {total} cells: {empty} rank(s) own no cell; run on "
                         "fewer ranks or refine geometry.mesh_size")
