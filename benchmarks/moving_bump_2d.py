"""Benchmark: the 2D bump plated 2 mAh/cm^2 at 2 mA/cm^2 with a moving interface (issue 9, Speed), one core.

Runs cases/review/bump_bare_Li_moving_2D.toml end to end (licoat run, fields written, warm form cache): the
surface moves by 9.7 um, the mesh follows and is remeshed by Gmsh (solver/moving_mesh.py, solver/remesh.py).
Target: under 5 minutes on one core. Writes benchmarks/results/moving_bump_2d.json; never asserts (these
machines are shared and noisy: the load average at the start is recorded with the time).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CASE = "cases/review/bump_bare_Li_moving_2D.toml"


def main():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as res:
        subprocess.run([str(BIN / "licoat"), "run", CASE, "--quiet", "--out", f"{res}/warm-up",
                        "--set", "operation.capacity=0.01 mAh/cm^2"], check=True, env=env, capture_output=True, cwd=ROOT)
        t0 = time.perf_counter()
        subprocess.run([str(BIN / "licoat"), "run", CASE, "--quiet", "--out", f"{res}/a"], check=True, env=env,
                       capture_output=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        s = json.loads(Path(f"{res}/a/summary.json").read_text())
    out = {"case": CASE, "ranks": 1, "wall_s": wall, "target_s": 300.0, "wall_over_target": wall / 300.0,
           "load_average_1min_at_start": load, "time_steps": s["time_steps"], "dofs": s["dofs"],
           "deposit": s["deposit"], "timing": s["timing"], "warnings": s["warnings"]}
    dest = ROOT / "benchmarks" / "results" / "moving_bump_2d.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("wall_s", "target_s", "time_steps", "load_average_1min_at_start")}, indent=2))


if __name__ == "__main__":
    main()
