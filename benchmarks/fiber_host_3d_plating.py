"""Benchmark: a 3D fibre host plated to 1 mAh/cm^2 at 1 mA/cm^2 (a transient run with the plating history:
plated charge, Li coverage, the TiO2 seed layer's lithiation; issue 9), end to end (mesh, transient, output) on
2 MPI ranks. Target: about 200k DOFs in under 20 minutes on 2 cores (issue 9, Speed).

The geometry is cases/fibers.toml (random in-plane fibres, 10 um thick host) with ``operation.capacity`` set;
``mesh_size_um`` sets the size (interface size a quarter of it). Variants: ``bare_Cu`` (Cu fibres without a
coating: Li nucleates on Cu, then grows; the default) or ``case`` (the case's carbon fibres with 5 nm TiO2, whose
lithiation runs before Li plates). Writes benchmarks/results/fiber_host_3d_plating.json (one entry per variant,
mesh size and rank count).

Usage: python benchmarks/fiber_host_3d_plating.py [mesh_size_um] [ranks] [capacity] [bare_Cu|case]
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_S = 1200.0


VARIANTS = {"bare_Cu": ["--set", "host.material='Cu'", "--set", "coating.material='none'",
                        "--set", "coating.thickness='0 nm'"], "case": []}


def main(h_um="0.8", ranks="2", capacity="1 mAh/cm^2", variant="bare_Cu"):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fibers"
        cmd = [str(BIN / "mpiexec"), "-n", ranks, str(BIN / "licoat"), "run", "cases/fibers.toml", "--out", str(out),
               "--quiet", "--set", f"geometry.mesh_size='{h_um} um'",
               "--set", f"geometry.interface_mesh_size='{float(h_um) / 4} um'",
               "--set", f"operation.capacity='{capacity}'", "--set", "output.fields=false", *VARIANTS[variant]]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        result = {"command": " ".join(cmd[1:]), "returncode": proc.returncode, "wall_s": wall, "ranks": int(ranks),
                  "mesh_size_um": float(h_um), "capacity": capacity, "variant": variant, "target_s": TARGET_S,
                  "wall_over_target": wall / TARGET_S}
        if proc.returncode == 0:
            s = json.loads((out / "summary.json").read_text())
            d = s["deposit"]
            result.update({"dofs": s["dofs"], "time_steps": s["time_steps"], "timing": s["timing"],
                           "duration_s": s["duration_s"], "cell_voltage_V": s["cell_voltage_V"],
                           "deposit": {k: d.get(k) for k in ("thickness_mean_m", "thickness_max_over_mean",
                                                             "plated_capacity_C_m2", "nucleated_fraction",
                                                             "bottom_to_top_fill_ratio")},
                           "seconds_per_step": s["timing"]["solve_s"] / max(s["time_steps"], 1)})
        else:
            result["stderr_tail"] = proc.stderr[-2000:]
    dest = ROOT / "benchmarks" / "results" / "fiber_host_3d_plating.json"
    doc = json.loads(dest.read_text()) if dest.exists() else {}
    doc[f"{variant},mesh_size={float(h_um):g}um,ranks={ranks}"] = result
    dest.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
