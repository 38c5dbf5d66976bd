"""How far the Newton Jacobian's assembly is from the cheapest assembly of a matrix like it (issue 12,
target "Jacobian assembly <= 0.3x the linear solve"): measured in one run, interleaved, best of 5.

3D planar cell, bare Li, 1 M LiPF6 EC:EMC (Nyman fits), P1, solved first so that the Jacobian is
taken at the answer. On the same mesh and the same vector P1 space (block size 2, the unknowns
(ĉ, φ̂)):

* ``jacobian_s``: licoat's Jacobian (every component, into the problem's matrix);
* ``constant_property_jacobian_s``: the same with kappa and D constant (their c-dependence removed);
* ``volume_block_alone_s``: the (ĉ, φ̂) block of the Jacobian alone into its own matrix (what the
  block layout with the applied-current unknown costs on top);
* ``vector_laplacian_s``: inner(grad u, grad v) dx on the block-size-2 space: the same 8 x 8 element
  matrices and sparsity as the Jacobian's volume part with the simplest kernel that fills them;
* ``vector_mass_s``: inner(u, v) dx, likewise (a kernel that is nearly free: the cost of scattering
  64 entries per cell into a PETSc matrix);
* ``scalar_poisson_s``: the P1 Poisson matrix on the same mesh (16 entries per cell);
* ``linear_solve_per_newton_s``: KSPSolve + PCSetUp per Newton step of the solve (PETSc log events).

The ratios say which part of the Jacobian's cost a better kernel could remove (jacobian over
vector_mass) and whether any assembled Jacobian could meet 0.3x the linear solve
(vector_mass over the linear solve per Newton step). Writes benchmarks/results/jacobian_floor.json.

    [mpiexec -n N] python benchmarks/jacobian_floor.py [mesh_size_m]
"""

import json
import sys
import time
from pathlib import Path

from licoat import import_stack

import_stack()
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402
from dolfinx.fem.petsc import assemble_matrix, create_matrix  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

from licoat.meshes import build_mesh  # noqa: E402
from licoat.solver.electrochemistry import SolverOptions, SteadyCell  # noqa: E402
from licoat.solver.properties import Electrolyte, Fit, Kinetics, Operation  # noqa: E402

PETSc.Log.begin()
comm = MPI.COMM_WORLD
h = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5e-6
p = dict(kind="planar", dim=3, width=10e-6, depth=10e-6, electrolyte_thickness=20e-6, mesh_size=h,
         anode_thickness=2e-6, interface_mesh_size=h, coating_thickness=0.0)
tm = build_mesh(comm, p)
KAPPA = "0.1297*c**3 - 2.51*c**1.5 + 3.329*c"  # Nyman et al. 2008 (as in quadrature_degree.py)
DIFF = "8.794e-11*c**2 - 3.972e-10*c + 4.862e-10"
nyman = Electrolyte("nyman", 1000.0, Fit(expression=KAPPA), Fit(expression=DIFF), 0.2594, 1.0)
constant = Electrolyte("nyman-constant", 1000.0, Fit(constant=nyman.conductivity.at(1000.0)),
                       Fit(constant=nyman.diffusivity.at(1000.0)), 0.2594, 1.0)


def cell_of(el):
    return SteadyCell(comm, tm, el, Kinetics(10.0, 0.5, 0.5, 0.5), Operation("galvanostatic", 20.0, None, 298.15),
                      length_scale=20e-6, options=SolverOptions(linear_solver="iterative"))


def event(name):
    info = PETSc.Log.Event(name).getPerfInfo()
    return comm.allreduce(float(info["time"]), op=MPI.MAX), comm.allreduce(int(info["count"]), op=MPI.MAX)


cell = cell_of(nyman)
cell.solve()
ksp_s, _ = event("KSPSolve")
pcs_s, _ = event("PCSetUp")
results = {"mesh_size_m": h, "ranks": comm.size, "dofs": cell.dofs, "cells": tm.mesh.topology.index_map(3).size_global,
           "newton_iterations": cell.newton_iterations, "linear_solve_per_newton_s": (ksp_s + pcs_s) / cell.newton_iterations}
cref = cell_of(constant)
cref.solve()


def jacobian_of(c):
    prob = c.build()
    A, J, bcs = prob.A, prob.J, c.solver_bcs

    def run():
        A.zeroEntries()
        assemble_matrix(A, J, bcs=bcs)
        A.assemble()
    return run


def matrix_of(a, bcs=()):
    form = a if isinstance(a, fem.Form) else fem.form(a)
    M = create_matrix(form)

    def run():
        M.zeroEntries()
        assemble_matrix(M, form, bcs=list(bcs))
        M.assemble()
    return run


def volume_block_of(c):
    prob = c.build()
    return matrix_of(prob.J[0][0], [b for b in c.solver_bcs if c.W._cpp_object.contains(b.function_space)])


W = cell.W
u, v = ufl.TrialFunction(W), ufl.TestFunction(W)
V = fem.functionspace(W.mesh, ("Lagrange", 1))
s, r = ufl.TrialFunction(V), ufl.TestFunction(V)
dx = ufl.Measure("dx", domain=W.mesh, metadata={"quadrature_degree": 2})
cases = {"jacobian_s": jacobian_of(cell), "constant_property_jacobian_s": jacobian_of(cref),
         "volume_block_alone_s": volume_block_of(cell),
         "vector_laplacian_s": matrix_of(ufl.inner(ufl.grad(u), ufl.grad(v)) * dx),
         "vector_mass_s": matrix_of(ufl.inner(u, v) * dx),
         "scalar_poisson_s": matrix_of(ufl.inner(ufl.grad(s), ufl.grad(r)) * dx)}
times = {k: [] for k in cases}
for _ in range(5):  # interleaved: every kind sees the same machine load
    for k, f in cases.items():
        comm.barrier()
        t0 = time.perf_counter()
        f()
        times[k].append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
results.update({k: min(t) for k, t in times.items()})
lin = results["linear_solve_per_newton_s"]
results["ratios"] = {
    "jacobian_over_linear_solve": results["jacobian_s"] / lin,
    "vector_mass_over_linear_solve": results["vector_mass_s"] / lin,
    "vector_laplacian_over_linear_solve": results["vector_laplacian_s"] / lin,
    "jacobian_over_vector_mass": results["jacobian_s"] / results["vector_mass_s"],
    "jacobian_over_constant_property_jacobian": results["jacobian_s"] / results["constant_property_jacobian_s"],
    "jacobian_over_volume_block_alone": results["jacobian_s"] / results["volume_block_alone_s"],
    "vector_mass_over_scalar_poisson": results["vector_mass_s"] / results["scalar_poisson_s"],
}
if comm.rank == 0:
    out = Path(__file__).parent / "results" / "jacobian_floor.json"
    data = json.loads(out.read_text()) if out.exists() else {}
    data[f"{comm.size} rank(s)"] = results
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(results, indent=2))
