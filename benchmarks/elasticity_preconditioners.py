"""The p-multigrid's smoother and coarse solve for the P2 elasticity solve (solver/mechanics.py,
issue 12 item 4, target <= 5x the P1 Poisson reference): the 3D coated Li anode of
``bench_elasticity.py`` (0.5 um Al2O3-like film, 18x stiffer than Li, under 1 MPa), each variant
interleaved with the others, the fastest of 3 (assembly + set-up + CG to 1e-8 on the unpreconditioned
residual), with its CG iterations and its displacement's relative difference from the first variant.

* ``jacobi, GAMG coarse``: Chebyshev/Jacobi on P2, one GAMG V-cycle on P1 (the default above
  ``COARSE_DIRECT_MAX_DOFS`` P1 DOFs);
* ``jacobi, MUMPS coarse``: the P1 level factorised (the default up to ``COARSE_DIRECT_MAX_DOFS``);
* ``point-block Jacobi, ...``: the smoother inverts each node's d x d block.

Measured (2 CPUs): the factorised coarse level saves 8 CG iterations at both sizes, 15-20 % of the
time on 1 rank, 5-12 % at 29 k DOFs on 2 ranks and nothing at 114 k on 2 ranks (MUMPS's parallel
factorisation); point-block Jacobi saves 2-4 more iterations, between 5 % less and 18 % more time.

    [mpiexec -n N] python benchmarks/elasticity_preconditioners.py [MESH_SIZE_UM ...]   (default 1.0 0.6)

Writes ``benchmarks/results/elasticity_preconditioners.json`` (one entry per rank count and size).
"""

import json
import sys
from pathlib import Path

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

from licoat.meshes import build_mesh  # noqa: E402
from licoat.solver import mechanics as me  # noqa: E402

GAMG_COARSE = {k: v for k, v in me.PMG_OPTIONS.items() if k.startswith("mg_coarse_")}
VARIANTS = {  # (overrides of PMG_OPTIONS, COARSE_DIRECT_MAX_DOFS)
    "jacobi, GAMG coarse": ({}, 0),
    "point-block Jacobi, GAMG coarse": ({"mg_levels_pc_type": "pbjacobi"}, 0),
    "jacobi, MUMPS coarse": ({}, 10**12),
    "point-block Jacobi, MUMPS coarse": ({"mg_levels_pc_type": "pbjacobi"}, 10**12),
}


def point(comm, h_um, repeats=3):
    um = 1e-6
    tm = build_mesh(comm, dict(kind="planar", dim=3, width=8 * um, depth=8 * um, electrolyte_thickness=4 * um,
                               mesh_size=h_um * um, anode_thickness=8 * um, coating_thickness=0.5 * um,
                               coating_model="resolved"))
    solids = {"anode": me.Solid(G=3.4e9, nu=0.42), "coating": me.Solid(G=60e9, nu=0.25)}
    base, limit = dict(me.PMG_OPTIONS), me.COARSE_DIRECT_MAX_DOFS
    me.solve_elasticity(comm, tm, solids, 1e6, linear_solver="iterative")  # JIT warm-up
    rows, ref = {k: None for k in VARIANTS}, None
    try:
        for _ in range(repeats):
            for name, (over, max_dofs) in VARIANTS.items():
                me.PMG_OPTIONS.clear()
                me.PMG_OPTIONS.update(base | over)
                me.COARSE_DIRECT_MAX_DOFS = max_dofs
                comm.barrier()
                st = me.solve_elasticity(comm, tm, solids, 1e6, linear_solver="iterative")
                info = st.solver_info
                t = comm.allreduce(info["assembly_s"] + info["linear_solve_s"], op=MPI.MAX)
                if ref is None:
                    ref = st.u.x.petsc_vec.copy()
                diff = st.u.x.petsc_vec.copy()
                diff.axpy(-1.0, ref)
                row = {"total_s": t, "pc_setup_s": comm.allreduce(info["pc_setup_s"], op=MPI.MAX),
                       "krylov_iterations": info["krylov_iterations"], "preconditioner": info["preconditioner"],
                       "u_rel_diff_vs_first": diff.norm() / ref.norm(), "dofs": info["dofs"]}
                if rows[name] is None or t < rows[name]["total_s"]:
                    rows[name] = row
    finally:
        me.PMG_OPTIONS.clear()
        me.PMG_OPTIONS.update(base)
        me.COARSE_DIRECT_MAX_DOFS = limit
    first = rows["jacobi, GAMG coarse"]["total_s"]
    for r in rows.values():
        r["time_over_jacobi_gamg"] = r["total_s"] / first
    return rows


def main(argv):
    comm = MPI.COMM_WORLD
    out = Path(__file__).parent / "results" / "elasticity_preconditioners.json"
    for h_um in [float(a) for a in argv] or [1.0, 0.6]:
        rows = point(comm, h_um)
        if comm.rank == 0:
            data = json.loads(out.read_text()) if out.exists() else {}
            data[f"h = {h_um} um, {comm.size} rank(s)"] = rows
            out.write_text(json.dumps(data, indent=2) + "\n")
            for k, r in rows.items():
                print(f"h = {h_um} um, {comm.size} rank(s), {k}: {r['dofs']} DOFs, {r['total_s']:.3g} s "
                      f"({r['time_over_jacobi_gamg']:.2f}), {r['krylov_iterations']} its", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
