"""One benchmark point for ``benchmarks/run_all.py``: run a case on the ranks this runs on, then the P1
Poisson CG + GAMG reference at the same number of DOFs, in the same process.

Usage: [mpiexec -n N] python benchmarks/bench_case.py CASE.toml OUT.json CACHE_DIR [--set key=value ...]

Measured (the slowest rank's value where it is a time):

* ``timing`` of summary.json (``mesh_s``, ``mesh_io_s``, ``setup_s``, ``solve_s``, ...); a run that
  missed the mesh cache has meshed (``meshing_s`` = ``mesh_s - mesh_io_s``); a hit only read it;
* ``mesh_read_s``: reading the cache entry again, collectively (:func:`licoat.meshes.cache.read_entry`);
* per Newton step, from the PETSc log events of the run (``PETSc.Log``): ``jacobian_s``
  (SNESJacobianEval: Jacobian assembly), ``residual_s`` (SNESFunctionEval), ``linear_solve_s``
  (SNESSolve less those two: KSPSolve + PCSetUp + line search), ``newton_step_s`` (SNESSolve / Newton steps) and Krylov
  iterations per Newton step (``timing.linear_iterations / timing.newton_iterations``); where the
  summary has ``timing.assembly_s`` / ``timing.linear_solve_s`` they are recorded too;
* ``peak_rss_mib``: the largest peak resident set size of any rank (getrusage), the Poisson
  reference included;
* ``poisson``: -lap u = 1 on a unit cube of tetrahedra with ~the same DOFs, u = 0 on the boundary,
  P1, CG + GAMG (rtol 1e-8): assembly and solve times (the fastest of 3), iterations.
"""

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

PETSc.Log.begin()

EVENTS = {"SNESSolve": "snes_s", "SNESJacobianEval": "jacobian_s", "SNESFunctionEval": "residual_s",
          "KSPSolve": "ksp_s", "PCSetUp": "pc_setup_s"}



def per_newton(ev: dict, timing: dict) -> dict:
    """Per-Newton-step figures from the PETSc log events ``ev`` and the summary's ``timing``. The
    SNESJacobianEval event also counts the callbacks that keep a reused Jacobian (and return at once):
    one assembly is the event time over ``timing.jacobians``, the Jacobians actually assembled."""
    newton = max(int(timing.get("newton_iterations", 0)), 1)
    assembled = max(int(timing.get("jacobians", ev["jacobian_count"])), 1)
    return {"newton_iterations": newton, "krylov_per_newton": timing.get("linear_iterations", 0) / newton,
            "jacobian_per_newton_s": ev["jacobian_s"] / assembled,  # one Jacobian assembly
            "jacobians_per_newton": assembled / newton,
            "residual_per_eval_s": ev["residual_s"] / max(ev["residual_count"], 1),
            # SNESSolve less the Jacobian and residual evaluations: the linear solves with their
            # preconditioner set-up (PCSetUp is not nested in KSPSolve here) and the line search
            "linear_solve_per_newton_s": (ev["snes_s"] - ev["jacobian_s"] - ev["residual_s"]) / newton,
            "newton_step_s": ev["snes_s"] / newton}


def ratios(row: dict) -> dict:
    """Newton step over the Poisson reference; one Jacobian over one linear solve; the mesh read's
    share of a run that reads its mesh from the cache: the run's wall time with its own mesh step
    (meshing, or a first read on a new rank count) replaced by the read (issue 12's targets)."""
    out = {"newton_step_over_poisson": row["newton_step_s"] / row["poisson"]["total_s"],
           "jacobian_over_linear_solve": row["jacobian_per_newton_s"] / max(row["linear_solve_per_newton_s"], 1e-300)}
    if row.get("mesh_read_s"):
        out["mesh_read_share"] = row["mesh_read_s"] / (row["wall_s"] - row["timing"]["mesh_s"] + row["mesh_read_s"])
    return out

def event_times(comm) -> dict:
    out = {}
    for name, key in EVENTS.items():
        info = PETSc.Log.Event(name).getPerfInfo()
        out[key] = comm.allreduce(float(info["time"]), op=MPI.MAX)
        out[key[:-2] + "_count"] = comm.allreduce(int(info["count"]), op=MPI.MAX)
    return out


def poisson_reference(comm, dofs: int, repeats: int = 3) -> dict:
    """P1 Poisson, CG + GAMG, on a unit cube with (n + 1)^3 ~ dofs vertices: assembly and solve, the
    fastest of ``repeats`` (a sub-second reference is otherwise at the mercy of the shared machine:
    0.30-0.46 s for the same 29 k-DOF solve in one session)."""
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    n = max(2, int(round(dofs ** (1 / 3))) - 1)
    mesh = dolfinx.mesh.create_unit_cube(comm, n, n, n)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    L = dolfinx.fem.form(dolfinx.fem.Constant(mesh, 1.0) * v * ufl.dx)
    mesh.topology.create_connectivity(2, 3)
    facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 2, facets), V)
    best = None
    for _ in range(repeats):
        comm.barrier()
        t0 = time.perf_counter()
        A = dolfinx.fem.petsc.assemble_matrix(a, bcs=[bc])
        A.assemble()
        b = dolfinx.fem.petsc.assemble_vector(L)
        dolfinx.fem.petsc.apply_lifting(b, [a], bcs=[[bc]])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, [bc])
        assembly_s = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        ksp = PETSc.KSP().create(comm)
        ksp.setOperators(A)
        ksp.setType("cg")
        ksp.getPC().setType("gamg")
        ksp.setTolerances(rtol=1e-8)
        x = b.duplicate()
        comm.barrier()
        t0 = time.perf_counter()
        ksp.solve(b, x)
        solve_s = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        out = {"dofs": V.dofmap.index_map.size_global, "assembly_s": assembly_s, "solve_s": solve_s,
               "total_s": assembly_s + solve_s, "iterations": ksp.getIterationNumber(),
               "converged": ksp.getConvergedReason() > 0, "repeats": repeats}
        for obj in (ksp, A, b, x):
            obj.destroy()
        if best is None or out["total_s"] < best["total_s"]:
            best = out
    return best


def main(argv):
    from licoat.case import load_case
    from licoat.meshes.cache import cache_directory, cache_key, read_entry
    from licoat.run import run_case
    from licoat.setup import geometry_params

    case_path, out_json, cache_dir = argv[:3]
    overrides = [a for a in argv[3:] if a != "--set"]
    import os

    os.environ["LICOAT_CACHE_DIR"] = cache_dir
    comm = MPI.COMM_WORLD
    case, _ = load_case(case_path, overrides)
    tmp = comm.bcast(tempfile.mkdtemp(prefix="licoat-bench-") if comm.rank == 0 else None, root=0)
    comm.barrier()
    t0 = time.perf_counter()
    s = run_case(comm, case, Path(tmp) / "run", case_path, verbose=False)
    wall_s = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    ev = event_times(comm)
    timing = dict(s["timing"])
    newton = max(int(timing.get("newton_iterations", 0)), 1)
    row = {"case": case_path, "overrides": overrides, "ranks": comm.size, "dofs": s["dofs"], "wall_s": wall_s,
           "timing": timing, "mesh_from_cache": bool(s.get("mesh_from_cache")), "events": ev,
           # the summary's scalar results (to check that two codes solve the same problem)
           "metrics": {k: v for k, v in s.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}}
    row.update(per_newton(ev, timing))
    if not row["mesh_from_cache"]:
        row["meshing_s"] = timing.get("mesh_s", 0.0) - timing.get("mesh_io_s", 0.0)
    for k in ("assembly_s", "linear_solve_s"):
        if k in timing:
            row[f"summary_{k}_per_newton"] = timing[k] / newton
    entry = cache_directory(cache_dir) / cache_key(geometry_params(case))
    if comm.bcast(entry.exists() if comm.rank == 0 else None, root=0):
        comm.barrier()
        t0 = time.perf_counter()
        read_entry(comm, entry)
        row["mesh_read_s"] = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    row["poisson"] = poisson_reference(comm, int(s["dofs"]))
    row.update(ratios(row))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    row["peak_rss_mib"] = comm.allreduce(rss, op=MPI.MAX)
    if comm.rank == 0:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        Path(out_json).write_text(json.dumps(row, indent=2, default=float) + "\n")
    return row


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1:])
