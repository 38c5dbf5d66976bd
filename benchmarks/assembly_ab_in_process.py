"""In-process A/B of the Newton system's assembly (issue 12, item 1): the same cell, the same state,
assembled as one block per field pair (``cell.forms`` in ``cell.unknowns``: the pre-vector layout,
with DOLFINx's residual lifting) and as the vector unknown the solver uses now
(``cell.solver_forms`` in ``cell.solver_unknowns``: one kernel for every (c, φ) block pair, residual
without the identically zero lifting). Robust on a loaded machine: REPEATS interleaved rounds, the
fastest wall time and the process CPU time of each. Also checks that both give the same Newton
system (residual norm, Jacobian Frobenius norm). Cases: a 3D planar bare-Li cell (block size 2) and
the same cell under a thin film (ψ̂ its own block). Writes benchmarks/results/assembly_ab_in_process.json.

Usage: [mpiexec -n N] python benchmarks/assembly_ab_in_process.py [mesh_size_um ...]
"""

import json
import sys
import time
from pathlib import Path

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

import dolfinx.fem.petsc as fp  # noqa: E402
from dolfinx import fem  # noqa: E402
from dolfinx.fem.forms import derivative_block  # noqa: E402

from licoat import setup  # noqa: E402
from licoat.case import validate  # noqa: E402
from licoat.meshes import build_mesh  # noqa: E402
from licoat.solver.electrochemistry import SteadyCell  # noqa: E402
from licoat.solver.jit import JIT_OPTIONS  # noqa: E402
from licoat.solver.problem import _residual_without_lifting  # noqa: E402
from licoat.solver.properties import Coating, Kinetics, Operation  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5


def layouts(cell):
    out = {}
    for name, F, u, bcs, lifting in (("blocked", cell.forms, cell.unknowns, cell.bcs, True),
                                     ("vector", cell.solver_forms, cell.solver_unknowns, cell.solver_bcs, False)):
        Ff = fem.form(F, jit_options=JIT_OPTIONS)
        Jf = fem.form(derivative_block(F, u), jit_options=JIT_OPTIONS)
        A = fp.create_matrix(Jf, kind="mpi")
        b = fp.create_vector(fp._extract_function_spaces(Ff), kind="mpi")
        x = b.duplicate()
        fp.assign(u, x)
        out[name] = dict(F=Ff, J=Jf, A=A, b=b, x=x, u=u, bcs=bcs, lifting=lifting)
    return out


def time_layouts(comm, cell):
    cell.initial_guess()
    cell._to_solver()  # the vector copy of the same state
    L = layouts(cell)
    res = {n: {"jacobian_wall": [], "jacobian_cpu": [], "residual_wall": [], "residual_cpu": []} for n in L}
    for _ in range(REPEATS):
        for name, d in L.items():
            r = res[name]
            comm.barrier()
            t0, c0 = time.perf_counter(), time.process_time()
            d["A"].zeroEntries()
            fp.assemble_matrix(d["A"], d["J"], bcs=d["bcs"])
            d["A"].assemble()
            r["jacobian_wall"].append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
            r["jacobian_cpu"].append(comm.allreduce(time.process_time() - c0, op=MPI.MAX))
            comm.barrier()
            t0, c0 = time.perf_counter(), time.process_time()
            blocks = d["b"].getAttr("_blocks")
            if d["lifting"]:
                fp.assemble_residual(None, d["x"], d["b"], d["u"], d["F"], d["J"], d["bcs"], blocks)
            else:
                _residual_without_lifting(None, d["x"], d["b"], d["u"], d["F"], d["bcs"], blocks)
            r["residual_wall"].append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
            r["residual_cpu"].append(comm.allreduce(time.process_time() - c0, op=MPI.MAX))
    out = {}
    for name, d in L.items():
        r = res[name]
        out[name] = {k + "_s": min(v) for k, v in r.items()} | {
            "jacobian_norm": d["A"].norm(), "residual_norm": d["b"].norm(),
            "nonzeros": int(d["A"].getInfo(3)["nz_used"]), "size": d["A"].getSize()[0]}
        for k in ("A", "b", "x"):
            d[k].destroy()
    b, v = out["blocked"], out["vector"]
    out["jacobian_speedup_wall"] = b["jacobian_wall_s"] / v["jacobian_wall_s"]
    out["jacobian_speedup_cpu"] = b["jacobian_cpu_s"] / max(v["jacobian_cpu_s"], 1e-9)
    out["residual_speedup_wall"] = b["residual_wall_s"] / v["residual_wall_s"]
    out["residual_speedup_cpu"] = b["residual_cpu_s"] / max(v["residual_cpu_s"], 1e-9)
    out["same_jacobian_rel"] = abs(b["jacobian_norm"] - v["jacobian_norm"]) / b["jacobian_norm"]
    out["same_residual_rel"] = abs(b["residual_norm"] - v["residual_norm"]) / max(b["residual_norm"], 1e-300)
    return out


def main(sizes):
    comm = MPI.COMM_WORLD
    elyte = setup.electrolyte(validate({}))
    kin = Kinetics(10.0, 0.5, 0.5, 0.5)
    op = Operation("galvanostatic", 20.0, None, 298.15, "reservoir")
    doc = {}
    for h_um in sizes:
        p = dict(kind="planar", dim=3, width=10e-6, depth=10e-6, electrolyte_thickness=20e-6, mesh_size=h_um * 1e-6,
                 anode_thickness=2 * h_um * 1e-6, coating_thickness=0.0, coating_model="resolved")
        tm = build_mesh(comm, p)
        for label, coating in (("bare Li", None), ("thin film", Coating("film", 50e-9, 1e-6, "thin"))):
            cell = SteadyCell(comm, tm, elyte, kin, op, coating=coating)
            r = time_layouts(comm, cell)
            r.update(mesh_size_um=h_um, ranks=comm.size, fields=cell.registry.names, block_size=cell.block_size,
                     cells=tm.mesh.topology.index_map(3).size_global)
            doc[f"planar 3D {label}, h = {h_um} um, {comm.size} rank(s)"] = r
            if comm.rank == 0:
                print(f"{label:10s} h = {h_um} um, {comm.size} rank(s): Jacobian x{r['jacobian_speedup_wall']:.2f} wall "
                      f"(x{r['jacobian_speedup_cpu']:.2f} CPU), residual x{r['residual_speedup_wall']:.2f} wall "
                      f"(x{r['residual_speedup_cpu']:.2f} CPU); same J {r['same_jacobian_rel']:.1e}, "
                      f"same F {r['same_residual_rel']:.1e}", flush=True)
    if comm.rank == 0:
        dest = ROOT / "benchmarks" / "results" / "assembly_ab_in_process.json"
        old = json.loads(dest.read_text()) if dest.exists() else {}
        dest.write_text(json.dumps(old | doc, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [1.0, 0.5])
