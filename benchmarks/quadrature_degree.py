"""Jacobian assembly cost against the volume quadrature degree (issue: performance, item 1).

3D planar cell, bare Li, 1 M LiPF6 EC:EMC (Nyman fits), P1; the blocked Jacobian assembled into the
problem's matrix (best of 3), at the former degree 2k + 2 and the chosen 2k, with a P1 Poisson
matrix assembly and a CG + GAMG Poisson solve on the same mesh in the same run (ratios only; these
machines are noisy). Writes benchmarks/results/quadrature_degree.json.

    python benchmarks/quadrature_degree.py [mesh_size_m]
"""

import json
import sys
import time
from pathlib import Path

from licoat import import_stack

import_stack()
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402
from dolfinx.fem.petsc import LinearProblem, assemble_matrix, create_matrix  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.meshes import build_mesh  # noqa: E402
from licoat.solver import problem as problem_module  # noqa: E402
from licoat.solver.electrochemistry import SolverOptions, SteadyCell  # noqa: E402
from licoat.solver.properties import Electrolyte, Fit, Kinetics, Operation  # noqa: E402

comm = MPI.COMM_WORLD
h = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5e-6
p = dict(kind="planar", dim=3, width=10e-6, depth=10e-6, electrolyte_thickness=20e-6, mesh_size=h,
         anode_thickness=2e-6, interface_mesh_size=h, coating_thickness=0.0)
tm = build_mesh(comm, p)
el = Electrolyte("nyman", 1000.0, Fit(expression="0.1297*c**3 - 2.51*c**1.5 + 3.329*c"),
                 Fit(expression="8.794e-11*c**2 - 3.972e-10*c + 4.862e-10"), 0.2594, 1.0)


def best(f, n=3):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return min(out)


results = {"mesh_size_m": h, "ranks": comm.size}
default = problem_module.volume_quadrature_degree
for label, rule in (("degree_2k_plus_2", lambda k: 2 * k + 2), ("degree_2k", default)):
    problem_module.volume_quadrature_degree = rule
    cell = SteadyCell(comm, tm, el, Kinetics(10.0, 0.5, 0.5, 0.5), Operation("galvanostatic", 20.0, None, 298.15),
                      length_scale=20e-6, options=SolverOptions(linear_solver="iterative"))
    prob = cell.build()
    cell.initial_guess()
    A = prob.A

    def jac():
        A.zeroEntries()
        assemble_matrix(A, prob.J, bcs=cell.bcs)
        A.assemble()

    results[label] = {"jacobian_assembly_s": best(jac), "dofs": cell.dofs}
    cell.solve()
    results[label]["cell_voltage_V"] = cell.cell_voltage
problem_module.volume_quadrature_degree = default

V = fem.functionspace(cell.mesh, ("Lagrange", 1))
u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
a = fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
M = create_matrix(a)


def pois():
    M.zeroEntries()
    assemble_matrix(M, a)
    M.assemble()


results["poisson_matrix_assembly_s"] = best(pois)
bc = fem.dirichletbc(0.0, fem.locate_dofs_topological(V, 2, cell.tm.facets("top")), V)
lp = LinearProblem(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, v * ufl.dx, bcs=[bc], petsc_options_prefix="qd_pois_",
                   petsc_options={"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-8})
results["poisson_solve_s"] = best(lp.solve)
for label in ("degree_2k_plus_2", "degree_2k"):
    r = results[label]
    r["jacobian_over_poisson_assembly"] = r["jacobian_assembly_s"] / results["poisson_matrix_assembly_s"]
    r["jacobian_over_poisson_solve"] = r["jacobian_assembly_s"] / results["poisson_solve_s"]
results["speedup"] = results["degree_2k_plus_2"]["jacobian_assembly_s"] / results["degree_2k"]["jacobian_assembly_s"]
results["cell_voltage_change_rel"] = abs(results["degree_2k"]["cell_voltage_V"] / results["degree_2k_plus_2"]["cell_voltage_V"] - 1)
if comm.rank == 0:
    out = Path(__file__).parent / "results" / "quadrature_degree.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
