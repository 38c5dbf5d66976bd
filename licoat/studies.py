"""Studies other than a plating run: the mesh-only command and the Monroe–Newman stability study."""

from __future__ import annotations

import json
import time
from pathlib import Path

import licoat
from licoat.case import Case
from licoat.materials import load_material
from licoat.run import Staging, _write_json, log, staged, write_outputs  # noqa: F401


def mesh_to_directory(comm, case: Case, out: Path) -> dict:
    """``licoat mesh``: build the case's mesh, write mesh.xdmf (+ tags) and geometry.json (SI)."""
    from licoat import setup
    from licoat.meshes import build_mesh
    from licoat.meshes.report import geometry_report, write_mesh

    p = setup.geometry_params(case)
    t0 = time.perf_counter()
    tm = setup.mesh(comm, case)[0] if case.geometry.refine_levels else build_mesh(comm, p)
    mesh_s = time.perf_counter() - t0
    report = geometry_report(tm, p, mesh_s)
    stage = Staging(comm, Path(out))
    write_mesh(tm, stage.tmp, report)
    if comm.rank == 0:  # geometry.json: the report's keys at top level, plus the physical groups
        doc = dict(report)
        doc["groups"] = {k: list(v) for k, v in tm.groups.items()}
        doc["version"] = licoat.__version__
        (stage.tmp / "geometry.json").write_text(json.dumps(doc, indent=2, default=float) + "\n")
    stage.commit()
    return report


def stability_params(case: Case) -> dict:
    """Li (below) and the coating (above) from the materials database with case overrides (SI)."""
    li = load_material(case.anode.material)
    layers = case.coating.layer_sections()
    if case.coating.stack is None and case.coating.material.lower() == "none":
        raise ValueError("study.kind = 'stability' needs a coating.material (the solid above Li)")
    if len(layers) > 2:
        raise ValueError(f"coating.stack has {len(layers)} layers: the stability study supports one layer or a "
                         "bilayer (two [[coating.stack]] tables)")
    inner = layers[0] if layers else case.coating
    solid = load_material(inner.material)

    def get(section, material, name):
        extra = section.model_extra or {}
        return extra[name] if name in extra else material.value(name)

    s = case.study
    half_space = s.half_space or not layers
    if half_space and len(layers) > 1:
        raise ValueError("study.half_space = true takes one coating layer, not a [[coating.stack]] bilayer")
    out = {
        "G_e": get(case.anode, li, "shear_modulus"),
        "nu_e": get(case.anode, li, "poisson_ratio"),
        "V_M": get(case.anode, li, "molar_volume"),
        "gamma": get(case.anode, li, "surface_tension"),
        "G_s": get(inner, solid, "shear_modulus"),
        "nu_s": get(inner, solid, "poisson_ratio"),
        "V_plus": get(inner, solid, "li_partial_molar_volume"),  # Li+ enters the layer on Li
        "wavelength": s.wavelength,
        "coating_thickness": None if half_space else inner.thickness,
        "cells_per_wavelength": s.cells_per_wavelength,
    }
    if len(layers) == 2:
        outer = load_material(layers[1].material)
        out["outer_layer"] = {"G": get(layers[1], outer, "shear_modulus"), "nu": get(layers[1], outer, "poisson_ratio"),
                              "thickness": layers[1].thickness}
    return out


def run_stability(comm, case: Case, out: Path, case_path: str | None = None, verbose: bool = True) -> dict:
    """Linear stability of a perturbed Li|coating interface (mechanics.md); writes summary.json."""
    from licoat.solver.stability import stability_summary

    if case.study.wavelength is None:
        raise ValueError("study.wavelength is required for study.kind = 'stability' (e.g. '1 um')")
    with staged(comm, Path(out), verbose) as stage:
        t0 = time.perf_counter()
        params = stability_params(case)
        block = stability_summary(comm, params)
        solve_s = time.perf_counter() - t0
        if case.study.amplitude is not None:
            block["amplitude_m"] = case.study.amplitude
            block["delta_mu_peak_over_F_V"] = block["chi_J_per_mol_m"] * case.study.amplitude / 96485.33212
        warnings = []
        if block["critical_shear_modulus_ratio"] is None:
            warnings.append("no sign change of the elastic chi for G_s/G_e in [1e-3, 1e3]: "
                            f"regime '{block['critical_ratio_regime']}'")
        summary = {
            "version": licoat.__version__, "ranks": comm.size, "dofs": block["dofs"],
            "study": "stability", "stability": block,
            "timing": {"mesh_s": 0.0, "setup_s": 0.0, "solve_s": solve_s, "output_s": 0.0,
                       "newton_iterations": 0, "linear_iterations": 0},
            "warnings": warnings,
        }
        log.info("stability: chi = %.5g J/(mol m) (%s), critical G_s/G_e = %s", block["chi_J_per_mol_m"],
                 "stable" if block["stable"] else "unstable", block["critical_shear_modulus_ratio"])
        write_outputs(comm, case, stage.tmp, summary, case_path)
        _write_json(comm, stage.tmp / "summary.json", summary)
    return summary
