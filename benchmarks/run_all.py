"""``make bench`` (issue 12, item 5): performance table of licoat against the P1 Poisson reference.

Cases, each at two mesh sizes, each on 1 and 2 ranks (``benchmarks/bench_case.py`` per point):
the default case (2D), a 3D planar cell (bare Li), a 3D fibre host and a 3D foam. Per point: DOFs,
meshing (the 1-rank run meshes; the 2-rank run reads the cache), mesh I/O (reading the XDMF/HDF5
cache entry), Jacobian assembly and linear solve per Newton step, Krylov iterations per Newton step,
peak memory per rank, and the P1 Poisson CG + GAMG solve at the same DOFs in the same process.
Targets (issue 12): Newton step <= 1.5x Poisson, Jacobian assembly <= 0.3x the linear solve, mesh load
<= 5 % of the run, 1 -> 2 ranks solve efficiency >= 80 %. Ratios only; nothing asserts.

Elasticity (issue 12, item 4; target <= 5x Poisson): the linear elasticity solve of a 3D coated Li
anode (P2, CG preconditioned by the P2 -> P1 p-multigrid, ``benchmarks/bench_elasticity.py``) at two mesh sizes, 1 and 2 ranks, against the P1 Poisson reference at
the same DOFs, in its own table. Krylov growth under refinement and coating contrast: ``--scripts`` runs
``benchmarks/krylov_contrast.py`` with the rest.

Writes ``benchmarks/results.json`` and ``benchmarks/results.md``. Sizes are moderate (about 10-20
minutes on 2 cores); ``--big`` adds the issue's sizes (3D planar 20 x 20 x 50 um at 0.5 um, a ~1 M DOF
fibre host; ``--big=planar`` the planar one only); ``--quick`` runs only the coarse default and 3D planar points (a smoke test);
``--scripts`` also runs every other benchmark script in this folder afterwards; ``--retable`` recomputes the
per-Newton figures from the stored events and rewrites the two files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
TIMEOUT_S = 3600

PLANAR3D = ["geometry.dim=3", "geometry.width=10 um", "geometry.depth=10 um", "geometry.electrolyte_thickness=20 um",
            "coating.material=none", "coating.thickness=0 nm"]
# (name, case file, {size label: overrides})
POINTS = [
    ("default 2D", "cases/default.toml", {
        "h = 5 um": [],
        "h = 2.5 um": ["geometry.mesh_size=2.5 um", "geometry.interface_mesh_size=1 um"]}),
    ("planar 3D", "cases/planar.toml", {
        "h = 1 um": PLANAR3D + ["geometry.mesh_size=1 um"],
        "h = 0.5 um": PLANAR3D + ["geometry.mesh_size=0.5 um"]}),
    ("fibre host 3D", "cases/fibers.toml", {
        "h = 2 um": [],
        "h = 1.5 um": ["geometry.mesh_size=1.5 um", "geometry.interface_mesh_size=0.4 um"]}),
    ("foam 3D", "cases/foam.toml", {
        "h = 1.5 um": ["geometry.mesh_size=1.5 um", "geometry.interface_mesh_size=0.6 um"],
        "h = 1 um": []}),
]
BIG = [
    ("planar 3D (issue size)", "cases/planar.toml", {
        "20x20x50 um, h = 0.5 um": ["geometry.dim=3", "geometry.width=20 um", "geometry.depth=20 um",
                                    "geometry.electrolyte_thickness=50 um", "coating.material=none", "coating.thickness=0 nm",
                                    "geometry.mesh_size=0.5 um"]}),
    ("fibre host 3D (~1 M DOFs)", "cases/fibers.toml", {
        "h = 0.6 um": ["geometry.mesh_size=0.6 um", "geometry.interface_mesh_size=0.15 um", "output.fields=false"]}),
]


ELASTICITY = {"h = 1 um": 1.0, "h = 0.6 um": 0.6}  # mesh size of bench_elasticity.py


def run_elasticity(h_um, ranks):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, str(HERE / "bench_elasticity.py"), out, str(h_um)]
    if ranks > 1:
        cmd = [str(BIN / "mpiexec"), "-n", str(ranks)] + cmd
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout)[-2000:]}
    row = json.loads(Path(out).read_text())
    os.unlink(out)
    return row


def elasticity_table(rows) -> str:
    head = ("| case | size | ranks | DOFs | assembly s | linear solve s | Krylov its | Poisson s (its) | "
            "elasticity / Poisson |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if "error" in r:
            lines.append(f"| elasticity | {r['size']} | {r['ranks']} | failed: {r['error'].splitlines()[-1][:80]} |")
            continue
        lines.append(f"| {r['case']} | {r['size']} | {r['ranks']} | {r['dofs']} | {fmt(r['assembly_s'])} | "
                     f"{fmt(r['linear_solve_s'])} | {r['krylov_iterations']} | {fmt(r['poisson']['total_s'])} "
                     f"({r['poisson']['iterations']}) | {fmt(r['elasticity_over_poisson'], '.2f')} |")
    return "\n".join(lines) + "\n"


def run_point(case, overrides, ranks, cache):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, str(HERE / "bench_case.py"), case, out, cache]
    for o in overrides:
        cmd += ["--set", o]
    if ranks > 1:
        cmd = [str(BIN / "mpiexec"), "-n", str(ranks)] + cmd
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout)[-2000:], "returncode": p.returncode,
                "wall_s": time.perf_counter() - t0}
    row = json.loads(Path(out).read_text())
    os.unlink(out)
    return row


def fmt(x, spec=".3g"):
    return "–" if x is None else format(x, spec)


def table(rows) -> str:
    head = ("| case | size | ranks | DOFs | meshing s | mesh I/O s | mesh read / run | Jacobian s (one) | "
            "Jacobians/Newton | linear solve s/Newton | Krylov its/Newton | Newton step s | Poisson s (its) | Newton / Poisson | "
            "Jacobian (one) / linear | peak MiB/rank | solve efficiency 1->2 |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['name']} | {r['size']} | {r['ranks']} | failed: {r['error'].splitlines()[-1][:80]} |")
            continue
        t = r["timing"]
        lines.append(
            f"| {r['name']} | {r['size']} | {r['ranks']} | {r['dofs']} | {fmt(r.get('meshing_s'))} | "
            f"{fmt(t.get('mesh_io_s'))} | {fmt(r.get('mesh_read_share'), '.1%')} | "
            f"{fmt(r['jacobian_per_newton_s'])} | {fmt(r.get('jacobians_per_newton'), '.2f')} | "
            f"{fmt(r['linear_solve_per_newton_s'])} | "
            f"{fmt(r['krylov_per_newton'], '.1f')} | {fmt(r['newton_step_s'])} | "
            f"{fmt(r['poisson']['total_s'])} ({r['poisson']['iterations']}) | {fmt(r['newton_step_over_poisson'], '.2f')} | "
            f"{fmt(r['jacobian_over_linear_solve'], '.2f')} | {fmt(r['peak_rss_mib'], '.0f')} | "
            f"{fmt(r.get('solve_efficiency'), '.0%')} |")
    return "\n".join(lines) + "\n"


def main(argv):
    # --big: both of the issue's sizes; --big=planar: the 402 k-DOF planar cell only (the ~1 M fibre host meshed
    # directly takes ~15 min on 2 cores)
    big = [b for b in BIG if "--big" in argv or ("--big=planar" in argv and b[0].startswith("planar"))]
    points = POINTS + big
    if "--quick" in argv:
        points = [(n, c, dict(list(s.items())[:1])) for n, c, s in POINTS[:2]]
    rows = []
    t_all = time.perf_counter()
    for name, case, sizes in points:
        for size, overrides in sizes.items():
            with tempfile.TemporaryDirectory(prefix="licoat-bench-cache-") as cache:
                serial = None
                for ranks in (1, 2):
                    print(f"== {name}, {size}, {ranks} rank(s)", flush=True)
                    try:
                        r = run_point(case, overrides, ranks, cache)
                    except subprocess.TimeoutExpired:
                        r = {"error": f"timed out after {TIMEOUT_S} s"}
                    r.update(name=name, size=size, ranks=ranks)
                    if "error" not in r:
                        if ranks == 1:
                            serial = r
                        elif serial is not None:
                            r["solve_efficiency"] = serial["newton_step_s"] / (2 * r["newton_step_s"])
                        print(f"   {r['dofs']} DOFs, Newton step {r['newton_step_s']:.3g} s = "
                              f"{r['newton_step_over_poisson']:.2f} x Poisson, wall {r['wall_s']:.1f} s", flush=True)
                    else:
                        print("   failed:", r["error"].splitlines()[-1] if r["error"] else "", flush=True)
                    rows.append(r)
    elastic = []
    for size, h_um in (list(ELASTICITY.items())[:1] if "--quick" in argv else ELASTICITY.items()):
        for ranks in (1, 2):
            print(f"== elasticity, {size}, {ranks} rank(s)", flush=True)
            try:
                r = run_elasticity(h_um, ranks)
            except subprocess.TimeoutExpired:
                r = {"error": f"timed out after {TIMEOUT_S} s"}
            r.update(size=size, ranks=ranks)
            if "error" not in r:
                print(f"   {r['dofs']} DOFs, {r['total_s']:.3g} s = {r['elasticity_over_poisson']:.2f} x Poisson, "
                      f"{r['krylov_iterations']} its", flush=True)
            elastic.append(r)
    doc = {"machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()}, "total_s": time.perf_counter() - t_all,
           "rows": rows, "elasticity": elastic}
    write_results(doc)
    if "--scripts" in argv:
        for script in sorted(HERE.glob("*.py")):
            if script.name not in ("run_all.py", "bench_case.py", "bench_elasticity.py"):
                print(f"== {script.name}", flush=True)
                subprocess.run([sys.executable, str(script)], check=False, cwd=ROOT)


def retable():
    """Recompute the per-Newton figures of benchmarks/results.json from its stored PETSc events and summary
    timings (``bench_case.per_newton``) and rewrite both files, without running anything again."""
    sys.path.insert(0, str(HERE))
    from bench_case import per_newton, ratios

    doc = json.loads((HERE / "results.json").read_text())
    serial = None
    for r in doc["rows"]:
        if "error" in r:
            continue
        r.update(per_newton(r["events"], r["timing"]))
        r.update(ratios(r))
        if r["ranks"] == 1:
            serial = r
        elif serial is not None and serial["name"] == r["name"] and serial["size"] == r["size"]:
            r["solve_efficiency"] = serial["newton_step_s"] / (2 * r["newton_step_s"])
    write_results(doc)


def write_results(doc):
    rows, elastic = doc["rows"], doc["elasticity"]
    (HERE / "results.json").write_text(json.dumps(doc, indent=2, default=float) + "\n")
    md = ["# licoat benchmarks (`make bench`, benchmarks/run_all.py)", "",
          f"{doc['machine']['cpus']} CPUs, load average at the end {doc['machine']['load_average'][0]:.1f}; "
          f"total {doc['total_s']:.0f} s. "
          "Per-Newton times from PETSc log events; 'mesh read / run' is reading the cache entry over the wall time of the run "
          "as it would be with its mesh read from the cache (its own meshing replaced by the read); solve efficiency = Newton step (1 rank) / (2 x Newton step (2 ranks)).", "", table(rows),
          "## Elasticity vs the Poisson reference (target <= 5x)", "",
          "Assembly + CG solve (P2, rtol 1e-8 on the unpreconditioned residual, P2 -> P1 p-multigrid: Chebyshev/Jacobi on P2, the P1 level factorised up to 10 k DOFs, else one GAMG V-cycle; "
          "the Poisson reference interleaved with the elasticity solves, the fastest of three of each) "
          "over the P1 Poisson CG + GAMG assembly + solve (rtol 1e-8) at the same DOFs.", "", elasticity_table(elastic)]
    (HERE / "results.md").write_text("\n".join(md))
    print(table(rows))
    print(elasticity_table(elastic))


if __name__ == "__main__":
    retable() if sys.argv[1:] == ["--retable"] else main(sys.argv[1:])
