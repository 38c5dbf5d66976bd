"""Benchmark (issue 10): a 3D planar cell with 25 pinholes, thin film (ASR field) and resolved holes.

Target: under 5 minutes on 2 cores. A 5 x 5 lattice (spacing 4 um, radius 0.4 um) in a 20 um x 20 um
cell, 20 nm blocking film (1e-12 S/m), 20 um of electrolyte, `licoat run` on 2 ranks; the resolved
variant uses the same holes as electrolyte-filled gaps. Writes benchmarks/results/defects_25_pinholes.json
(wall times, ratio to the target, dofs, defects block, exit codes); never asserts (noisy machines).
Run: .venv/bin/python benchmarks/defects_25_pinholes.py [--ranks N] [--only thin|resolved]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

CASE = """
[geometry]
kind = "planar"
dim = 3
width = "20 um"
depth = "20 um"
electrolyte_thickness = "20 um"
anode_thickness = "2 um"
mesh_size = "4 um"
cache = false

[coating]
material = "LiF"
thickness = "20 nm"
ionic_conductivity = "1e-14 S/cm"
model = "{model}"

[coating.defects]
kind = "pinholes"
radius = "0.4 um"
spacing = "4 um"
cells = 4

[operation]
current_density = "1 mA/cm^2"

[output]
fields = false
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--only", choices=["thin", "resolved"])
    args = ap.parse_args()
    out = {"target_s": 300.0, "ranks": args.ranks}
    with tempfile.TemporaryDirectory() as tmp:
        for model in ([args.only] if args.only else ["thin", "resolved"]):
            case = Path(tmp) / f"{model}.toml"
            case.write_text(CASE.format(model=model))
            res = Path(tmp) / model
            t0 = time.perf_counter()
            r = subprocess.run([str(BIN / "mpiexec"), "-n", str(args.ranks), str(BIN / "licoat"), "run", str(case),
                                "--out", str(res), "--quiet"], capture_output=True, text=True, cwd=ROOT)
            wall = time.perf_counter() - t0
            entry = {"wall_s": wall, "over_target": wall / out["target_s"], "exit_code": r.returncode}
            if r.returncode == 0:
                s = json.loads((res / "summary.json").read_text())
                entry.update(dofs=s["dofs"], timing=s["timing"], defects=s["defects"], cell_voltage_V=s["cell_voltage_V"])
            else:
                entry["error"] = (r.stderr or r.stdout).strip().splitlines()[-1:]
            out[model] = entry
            print(model, json.dumps(entry)[:300], flush=True)
    dest = ROOT / "benchmarks" / "results" / "defects_25_pinholes.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
