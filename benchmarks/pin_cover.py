"""A/B (in process): the diagonal of pinned dofs in the Newton matrix from a zero cell integral over the whole
pinned region (before) or from a zero vertex integral on a cover of the pinned dofs (now,
``solver/problem.py::pin_cover``). Case: the TiO2-coated 3D carbon-fibre host of cases/fibers.toml, where the
thin film's potential lives on the fibre surfaces and is pinned in the whole volume. Per variant: the
Jacobian's nonzeros, its assembly time (fastest of REPEATS, the variants interleaved), the residual's, and
the matrix and residual norms (the same system: the pins add zeros only). Writes
benchmarks/results/pin_cover.json.

Usage: python benchmarks/pin_cover.py [mesh_size_um]
"""

import json
import sys
import time
from pathlib import Path

from licoat import import_stack

import_stack()
import ufl  # noqa: E402
from mpi4py import MPI  # noqa: E402

import dolfinx.fem.petsc as fp  # noqa: E402
from dolfinx import fem  # noqa: E402
from dolfinx.fem.forms import derivative_block  # noqa: E402

from licoat import setup  # noqa: E402
from licoat.case import load_case  # noqa: E402
from licoat.run import CellInputs  # noqa: E402
from licoat.solver import problem as P  # noqa: E402
from licoat.solver.jit import JIT_OPTIONS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5


def cell_integral_pin(self, residual):
    """The previous pin: zero * u * v over every cell where the field is pinned (one-point rule)."""
    self._zero = zero = fem.Constant(self.mesh, 0.0)
    dx_pin = ufl.Measure("dx", domain=self.mesh, subdomain_data=self.tm.cell_tags, metadata={"quadrature_degree": 0})
    out = dict(residual)
    for f in self.registry.ordered():
        u, v = f.function, ufl.TestFunction(f.function.function_space)
        if f.volumes is not None:
            for vol in self.ionic_volumes + self.metal_volumes:
                if vol not in f.volumes:
                    out[f.name] = out[f.name] + zero * u * v * dx_pin(self.tm.tag(vol))
        elif f.facets is not None:
            out[f.name] = out[f.name] + zero * u * v * dx_pin
    return out


def system(comm, inputs, pin):
    saved, P.CellProblem._pin = P.CellProblem._pin, pin
    try:
        cell = inputs.cell()
    finally:
        P.CellProblem._pin = saved
    cell.initial_guess()
    cell._to_solver()
    F = fem.form(cell.solver_forms, jit_options=JIT_OPTIONS)
    J = fem.form(derivative_block(cell.solver_forms, cell.solver_unknowns), jit_options=JIT_OPTIONS)
    A = fp.create_matrix(J, kind="mpi")
    b = fp.create_vector(fp._extract_function_spaces(F), kind="mpi")
    return dict(cell=cell, F=F, J=J, A=A, b=b)


def main(h_um="1"):
    comm = MPI.COMM_WORLD
    case, _ = load_case(ROOT / "cases" / "fibers.toml", [f"geometry.mesh_size={h_um} um",
                                                         f"geometry.interface_mesh_size={float(h_um) / 4} um"])
    tm, _ = setup.mesh(comm, case)
    inputs = CellInputs.of(comm, case, tm)
    variants = {"cell_integral": system(comm, inputs, cell_integral_pin), "vertex_cover": system(comm, inputs, P.CellProblem._pin)}
    times = {n: {"jacobian": [], "residual": []} for n in variants}
    for _ in range(REPEATS):
        for name, d in variants.items():
            comm.barrier()
            t0 = time.perf_counter()
            d["A"].zeroEntries()
            fp.assemble_matrix(d["A"], d["J"], bcs=d["cell"].solver_bcs)
            d["A"].assemble()
            times[name]["jacobian"].append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
            comm.barrier()
            t0 = time.perf_counter()
            with d["b"].localForm() as bl:
                bl.set(0.0)
            fp.assemble_vector(d["b"], d["F"])
            times[name]["residual"].append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
    doc = {"case": "cases/fibers.toml", "mesh_size_um": float(h_um), "ranks": comm.size,
           "cells": tm.mesh.topology.index_map(tm.dim).size_global}
    for name, d in variants.items():
        doc[name] = {"jacobian_s": min(times[name]["jacobian"]), "residual_s": min(times[name]["residual"]),
                     "nonzeros": int(d["A"].getInfo(3)["nz_used"]), "jacobian_norm": d["A"].norm(),
                     "residual_norm": d["b"].norm()}
    a, b = doc["cell_integral"], doc["vertex_cover"]
    doc["jacobian_speedup"] = a["jacobian_s"] / b["jacobian_s"]
    doc["residual_speedup"] = a["residual_s"] / b["residual_s"]
    doc["same_jacobian_rel"] = abs(a["jacobian_norm"] - b["jacobian_norm"]) / a["jacobian_norm"]
    doc["same_residual_rel"] = abs(a["residual_norm"] - b["residual_norm"]) / max(a["residual_norm"], 1e-300)
    if comm.rank == 0:
        print(json.dumps(doc, indent=2))
        (ROOT / "benchmarks" / "results" / "pin_cover.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
