"""Benchmark: Newman–Tobias transmission line in the 2D comb (meshes/comb.py) vs the closed forms.

Usage: python benchmarks/transmission_line.py [out_dir]
Writes ``transmission_line.json`` to out_dir (default .): for fin widths g/10 (pitch 1.1 g, the test's
choice) and g (pitch 2 g), linear kinetics ν = 2, 5 and Tafel δ = 2, 10, walls only and with fin tops
and floor active too: the top/bottom ratio of the wall current vs cosh ν (sec²θ), the largest profile
deviation below the corner layer (y > 0.02) and at the top node, the host_uniformity numbers and timings.
References: Newman & Tobias, J. Electrochem. Soc. 109 (1962) 1183; /work/shared/reference/physics.md §6.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

import numpy as np

from licoat import import_stack

import_stack()
from dolfinx import fem  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.constants import FARADAY, GAS_CONSTANT  # noqa: E402
from licoat.meshes.comb import build  # noqa: E402
from licoat.solver.electrochemistry import SteadyCell  # noqa: E402
from licoat.solver.host_metrics import host_uniformity  # noqa: E402
from licoat.solver.properties import Electrolyte, Fit, Kinetics, Operation  # noqa: E402

T = 298.15
VT = GAS_CONSTANT * T / FARADAY
KAPPA, GAP, L = 1.0, 5e-6, 100e-6


def theta_of(delta):
    lo, hi = 0.0, np.pi / 2 - 1e-12
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mid * np.tan(mid) < delta / 2 else (lo, mid)
    return 0.5 * (lo + hi)


def wall(cell):
    j = cell.fields()["plating_current_density"]
    V = j.function_space
    dofs = fem.locate_dofs_topological(V, 1, cell.tm.facets("host_electrolyte"))
    dofs = dofs[dofs < V.dofmap.index_map.size_local]
    z = np.concatenate(cell.comm.allgather(V.tabulate_dof_coordinates()[dofs, 1]))
    v = np.concatenate(cell.comm.allgather(j.x.array[dofs]))
    o = np.argsort(-z)
    return 1 - z[o] / L, v[o]


def main(out_dir="."):
    comm = MPI.COMM_WORLD
    el = Electrolyte("const", 1000.0, Fit(constant=KAPPA), Fit(constant=3e-10), 1.0, 1.0)  # t+ = 1
    off = Kinetics(1.0, active=False)
    rows = []
    for pitch in (1.1 * GAP, 2 * GAP):
        a, keff = 2 / pitch, KAPPA * GAP / pitch
        t0 = time.perf_counter()
        tm = build(comm, dict(pitch=pitch, gap=GAP, fin_height=L, electrolyte_thickness=2 * GAP,
                              mesh_size=2.5e-6, interface_mesh_size=1.25e-6))
        t_mesh = time.perf_counter() - t0
        cases = []
        for nu in (2.0, 5.0):
            cases.append(("linear", nu, Kinetics(nu**2 * VT * keff / (a * L**2), 0.5, 0.5, form="linear"), 10.0,
                          lambda y, nu=nu: nu * np.cosh(nu * (1 - y)) / np.sinh(nu)))
        for delta in (2.0, 10.0):
            th = theta_of(delta)
            cases.append(("tafel", delta, Kinetics(10.0, 0.5, 0.5, form="tafel"), delta * VT * keff / (0.5 * L),
                          lambda y, th=th, delta=delta: 2 * th**2 / delta / np.cos(th * (1 - y)) ** 2))
        for form, param, kin, I, exact in cases:
            for walls_only in (True, False):
                t0 = time.perf_counter()
                sk = {"anode_electrolyte": off, "collector_electrolyte": off} if walls_only else None
                cell = SteadyCell(comm, tm, el, kin, Operation("galvanostatic", I, None, T), surface_kinetics=sk,
                                  length_scale=L, degree=2).solve()
                t_solve = time.perf_counter() - t0
                y, j = wall(cell)
                num = a * j * L / I
                dev = num / exact(y) - 1
                inner = y > 0.02
                hu = host_uniformity(cell)
                row = dict(pitch_over_gap=pitch / GAP, kinetics=form, parameter=param, walls_only=walls_only,
                           ratio=float(j[0] / j[-1]), ratio_exact=float(exact(0.0) / exact(1.0)),
                           ratio_rel_err=float(j[0] / j[-1] / (exact(0.0) / exact(1.0)) - 1),
                           top_node_rel_err=float(dev[0]), bottom_node_rel_err=float(dev[-1]),
                           profile_max_rel_err_below_corner=float(np.max(np.abs(dev[inner]))),
                           host_top_to_bottom_ratio=hu["top_to_bottom_ratio"], active_fraction=hu["active_fraction"],
                           wagner_number=hu["wagner_number"], dofs=cell.metrics()["dofs"],
                           newton_iterations=cell.newton_iterations, mesh_s=t_mesh, solve_s=t_solve)
                rows.append(row)
                if comm.rank == 0:
                    print(f"p/g={row['pitch_over_gap']:.1f} {form:6s} {param:4.0f} walls_only={walls_only!s:5s} "
                          f"ratio {row['ratio']:8.3f} vs {row['ratio_exact']:8.3f} ({row['ratio_rel_err']:+.2%}) "
                          f"top {dev[0]:+.2%} bottom {dev[-1]:+.2%} interior max {row['profile_max_rel_err_below_corner']:.2%} "
                          f"Wa {row['wagner_number']:.3g} [{t_solve:.1f} s]", flush=True)
    if comm.rank == 0:
        out = pathlib.Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "transmission_line.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
