"""Benchmark: a 3D fibre host with about 1 million DOFs end to end (mesh, solve, output) on
2 MPI ranks. Target (issue "Electrochemistry in 3D hosts"): under 10 minutes on 2 cores.
Writes benchmarks/results/fiber_host_1M.json.

Usage: python benchmarks/fiber_host_1M.py [mesh_size_um] [ranks]
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def main(h_um="0.7", ranks="2"):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fibers"
        cmd = [str(BIN / "mpiexec"), "-n", ranks, str(BIN / "licoat"), "run", "cases/fibers.toml", "--out", str(out),
               "--quiet", "--set", f"geometry.mesh_size='{h_um} um'",
               "--set", f"geometry.interface_mesh_size='{float(h_um) / 4} um'", "--set", "output.fields=false"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        result = {"command": " ".join(cmd[1:]), "returncode": proc.returncode, "wall_s": wall, "ranks": int(ranks),
                  "target_s": 600.0}
        if proc.returncode == 0:
            s = json.loads((out / "summary.json").read_text())
            result.update({"dofs": s["dofs"], "timing": s["timing"], "cell_voltage_V": s["cell_voltage_V"],
                           "plating_cv": s["plating"]["cv"], "krylov_per_newton":
                           s["timing"]["linear_iterations"] / max(s["timing"]["newton_iterations"], 1)})
        else:
            result["stderr_tail"] = proc.stderr[-2000:]
        result["wall_over_target"] = wall / 600.0
    dest = ROOT / "benchmarks" / "results" / "fiber_host_1M.json"
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
