"""Benchmark: meshing a 3D random-in-plane fibre host of about 1e6 tetrahedra.

Issue target: under 60 s on 2 cores. The geometry is ``cases/fibers.toml`` (16 x 16 µm cell, 2 µm
fibres at 25 % in a 10 µm layer, 20 µm electrolyte, thin 5 nm coating) with the mesh sizes refined
to reach ~1e6 cells. Each configuration sets Gmsh's ``General.NumThreads`` and the 3D algorithm
(1 Delaunay, 10 HXT) before the generator runs (Gmsh is initialised here, so the generator keeps
the options). ``mesh_s`` is the wall time of ``build_mesh`` (OCC geometry + Gmsh + distribution
into DOLFINx); the geometry report (porosity, areas, quality) is timed separately. No assertions:
the numbers go to ``benchmarks/results/mesh_fibers.json``.

Usage: python benchmarks/mesh_fibers.py [mesh_size_um interface_mesh_size_um]
"""

import json
import os
import platform
import sys
import time
from pathlib import Path

from licoat import import_stack

import_stack()
import gmsh  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.meshes import build_mesh  # noqa: E402
from licoat.meshes.report import geometry_report  # noqa: E402

# (threads, algorithm3d): the target configuration first, then the serial comparison
CONFIGS = [(2, 10), (1, 10), (2, 1), (1, 1)]


def params(h_um, hf_um, algorithm3d):
    return dict(kind="fibers", dim=3, width=16e-6, depth=16e-6, fiber_diameter=2e-6, fiber_volume_fraction=0.25,
                host_thickness=10e-6, orientation="random-in-plane", seed=1, electrolyte_thickness=20e-6,
                collector_thickness=2e-6, mesh_size=h_um * 1e-6, interface_mesh_size=hf_um * 1e-6,
                coating_thickness=5e-9, coating_model="thin", mesh_algorithm3d=algorithm3d)


def run(comm, h_um, hf_um, threads, algorithm3d, report=False):
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.NumThreads", threads)
        p = params(h_um, hf_um, algorithm3d)
        t0 = time.perf_counter()
        tm = build_mesh(comm, p)
        mesh_s = time.perf_counter() - t0
    finally:
        gmsh.finalize()
    n = tm.mesh.topology.index_map(3).size_global
    out = {"threads": threads, "algorithm3d": algorithm3d, "mesh_size_m": p["mesh_size"],
           "interface_mesh_size_m": p["interface_mesh_size"], "tetrahedra": n, "mesh_s": mesh_s,
           "tets_per_s": n / mesh_s, "under_60_s": mesh_s < 60.0}
    if report:
        t1 = time.perf_counter()
        rep = geometry_report(tm, p, mesh_s)
        out["report_s"] = time.perf_counter() - t1
        out["min_quality"] = rep["min_quality"]
        out["geometry_report"] = rep
        out["n_fibres"] = tm.info["n_fibres"]
        out["fiber_volume_fraction_built"] = tm.info["fiber_volume_fraction"]
    print(f"threads {threads} alg3d {algorithm3d}: {n} tets in {mesh_s:.1f} s ({n / mesh_s:.0f} tets/s)", flush=True)
    return out


def main(h_um=0.65, hf_um=0.165):
    comm = MPI.COMM_WORLD
    runs = [run(comm, h_um, hf_um, t, a, report=(i == 0)) for i, (t, a) in enumerate(CONFIGS)]
    doc = {"benchmark": "mesh_fibers", "target": "about 1e6 tetrahedra in under 60 s on 2 cores",
           "geometry": "cases/fibers.toml geometry (random-in-plane, seed 1) with finer mesh sizes",
           "ranks": comm.size, "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
           "gmsh": gmsh.__version__, "runs": runs}
    if comm.rank == 0:
        path = Path(__file__).resolve().parent / "results" / "mesh_fibers.json"
        path.write_text(json.dumps(doc, indent=2, default=float) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main(*map(float, sys.argv[1:3]))
