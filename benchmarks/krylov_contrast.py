"""Benchmark (issue 12 targets): Krylov iterations per Newton step (GMRES + field split, GAMG per PDE block,
the production path) as the mesh is refined 8x in cells, and between a resolved coating as conductive as the
electrolyte and one 1e8 times less conductive, on the same meshes. Targets: <= 1.3x per 8x refinement,
<= 2x between the conductivity contrasts 1 and 1e8.

Geometry: a 3D planar Li anode under a resolved 0.5 um coating, 10 x 10 um, 10 um of electrolyte above,
constant properties (kappa 1 S/m, D 3e-10 m^2/s, t+ 0.3), Butler-Volmer i0 = 10 A/m^2, galvanostatic
1e-3 A/m^2 (small so that the 1e8-contrast film's ohmic drop stays physical: the linear algebra, not the
physics, is what is measured). The Gmsh mesh (h = 1 um, 0.5 um at the surface) and its uniform refinement
(meshes/refine.py, exactly 8x the cells, every interface kept: they are flat).

Usage: [mpiexec -n N] python benchmarks/krylov_contrast.py   (writes benchmarks/results/krylov_contrast.json)
"""

import json
import os
from pathlib import Path

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

from licoat.meshes import build_mesh  # noqa: E402
from licoat.meshes.refine import refine_snapped  # noqa: E402
from licoat.solver.electrochemistry import SolverOptions, SteadyCell  # noqa: E402
from licoat.solver.properties import Coating, Electrolyte, Fit, Kinetics, Operation  # noqa: E402

KAPPA = 1.0
EL = Electrolyte("const", 1000.0, Fit(constant=KAPPA), Fit(constant=3e-10), 0.3, 1.0)
T_COAT = 0.5e-6


def solve(comm, levels, contrast):
    p = dict(kind="planar", dim=3, width=10e-6, depth=10e-6, electrolyte_thickness=10e-6, mesh_size=1e-6,
             interface_mesh_size=0.5e-6, anode_thickness=2e-6, coating_thickness=T_COAT, coating_model="resolved")
    tm = refine_snapped(build_mesh(comm, p), p, levels) if levels else build_mesh(comm, p)
    coat = Coating("film", T_COAT, KAPPA / contrast, "resolved")
    # full Newton: every linear solve to the fixed tolerance, so that the counts measure the preconditioner
    # (the chord iteration's Eisenstat-Walker forcing would vary it)
    cell = SteadyCell(comm, tm, EL, Kinetics(10.0, 0.5, 0.5, 0.0), Operation("galvanostatic", 1e-3, None, 298.15),
                      coating=coat, length_scale=10e-6,
                      options=SolverOptions(linear_solver="iterative", reuse_jacobian=False))
    cell.solve()
    m = cell.metrics()
    return {"refine_levels": levels, "contrast": contrast, "dofs": m["dofs"],
            "cells": tm.mesh.topology.index_map(3).size_global, "newton": cell.newton_iterations,
            "krylov": cell.linear_iterations, "krylov_per_newton": cell.linear_iterations / max(cell.newton_iterations, 1),
            "cell_voltage_V": m["cell_voltage_V"]}


def main():
    comm = MPI.COMM_WORLD
    rows = {}
    for contrast in (1.0, 1e8):
        for levels in (0, 1):
            rows[f"contrast{contrast:.0e}_refined{levels}"] = solve(comm, levels, contrast)
    k = {key: r["krylov_per_newton"] for key, r in rows.items()}
    c1c, c1f = rows[f"contrast{1.0:.0e}_refined0"], rows[f"contrast{1.0:.0e}_refined1"]
    c8c, c8f = rows[f"contrast{1e8:.0e}_refined0"], rows[f"contrast{1e8:.0e}_refined1"]
    out = {"what": __doc__.split("\n\n")[0], "ranks": comm.size, "load_average": list(os.getloadavg()), "rows": rows,
           "cells_ratio_refined": c1f["cells"] / c1c["cells"],
           "krylov_growth_refinement_contrast1": c1f["krylov_per_newton"] / c1c["krylov_per_newton"],
           "krylov_growth_refinement_contrast1e8": c8f["krylov_per_newton"] / c8c["krylov_per_newton"],
           "krylov_ratio_contrast1e8_over_1_coarse": c8c["krylov_per_newton"] / c1c["krylov_per_newton"],
           "krylov_ratio_contrast1e8_over_1_fine": c8f["krylov_per_newton"] / c1f["krylov_per_newton"],
           "targets": {"refinement_growth_max": 1.3, "contrast_ratio_max": 2.0}}
    if comm.rank == 0:
        dest = Path(__file__).resolve().parent / "results" / "krylov_contrast.json"
        dest.write_text(json.dumps(out, indent=2) + "\n")
        print(json.dumps({kk: v for kk, v in out.items() if kk != "rows"}, indent=2), k)


if __name__ == "__main__":
    main()
