"""A/B: steady Newton with the Jacobian reused (chord iteration with Eisenstat-Walker forcing, first forcing
term 1e-6; the default) against full Newton (``solver.reuse_jacobian = false``), on the shipped steady cases:
the default 2D cell, the 3D planar cell, Cu pillars, a 3D foam and the TiO2-coated 3D carbon-fibre host.

Records per case and variant: Newton (or chord) iterations, Jacobian assemblies, Krylov iterations,
``solve_s``, ``assembly_s``, ``linear_solve_s`` and the process CPU time (the machine is shared: CPU time is
the steadier measure; the variants run interleaved), and the relative difference of the cell voltage and the
plating cv between the two (the same answer to the Newton tolerances). Meshes come from the cache (a first
pass fills it). Writes benchmarks/results/steady_jacobian_reuse.json.

Usage: python benchmarks/steady_jacobian_reuse.py [ranks]
"""

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CASES = {
    "default 2D": ("cases/default.toml", []),
    "planar 3D, h = 0.5 um": ("cases/planar.toml", ["geometry.dim=3", "geometry.width=10 um", "geometry.depth=10 um",
                                                    "geometry.electrolyte_thickness=20 um", "coating.material=none",
                                                    "coating.thickness=0 nm", "geometry.mesh_size=0.5 um"]),
    "pillars": ("cases/pillars.toml", []),
    "foam 3D": ("cases/foam.toml", []),
    "fibre host 3D, h = 1 um": ("cases/fibers.toml", ["geometry.mesh_size='1 um'", "geometry.interface_mesh_size='0.25 um'"]),
}
VARIANTS = {"reuse": ["solver.reuse_jacobian=true"], "full_newton": ["solver.reuse_jacobian=false"]}


def run(tmp, case, sets, ranks):
    out = Path(tmp) / "run"
    cmd = [str(BIN / "mpiexec"), "-n", ranks, str(BIN / "licoat"), "run", case, "--out", str(out), "--quiet",
           "--set", "output.fields=false"]
    for s in sets:
        cmd += ["--set", s]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = json.loads((out / "summary.json").read_text())
    subprocess.run(["rm", "-rf", str(out)], check=True)
    return s, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main(ranks="1"):
    doc = {"setup": {"ranks": int(ranks)}}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (case, sets) in CASES.items():
            run(tmp, case, sets + VARIANTS["full_newton"], ranks)  # mesh cache and JIT cache warm
            res, summaries = {}, {}
            for name in ("full_newton", "reuse"):
                s, cpu = run(tmp, case, sets + VARIANTS[name], ranks)
                summaries[name] = s
                t = s["timing"]
                res[name] = {"dofs": s["dofs"], "newton_iterations": t["newton_iterations"], "jacobians": t["jacobians"],
                             "linear_iterations": t["linear_iterations"], "solve_s": t["solve_s"],
                             "assembly_s": t["assembly_s"], "linear_solve_s": t["linear_solve_s"], "cpu_s": cpu}
            a, b = summaries["reuse"], summaries["full_newton"]
            res["cell_voltage_relative_difference"] = abs(a["cell_voltage_V"] - b["cell_voltage_V"]) / abs(b["cell_voltage_V"])
            res["plating_cv_relative_difference"] = abs(a["plating"]["cv"] - b["plating"]["cv"]) / max(abs(b["plating"]["cv"]), 1e-300)
            res["solve_speedup"] = res["full_newton"]["solve_s"] / res["reuse"]["solve_s"]
            res["assembly_plus_linear_speedup"] = (
                (res["full_newton"]["assembly_s"] + res["full_newton"]["linear_solve_s"])
                / (res["reuse"]["assembly_s"] + res["reuse"]["linear_solve_s"]))
            doc[label] = res
            print(label, json.dumps(res), flush=True)
    dest = ROOT / "benchmarks" / "results" / "steady_jacobian_reuse.json"
    dest.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
