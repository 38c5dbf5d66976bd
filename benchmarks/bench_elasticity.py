"""One elasticity benchmark point for ``benchmarks/run_all.py``: the linear elasticity solve of a 3D
coated Li anode under a stack pressure (solver/mechanics.py: CG + GAMG with the rigid-body
near-nullspace, P2 displacements, the production path), then the P1 Poisson CG + GAMG reference at
the same number of DOFs, in the same process (``bench_case.poisson_reference``).

Usage: [mpiexec -n N] python benchmarks/bench_elasticity.py OUT.json MESH_SIZE_UM

Measured (the slowest rank's times): assembly_s, linear_solve_s, Krylov iterations, DOFs, and
``elasticity_over_poisson`` = (assembly + solve) / (Poisson assembly + solve); issue 12 target <= 5.
"""

import json
import sys
import time
from pathlib import Path

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_case import poisson_reference  # noqa: E402


def main(argv):
    from licoat.meshes import build_mesh
    from licoat.solver import mechanics as me

    out_json, h_um = argv[0], float(argv[1])
    comm = MPI.COMM_WORLD
    um = 1e-6
    t0 = time.perf_counter()
    tm = build_mesh(comm, dict(kind="planar", dim=3, width=8 * um, depth=8 * um, electrolyte_thickness=4 * um,
                               mesh_size=h_um * um, anode_thickness=8 * um, coating_thickness=0.5 * um,
                               coating_model="resolved"))
    mesh_s = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    solids = {"anode": me.Solid(G=3.4e9, nu=0.42), "coating": me.Solid(G=60e9, nu=0.25)}
    me.solve_elasticity(comm, tm, solids, 1e6, linear_solver="iterative")  # JIT warm-up
    comm.barrier()
    st = me.solve_elasticity(comm, tm, solids, 1e6, linear_solver="iterative")
    info = st.solver_info
    row = {"case": "coated Li anode 3D (elasticity, P2)", "mesh_size_um": h_um, "ranks": comm.size,
           "dofs": int(info["dofs"]), "mesh_s": mesh_s, "method": info["method"],
           "assembly_s": comm.allreduce(float(info["assembly_s"]), op=MPI.MAX),
           "linear_solve_s": comm.allreduce(float(info["linear_solve_s"]), op=MPI.MAX),
           "krylov_iterations": int(info["krylov_iterations"])}
    row["total_s"] = row["assembly_s"] + row["linear_solve_s"]
    row["poisson"] = poisson_reference(comm, row["dofs"])
    row["elasticity_over_poisson"] = row["total_s"] / row["poisson"]["total_s"]
    if comm.rank == 0:
        Path(out_json).write_text(json.dumps(row, indent=2, default=float) + "\n")
    return row


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1:])
