"""Current focusing at coating defects, from a solved cell's public API (summary.json ``defects``).

With S the plating surfaces, D ⊂ S the part under a defect (facets whose midpoint lies over a
pinhole or crack of the layout, meshes.defects.indicator), j the plating current density [A/m²]
and i_app the applied current density per footprint area [A/m²]:

* ``current_focusing_factor`` = max_F (∫_F j dS / |F|) / i_app, the largest facet-mean current density over
  the plating facets F (nodal values at a defect edge would mix both sides);
* ``defect_current_fraction`` = ∫_D j dS / ∫_S j dS;
* ``defect_area_fraction`` = |D| / |S|;
* ``effective_asr_ohm_m2`` = (V − V_ref) / (−i_app) [Ω m²]: the area-specific resistance a uniform
  film would need to cost the same cell voltage, V_ref being the same cell with the film replaced by
  electrolyte (thin film: no film; resolved: the film's conductivity set to the electrolyte's).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh

from licoat.meshes.defects import indicator
from licoat.solver.metrics import integrate


def defect_indicator(cell, lay: dict) -> fem.Function:
    """DG0 function on ``cell.tm``: 1 on the cells whose plating-surface facet lies over a defect."""
    tm = cell.tm
    msh = tm.mesh
    d = msh.topology.dim
    chi = fem.Function(fem.functionspace(msh, ("DG", 0)), name="defect")
    msh.topology.create_connectivity(d - 1, d)
    f2c = msh.topology.connectivity(d - 1, d)
    facets = tm.facets(*cell.surfaces)
    if facets.size:
        hit = indicator(lay, dmesh.compute_midpoints(msh, d - 1, facets), d)
        for f in facets[hit]:
            chi.x.array[f2c.links(f)] = 1.0
    chi.x.scatter_forward()
    return chi


def plating_density(cell, kinetics: dict | None = None) -> dict:
    """Plating current density per surface [A/m^2, plating positive]: ``cell.plating_current``, or, with
    ``kinetics`` (surface -> Kinetics, for a thin film), the Li|film reaction current -i_n(eta) from
    ``cell.eta``. With a thin film whose ASR jumps at a defect edge the film current (psi - phi)/ASR of a
    continuous psi only balances the reaction current weakly, and it oscillates at the edge; the
    reaction current is smooth."""
    import ufl

    if not kinetics:
        return dict(cell.plating_current)
    f = 1.0 / cell.Vt
    where = lambda c, a, b: ufl.conditional(c, a, b)  # noqa: E731
    return {n: -kinetics[n].activation(cell.eta[n], ufl.exp) * kinetics[n].current(cell.eta[n], f, ufl.exp, where)
            for n in cell.surfaces}


def facet_max(cell, j: dict | None = None) -> float:
    """Largest facet-mean plating current density over the plating surfaces [A/m^2]: max over facets F of
    ∫_F j dS / |F| (robust where nodal values mix both sides of a defect edge)."""
    import ufl
    from mpi4py import MPI

    V = fem.functionspace(cell.tm.mesh, ("DG", 0))
    v = ufl.TestFunction(V)
    j = j or cell.plating_current
    num = sum(j[n] * v * cell.sm[n] for n in cell.surfaces)
    den = sum(v * cell.sm[n] for n in cell.surfaces)
    b_num, b_den = fem.assemble_vector(fem.form(num)), fem.assemble_vector(fem.form(den))
    n_own = V.dofmap.index_map.size_local
    a, w = b_num.array[:n_own], b_den.array[:n_own]
    local = float(np.max(a[w > 0] / w[w > 0])) if np.any(w > 0) else -np.inf
    return cell.comm.allreduce(local, op=MPI.MAX)


def reference_coating(coating, kappa_electrolyte: float):
    """The film replaced by electrolyte: None for thin films (the surface is then bare), the resolved
    layers with the electrolyte's conductivity otherwise."""
    if coating is None:
        return None
    layers = getattr(coating, "layers", (coating,))
    if all(layer.model == "thin" for layer in layers):
        return None
    out = tuple(replace(layer, ionic_conductivity=kappa_electrolyte, asr_field=None) for layer in layers)
    return type(coating)(out) if hasattr(coating, "layers") else out[0]


def defect_metrics(cell, lay: dict, applied_current_density: float, reference_voltage: float | None = None,
                   kinetics: dict | None = None) -> dict:
    """The ``defects`` block of summary.json (see the module docstring); ``kinetics`` (surface -> Kinetics)
    for a thin film (see :func:`plating_density`)."""
    comm = cell.comm
    j = plating_density(cell, kinetics)
    current_density_max = facet_max(cell, j)
    chi = defect_indicator(cell, lay)
    j_all = sum(integrate(comm, j[n] * cell.sm[n]) for n in cell.surfaces)
    j_def = sum(integrate(comm, chi * j[n] * cell.sm[n]) for n in cell.surfaces)
    a_def = sum(integrate(comm, chi * cell.sm[n]) for n in cell.surfaces)
    i_app = float(applied_current_density)
    out = {
        "kind": lay["kind"],
        "count": len(lay["centres"]),
        "current_focusing_factor": float(current_density_max / i_app) if i_app else float("nan"),
        "defect_current_fraction": float(j_def / j_all) if j_all else float("nan"),
        "defect_area_fraction": float(a_def / cell.area_S),
        "layout_area_fraction": float(lay["area_fraction"]),
        "effective_asr_ohm_m2": None,
    }
    if reference_voltage is not None and i_app:
        out["effective_asr_ohm_m2"] = float((cell.cell_voltage - reference_voltage) / (-i_app))
    return out


def film_carrying(asr_film: float, kappa_electrolyte: float, thickness: float, current: float,
                  limit: float) -> dict:
    """What would let a dense film of ``asr_film`` [Ω m²] carry ``current`` [A/m²] within ``limit`` [V]:
    the conductivity t i / limit [S/m], or — for through-pinholes of electrolyte with a uniform film around
    them negligible — the defect area fraction f with t/(kappa_e f) i = limit (f = t i / (kappa_e limit))."""
    kappa_needed = thickness * abs(current) / limit
    frac = thickness * abs(current) / (kappa_electrolyte * limit)
    return {"needed_conductivity_S_m": kappa_needed, "needed_defect_area_fraction": float(np.clip(frac, 0, 1))}


def check_film(case, coat, kappa_electrolyte: float, surface_current: float) -> list[str]:
    """Impossible films: a dense layer (no ``[coating.defects]``) whose ohmic drop i t/kappa_c at the
    plating surface's mean current density ``surface_current`` [A/m²] exceeds ``coating.max_film_voltage``
    stops the run with a ValueError (exit 2) naming the layer, its ASR, the current and what would carry
    it; with ``coating.allow_impossible_film = true`` it returns the warnings instead."""
    c = case.coating
    if coat is None or c.defects is not None or case.operation.mode != "galvanostatic" or c.max_film_voltage is None:
        return []
    out = []
    layers = getattr(coat, "layers", (coat,))
    i = abs(surface_current)
    for k, layer in enumerate(layers):
        asr = layer.area_specific_resistance
        drop = i * asr
        if drop <= c.max_film_voltage:
            continue
        key = "coating" if c.stack is None else f"coating.stack[{k}]"
        need = film_carrying(asr, kappa_electrolyte, layer.thickness, i, c.max_film_voltage)
        a = max(layer.thickness, 10e-9)  # pinholes as wide as the film is thick
        r_hole = 1.0 / (4 * kappa_electrolyte * a) + layer.thickness / (kappa_electrolyte * np.pi * a * a)
        n = i * r_hole / c.max_film_voltage  # holes per m^2: access + hole resistance in parallel
        msg = (f"{key}: the dense {layer.name} layer ({layer.thickness:.3g} m at {layer.ionic_conductivity:.3g} S/m) has "
               f"an area-specific resistance of {asr:.3g} Ohm m^2 and cannot carry {i:.3g} A/m^2: it needs {drop:.3g} V "
               f"(coating.max_film_voltage = {c.max_film_voltage:.3g} V). It would carry it with an effective "
               f"conductivity >= {need['needed_conductivity_S_m']:.3g} S/m, or through electrolyte-filled pinholes of "
               f"radius {a:.3g} m at >= {n:.3g} per m^2 ({n * 1e-4:.3g} per cm^2, ohmic estimate); describe them with "
               "[coating.defects], or set coating.allow_impossible_film = true to run the dense film anyway")
        if not c.allow_impossible_film:
            raise ValueError(msg)
        out.append(msg)
    return out


def defects_block(case, cell, electrolyte, coat, applied: float, kinetics: dict, reference=None) -> dict:
    """summary.json ``defects`` for a solved ``cell``; ``reference(coating)`` builds the same cell with
    another coating (the film replaced by electrolyte) for ``effective_asr_ohm_m2``."""
    from licoat import setup

    lay = setup.defect_layout(case)
    v_ref = None
    if reference is not None:
        kappa_e = electrolyte.conductivity.at(electrolyte.concentration)
        v_ref = reference(reference_coating(coat, kappa_e)).solve().cell_voltage
    thin = coat is not None and all(layer.model == "thin" for layer in getattr(coat, "layers", (coat,)))
    return defect_metrics(cell, lay, applied, v_ref, kinetics if thin else None)
