"""A/B: transient Newton with the Jacobian reused (chord iteration, Eisenstat-Walker forcing, extrapolated
initial guess; the default) against full Newton from the last step (``solver.reuse_jacobian = false``,
``solver.extrapolate = false``), on the 3D Cu fibre host of cases/fibers.toml (bare Cu, no coating).

Records per variant: time steps, Newton (or chord) iterations, Jacobian assemblies, Krylov iterations,
``solve_s``, ``assembly_s``, ``linear_solve_s`` and the process CPU time (the machine is shared: CPU time is
the steadier measure), and the largest relative difference of the summary's cell voltage and deposit
statistics between the two (the same answer to the Newton tolerances).
Writes benchmarks/results/jacobian_reuse.json.

Usage: python benchmarks/jacobian_reuse.py [mesh_size_um] [capacity] [ranks]
"""

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VARIANTS = {"reuse": [], "full_newton": ["--set", "solver.reuse_jacobian=false", "--set", "solver.extrapolate=false"]}


def run(tmp, name, h_um, capacity, ranks):
    out = Path(tmp) / name
    cmd = [str(BIN / "mpiexec"), "-n", ranks, str(BIN / "licoat"), "run", "cases/fibers.toml", "--out", str(out),
           "--quiet", "--set", "host.material='Cu'", "--set", "coating.material='none'",
           "--set", "coating.thickness='0 nm'", "--set", f"geometry.mesh_size='{h_um} um'",
           "--set", f"operation.capacity='{capacity}'", "--set", "output.fields=false", *VARIANTS[name]]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = json.loads((out / "summary.json").read_text())
    return s, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main(h_um="2", capacity="0.02 mAh/cm^2", ranks="1"):
    res, summaries = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("full_newton", "reuse"):
            s, cpu = run(tmp, name, h_um, capacity, ranks)
            summaries[name] = s
            t = s["timing"]
            res[name] = {"dofs": s["dofs"], "time_steps": s["time_steps"], "newton_iterations": t["newton_iterations"],
                         "jacobians": t.get("jacobians", t["newton_iterations"]),
                         "linear_iterations": t["linear_iterations"], "solve_s": t["solve_s"],
                         "assembly_s": t["assembly_s"], "linear_solve_s": t["linear_solve_s"], "cpu_s": cpu}
    a, b = summaries["reuse"], summaries["full_newton"]
    pairs = [(a["cell_voltage_V"], b["cell_voltage_V"])] + [
        (a["deposit"][k], b["deposit"][k]) for k in ("thickness_mean_m", "thickness_rms_m", "thickness_max_over_mean",
                                                    "bottom_to_top_fill_ratio")]
    res["max_relative_difference"] = max(abs(x - y) / max(abs(y), 1e-300) for x, y in pairs)
    res["cpu_ratio_reuse_over_full"] = res["reuse"]["cpu_s"] / res["full_newton"]["cpu_s"]
    res["setup"] = {"mesh_size_um": float(h_um), "capacity": capacity, "ranks": int(ranks),
                    "case": "cases/fibers.toml, bare Cu, no coating"}
    dest = ROOT / "benchmarks" / "results" / "jacobian_reuse.json"
    dest.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
