"""Benchmark: Krylov iterations per Newton step under 8x mesh refinement, and the per-Newton-step
cost of a thin coating against the same uncoated geometry (same mesh), 3D, GMRES + field split
with GAMG. Targets (issue "Electrochemistry in 3D hosts"): iterations grow <= 1.5x; thin/bare
cost per Newton step <= 1.3. Writes benchmarks/results/solver_scaling.json (ratios in one run).

Usage: python benchmarks/solver_scaling.py [kind]   (kind: sinusoid (default) or fibers)
"""

import json
import sys
import time
from pathlib import Path

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

from licoat.meshes import build_mesh  # noqa: E402
from licoat.solver.electrochemistry import SolverOptions, SteadyCell  # noqa: E402
from licoat.solver.properties import Coating, Electrolyte, Fit, Kinetics, Operation  # noqa: E402

EL = Electrolyte("const", 1000.0, Fit(constant=1.0), Fit(constant=3e-10), 0.3, 1.0)


def geometry(kind, h, model):
    t = 20e-9 if model else 0.0
    base = dict(dim=3, mesh_size=h, interface_mesh_size=h / 2, coating_thickness=t, coating_model=model or "resolved",
                anode_thickness=5e-6)
    if kind == "fibers":
        return dict(base, kind="fibers", width=40e-6, depth=40e-6, electrolyte_thickness=20e-6, fiber_diameter=8e-6,
                    fiber_volume_fraction=0.2, host_thickness=30e-6, orientation="aligned", seed=1,
                    collector_thickness=4e-6)
    return dict(base, kind="sinusoid", width=20e-6, depth=20e-6, electrolyte_thickness=30e-6, amplitude=3e-6,
                wavelength=20e-6)


def _solve(comm, tm, coat, extra=None):
    cell = SteadyCell(comm, tm, EL, Kinetics(100.0, 0.5, 0.5, 0.0), Operation("galvanostatic", 50.0, None, 298.15),
                      coating=coat, length_scale=30e-6,
                      options=SolverOptions(linear_solver="iterative", petsc_options=extra or {}, reuse_jacobian=False))  # fixed linear tolerance
    t0 = time.perf_counter()
    cell.solve()
    return cell, time.perf_counter() - t0


def run(comm, kind, h, model):
    tm = build_mesh(comm, geometry(kind, h, model))
    coat = Coating("film", 20e-9, 1e-5, "thin") if model else None
    _solve(comm, tm, coat)  # the first solve pays the JIT compilation
    cell, dt = _solve(comm, tm, coat)
    result = {"newton": cell.newton_iterations, "krylov": cell.linear_iterations, "solve_s": dt}
    # marginal cost of one Newton step: exactly 2 and 4 steps (convergence test skipped), difference / 2
    forced = {}
    for n in (2, 4):
        _, forced[n] = _solve(comm, tm, coat, {"snes_convergence_test": "skip", "snes_max_it": n})
    result["seconds_per_newton_marginal"] = (forced[4] - forced[2]) / 2
    m = cell.metrics()
    result["dofs"] = m["dofs"]
    result["cells"] = tm.mesh.topology.index_map(3).size_global
    result["krylov_per_newton"] = result["krylov"] / result["newton"]
    result["seconds_per_newton"] = result["solve_s"] / result["newton"]
    return result


def main(kind="sinusoid"):
    comm = MPI.COMM_WORLD
    h0 = 2e-6 if kind == "sinusoid" else 3e-6
    out = {"kind": kind, "ranks": comm.size}
    for model in (None, "thin"):
        for h in (h0, h0 / 2):
            out[f"{model or 'bare'}_h{h:.2e}"] = run(comm, kind, h, model)
    b0, b1 = out[f"bare_h{h0:.2e}"], out[f"bare_h{h0 / 2:.2e}"]
    t0, t1 = out[f"thin_h{h0:.2e}"], out[f"thin_h{h0 / 2:.2e}"]
    out["cells_ratio_refined"] = b1["cells"] / b0["cells"]
    out["krylov_growth_bare"] = b1["krylov_per_newton"] / b0["krylov_per_newton"]
    out["krylov_growth_thin"] = t1["krylov_per_newton"] / t0["krylov_per_newton"]
    out["thin_over_bare_seconds_per_newton"] = t1["seconds_per_newton"] / b1["seconds_per_newton"]
    out["thin_over_bare_marginal_seconds_per_newton"] = (t1["seconds_per_newton_marginal"]
                                                         / b1["seconds_per_newton_marginal"])
    out["thin_over_bare_total_solve"] = t1["solve_s"] / b1["solve_s"]
    if comm.rank == 0:
        dest = Path(__file__).resolve().parent / "results" / f"solver_scaling_{kind}.json"
        dest.write_text(json.dumps(out, indent=2) + "\n")
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
