"""Metrics of a solved cell problem: each number computed from the problem, not stored in it.

* :func:`plating_uniformity` — mean/min/max plating current, cv, max_over_mean, uniform_fraction (physics.md §7)
* :func:`overpotential_breakdown` — kinetic, coating ohmic (per layer of the stack), electrolyte ohmic and
  concentration overpotentials; signed, they sum to the cell voltage
* :func:`plating_series` — the cheap per-time-step numbers (forms compiled once)
* :func:`summary_metrics` — what the run writes into summary.json
"""

from __future__ import annotations

import numpy as np

from licoat import import_stack

import_stack()
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.solver.metrics import uniformity  # noqa: E402


def interpolate_surface(prob, exprs: dict, target):
    """Nodal values of per-surface expressions into a P1 function (zero away from the surfaces).
    Compiled expressions and cell/dof sets are cached per (surface, expression)."""
    V = target.function_space
    cache = prob.__dict__.setdefault("_surface_interp", {})
    target.x.array[:] = 0.0
    for name, expr in exprs.items():
        key = (name, id(expr), id(V))
        if key not in cache:
            d = prob.dim
            f2c = prob.tm.mesh.topology.connectivity(d - 1, d)
            facets = prob.tm.facets(name)
            cells = np.unique(np.concatenate([f2c.links(f) for f in facets])) if len(facets) else np.zeros(0)
            cache[key] = (fem.Expression(expr, V.element.interpolation_points), cells.astype(np.int32),
                          fem.locate_dofs_topological(V, d - 1, facets), fem.Function(V), expr)
        compiled, cells, dofs, tmp, _ = cache[key]
        tmp.interpolate(compiled, cells0=cells)
        target.x.array[dofs] = tmp.x.array[dofs]
    target.x.scatter_forward()


def output_fields(prob, out: dict | None = None) -> dict:
    """Concentration [mol/m^3], potential [V], plating current density [A/m^2] as P1 functions."""
    P1 = prob.c_hat.function_space
    if out is None:
        out = {n: fem.Function(P1, name=n) for n in ("concentration", "potential", "plating_current_density")}
    out["concentration"].x.array[:] = prob.c_hat.x.array * prob.c0
    out["potential"].x.array[:] = prob.phi_hat.x.array * prob.Vt
    interpolate_surface(prob, prob.plating_current, out["plating_current_density"])
    return out


def _integrate_compiled(comm, form) -> float:
    return comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)


def plating_series(prob) -> dict:
    """Voltage, mean/min/max plating current and cv for one time step (forms compiled once)."""
    if not hasattr(prob, "_series_forms"):
        pc = prob.plating_current
        prob._series_forms = ([fem.form(j * prob.sm[n]) for n, j in pc.items()],
                              [fem.form(j * j * prob.sm[n]) for n, j in pc.items()],
                              fem.Function(prob.c_hat.function_space), pc)
    f1, f2, jfun, pc = prob._series_forms
    mean = sum(_integrate_compiled(prob.comm, f) for f in f1) / prob.area_S
    var = max(sum(_integrate_compiled(prob.comm, f) for f in f2) / prob.area_S - mean**2, 0.0)
    interpolate_surface(prob, pc, jfun)
    own = prob.S_dofs[prob.S_dofs < jfun.function_space.dofmap.index_map.size_local]
    vals = jfun.x.array[own]
    big = np.finfo(float).max
    return {
        "cell_voltage_V": prob.cell_voltage,
        "current_density_mean_A_m2": mean,
        "current_density_min_A_m2": prob.comm.allreduce(float(vals.min()) if vals.size else big, op=MPI.MIN),
        "current_density_max_A_m2": prob.comm.allreduce(float(vals.max()) if vals.size else -big, op=MPI.MAX),
        "cv": float(np.sqrt(var) / abs(mean)) if mean else float("nan"),
    }


def plating_uniformity(prob) -> dict:
    j = fem.Function(prob.c_hat.function_space)
    pc = prob.plating_current
    interpolate_surface(prob, pc, j)
    n_owned = prob.c_hat.function_space.dofmap.index_map.size_local
    out = uniformity(prob.comm, [(pc[n], prob.sm[n]) for n in prob.surfaces], j.x.array[prob.S_dofs[prob.S_dofs < n_owned]], prob.mesh)
    if prob.i_leak:  # share of the plating that lands on top of an electronically leaky film
        leak = sum(prob._integrate(-prob.i_leak[n] * prob.sm[n]) for n in prob.i_leak)
        out["above_coating_fraction"] = leak / (out["current_density_mean_A_m2"] * out["area_m2"])
    return out


def coating_layer_drops(prob) -> list[float]:
    """Ohmic drop of every coating layer [V], from the metal outwards: thin layers share the film drop
    ψ − φ in proportion to their area-specific resistances; a resolved layer's drop is the mean φ on
    its lower interface minus that on its upper one (the layers' drops telescope to the total)."""
    Vt, tm = prob.Vt, prob.parent_tm
    phi = prob.phi_hat * Vt
    drops = []
    film = next((c for c in prob.components if c.__class__.__name__ == "ThinFilmStack"), None)
    if film is not None:
        total = prob.surface_mean(prob.psi_hat * Vt, prob.surfaces) - prob.surface_mean(phi, prob.surfaces)
        asr = [layer.area_specific_resistance for layer in film.layers]
        drops += [total * a / sum(asr) for a in asr]
    layers = tm.coating_layers()
    below = list(prob.surfaces)
    for i, layer in enumerate(layers):
        above = tm.interfaces_between("coating", "electrolyte") if i == len(layers) - 1 else \
            [n for n in tm.topology["interfaces"] if tm.sides(n) == (layer, layers[i + 1])]
        drops.append(prob.surface_mean(phi, below) - prob.surface_mean(phi, above))
        below = above
    return drops


def overpotential_breakdown(prob) -> dict:
    """Signed overpotentials [V] that sum to the cell voltage."""
    Vt = prob.Vt
    phi = prob.phi_hat * Vt
    eta_w = sum(prob._integrate(prob.eta[n] * prob.sm[n]) for n in prob.surfaces) / prob.area_S
    gamma = prob.electrolyte_surfaces
    phi_G = prob.surface_mean(phi, gamma)
    kinetic = eta_w
    if prob.lithium_counter:
        kinetic = eta_w - prob.surface_mean((0.0 - phi), ["top"])
    ln_c = ufl.ln(ufl.max_value(prob.c_hat, 1e-12))
    el = prob.el
    conc = 2 * Vt * (1 - el.transference_number) * el.thermodynamic_factor * (
        prob.surface_mean(ln_c, gamma) - prob.surface_mean(ln_c, ["top"]))
    electrolyte_total = phi_G - prob.surface_mean(phi, ["top"])
    layers = coating_layer_drops(prob)
    return {"kinetic": kinetic, "coating_ohmic": float(sum(layers)),
            "electrolyte_ohmic": electrolyte_total - conc, "concentration": conc}, layers


def summary_metrics(prob) -> dict:
    """Summary numbers: plating uniformity, overpotential breakdown (signed, V), sizes."""
    plating = plating_uniformity(prob)
    over, layers = overpotential_breakdown(prob)
    n_owned = prob.c_hat.function_space.dofmap.index_map.size_local
    c_surface = prob.surface_mean(prob.c_hat * prob.c0, prob.electrolyte_surfaces)
    cmin_local = prob.c_hat.x.array[:n_owned].min() if n_owned else np.inf
    c_min = prob.comm.allreduce(float(cmin_local), op=MPI.MIN) * prob.c0
    dofs = prob.dofs  # real unknowns (pinned dofs excluded)
    return {
        "cell_voltage_V": prob.cell_voltage,
        "plating": plating,
        "overpotentials_V": over,
        "coating_layer_drops_V": layers,
        "surface_concentration_mean_mol_m3": c_surface,
        "concentration_min_mol_m3": c_min,
        "dofs": int(dofs),
        "newton_iterations": int(prob.newton_iterations),
        "linear_iterations": int(prob.linear_iterations),
        "jacobians": int(getattr(prob, "jacobians", 0)),
    }
