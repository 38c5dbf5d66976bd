"""Benchmark (issue 12, item 1): C compiler options of the JIT-compiled forms vs Jacobian assembly time.

A 3D planar cell (bare Li, the default LiPF6 electrolyte with kappa(c), D(c), galvanostatic, 10 x 10 x 20 um at 0.5 um by
default): the Newton Jacobian blocks J_ij = dF_i/du_j of the cell's residual forms are compiled
with each candidate ``cffi_extra_compile_args`` and assembled (``dolfinx.fem.petsc.assemble_matrix``,
kind "mpi", the cell's Dirichlet conditions; into a matrix allocated once) in REPEATS interleaved
rounds at the initial state; the fastest assembly counts. The residual vector assembly is timed the same way. Writes benchmarks/results/jit_options.json
(``licoat.solver.jit`` quotes it); never asserts.

Usage: [mpiexec -n N] python benchmarks/jit_options.py [mesh_size_um]
"""

import json
import sys
import tempfile
import time
from pathlib import Path

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

import dolfinx.fem.petsc  # noqa: E402
from dolfinx import fem  # noqa: E402
from dolfinx.fem.forms import derivative_block  # noqa: E402

from licoat import setup  # noqa: E402
from licoat.case import validate  # noqa: E402
from licoat.meshes import build_mesh  # noqa: E402
from licoat.solver.electrochemistry import SteadyCell  # noqa: E402
from licoat.solver.jit import cpu_tag  # noqa: E402
from licoat.solver.properties import Kinetics, Operation  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5
CANDIDATES = {
    "default (-O2 -g0)": ["-O2", "-g0"],
    "-O3": ["-O3", "-g0"],
    "-O2 -march=native": ["-O2", "-g0", "-march=native"],
    "-O3 -march=native": ["-O3", "-g0", "-march=native"],
}


def main(h_um=0.5):
    comm = MPI.COMM_WORLD
    p = dict(kind="planar", dim=3, width=10e-6, depth=10e-6, electrolyte_thickness=20e-6, mesh_size=h_um * 1e-6,
             anode_thickness=2 * h_um * 1e-6, coating_thickness=0.0, coating_model="resolved")
    tm = build_mesh(comm, p)
    # the default electrolyte (1 M LiPF6 in EC:EMC, Nyman et al. 2008 fits of kappa(c), D(c))
    elyte = setup.electrolyte(validate({}))
    cell = SteadyCell(comm, tm, elyte, Kinetics(10.0, 0.5, 0.5, 0.5), Operation("galvanostatic", 20.0, None, 298.15,
                                                                               "reservoir"))
    F = cell.forms
    J = derivative_block(F, cell.unknowns)
    out = {"mesh_size_m": p["mesh_size"], "ranks": comm.size, "cells": tm.mesh.topology.index_map(3).size_global,
           "dofs": sum(u.function_space.dofmap.index_map.size_global * u.function_space.dofmap.index_map_bs
                       for u in cell.unknowns), "cpu": cpu_tag(), "repeats": REPEATS, "results": {}}
    cache = comm.bcast(tempfile.mkdtemp(prefix="licoat-jit-") if comm.rank == 0 else None, root=0)
    compiled = {}
    for name, args in CANDIDATES.items():
        jit = {"cffi_extra_compile_args": args, "cache_dir": cache}
        comm.barrier()
        t0 = time.perf_counter()
        J_form = fem.form(J, jit_options=jit)
        compiled[name] = (J_form, fem.form(F, jit_options=jit), dolfinx.fem.petsc.create_matrix(J_form, kind="mpi"))
        out["results"][name] = {"args": args, "compile_s": comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)}
    times = {name: ([], []) for name in CANDIDATES}
    for _ in range(REPEATS):  # interleaved rounds: load changes on a shared machine hit all candidates alike
        for name, (J_form, F_form, A) in compiled.items():
            ta, tr = times[name]
            A.zeroEntries()
            comm.barrier()
            t0 = time.perf_counter()
            dolfinx.fem.petsc.assemble_matrix(A, J_form, bcs=cell.bcs)
            A.assemble()
            ta.append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
            out["results"][name]["jacobian_norm"] = A.norm()
            comm.barrier()
            t0 = time.perf_counter()
            b = dolfinx.fem.petsc.assemble_vector(F_form, kind="mpi")
            b.ghostUpdate()
            tr.append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
            b.destroy()
    for name, (ta, tr) in times.items():
        r = out["results"][name]
        r.update(jacobian_s=min(ta), residual_s=min(tr), jacobian_all_s=ta)
        if comm.rank == 0:
            print(f"{name:24s} compile {r['compile_s']:6.1f} s  Jacobian {min(ta):.3f} s  residual {min(tr):.3f} s",
                  flush=True)
    ref = out["results"]["default (-O2 -g0)"]
    for r in out["results"].values():
        r["jacobian_over_default"] = r["jacobian_s"] / ref["jacobian_s"]
        r["residual_over_default"] = r["residual_s"] / ref["residual_s"]
        r["same_matrix_rel"] = abs(r["jacobian_norm"] - ref["jacobian_norm"]) / ref["jacobian_norm"]
    if comm.rank == 0:
        import shutil

        shutil.rmtree(cache, ignore_errors=True)
        dest = ROOT / "benchmarks" / "results" / "jit_options.json"
        doc = json.loads(dest.read_text()) if dest.exists() else {}
        doc[f"{comm.size} rank(s), h = {h_um} um"] = out
        dest.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.5)
