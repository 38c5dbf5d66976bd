"""Benchmark (issue 12, item 3): a >= 1 M-cell fibre host by refining a coarse Gmsh mesh in parallel
(meshes/refine.py: ``refine_snapped``) against meshing it directly with Gmsh.

Geometry: cases/fibers.toml (16 x 16 um, random-in-plane fibres of 2 um at 25 %, seed 1, thin
5 nm TiO2). Refined: Gmsh at (mesh_size, interface_mesh_size) = (1.2, 0.3) um, one uniform
refinement (8x cells) with the fibre-surface vertices snapped onto the cylinders, on the ranks this
runs on. Direct: Gmsh at (0.6, 0.15) um (the refined sizes), one rank. Reports cells, wall times,
minimum quality, porosity and specific surface area (meshes/report.py) and their relative change.
``--solve``: also solves the case on both meshes at half the resolution (coarse 2 / 0.5 um refined vs
direct 1 / 0.25 um) and reports the change of the summary metrics (cv, max/mean, cell voltage).
``--no-direct``: skip the direct fine mesh (it takes minutes). ``--levels L`` (default 1): Gmsh at
2^(L-1) x (1.2, 0.3) um and L refinements, the same final sizes (L = 2: ~2 M cells from a ~30 k-cell
Gmsh mesh, what ``geometry.refine_levels = 2`` does in a run).

Writes benchmarks/results/refine_fibers.json (key: ranks); never asserts.
Usage: [mpiexec -n N] python benchmarks/refine_fibers.py [--no-direct] [--solve]
"""

import json
import sys
import time
from pathlib import Path

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

from licoat.meshes import build_mesh  # noqa: E402
from licoat.meshes.refine import refine_snapped  # noqa: E402
from licoat.meshes.report import geometry_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("cells", "min_quality", "porosity", "specific_surface_area_1_m")


def params(h_um, hf_um):
    return dict(kind="fibers", dim=3, width=16e-6, depth=16e-6, fiber_diameter=2e-6, fiber_volume_fraction=0.25,
                host_thickness=10e-6, orientation="random-in-plane", seed=1, electrolyte_thickness=20e-6,
                collector_thickness=2e-6, mesh_size=h_um * 1e-6, interface_mesh_size=hf_um * 1e-6,
                coating_thickness=5e-9, coating_model="thin")


def timed(comm, f):
    comm.barrier()
    t0 = time.perf_counter()
    r = f()
    comm.barrier()
    return r, comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)


def refined(comm, h, hf, levels=1):
    p = params(h, hf)
    coarse, gmsh_s = timed(comm, lambda: build_mesh(comm, p))
    tm, refine_s = timed(comm, lambda: refine_snapped(coarse, p, levels=levels))
    rep = geometry_report(tm, p)
    return tm, {"gmsh_s": gmsh_s, "refine_snap_s": refine_s, "total_s": gmsh_s + refine_s,
                "coarse_cells": coarse.mesh.topology.index_map(3).size_global,
                **{k: rep[k] for k in KEYS}}


def direct(comm, h, hf):
    p = params(h, hf)
    tm, mesh_s = timed(comm, lambda: build_mesh(comm, p))
    rep = geometry_report(tm, p)
    return tm, {"total_s": mesh_s, **{k: rep[k] for k in KEYS}}


def compare(a, b):
    return {k: (a[k] - b[k]) / b[k] for k in ("porosity", "specific_surface_area_1_m")}


def solve_metrics(comm, tm):
    from licoat.case import load_case
    from licoat.run import solve_steady

    case, _ = load_case(ROOT / "cases" / "fibers.toml", ["output.fields=false"])
    s = solve_steady(comm, case, tm)
    return {"dofs": s["dofs"], "cell_voltage_V": s["cell_voltage_V"], "cv": s["plating"]["cv"],
            "max_over_mean": s["plating"]["max_over_mean"]}


def main(argv):
    comm = MPI.COMM_WORLD
    out = {"ranks": comm.size, "geometry": "cases/fibers.toml (random-in-plane, seed 1, thin 5 nm TiO2)"}
    levels = int(argv[argv.index("--levels") + 1]) if "--levels" in argv else 1
    f = 2 ** (levels - 1)
    _, out["refined"] = refined(comm, 1.2 * f, 0.3 * f, levels)
    out["refined"]["sizes_um"] = [1.2 * f, 0.3 * f, f"x 1/{2 ** levels} by {levels} refinement(s)"]
    if "--no-direct" not in argv:
        _, out["direct"] = direct(comm if comm.size == 1 else MPI.COMM_SELF, 0.6, 0.15) if comm.rank == 0 or comm.size == 1 \
            else (None, None)
        out["direct"] = comm.bcast(out["direct"], root=0)
        out["direct"]["sizes_um"] = [0.6, 0.15]
        out["relative_change"] = compare(out["refined"], out["direct"])
        out["speedup"] = out["direct"]["total_s"] / out["refined"]["total_s"]
    if "--solve" in argv:
        tr, _ = refined(comm, 2.0, 0.5)
        td, _ = direct(comm, 1.0, 0.25)
        a, b = solve_metrics(comm, tr), solve_metrics(comm, td)
        out["solve"] = {"refined": a, "direct": b,
                        "relative_change": {k: (a[k] - b[k]) / abs(b[k]) for k in ("cell_voltage_V", "cv", "max_over_mean")}}
    if comm.rank == 0:
        dest = ROOT / "benchmarks" / "results" / "refine_fibers.json"
        doc = json.loads(dest.read_text()) if dest.exists() else {}
        stored = doc.get(f"{comm.size} rank(s)", {}).get("direct")
        if "direct" not in out and stored:  # --no-direct: compare with the direct mesh of an earlier run
            out["relative_change_vs_stored_direct"] = compare(out["refined"], stored)
        doc[f"{comm.size} rank(s)" + (f", {levels} levels" if levels != 1 else "")] = out
        dest.write_text(json.dumps(doc, indent=2, default=float) + "\n")
        print(json.dumps(out, indent=2, default=float), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
