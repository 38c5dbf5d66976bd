"""One block per field pair ("blocked", before) vs ONE vector-valued P1 unknown ("vector", now): the
Newton system's assembly and solve, measured in one run, interleaved point by point.

"before" is a checkout of the code before the vector unknown (commit ``BEFORE``, or a path given with
``--before PATH``); it runs with this venv, its ``licoat`` package imported from that checkout by a
small meta-path finder (the editable install points at this tree). Every point is
``benchmarks/bench_case.py`` (the case, then the P1 Poisson CG + GAMG reference at the same DOFs in the
same process): Jacobian assembly per Newton step, residual per evaluation, Newton step / Poisson,
Krylov iterations per Newton step, plus the summary's cell voltage and plating metrics to check that
both codes solve the same problem. Cases: the bare-Li 3D planar cell (P1 fields ĉ, φ̂: block size 2)
and the 3D fibre host with a thin film (ĉ, φ̂, φ_s, ψ̂: block size 4), two mesh sizes each, 1 and 2 ranks.

Usage: python benchmarks/assembly_blocked_vs_vector.py [--before PATH] [--quick] [--only NAME]
Writes benchmarks/results/assembly_blocked_vs_vector.json.
"""

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
BEFORE = "ab43f2e"  # main before the vector unknown
OUT = HERE / "results" / "assembly_blocked_vs_vector.json"
TIMEOUT_S = 1800

PLANAR3D = ["geometry.dim=3", "geometry.width=10 um", "geometry.depth=10 um", "geometry.electrolyte_thickness=20 um",
            "coating.material=none", "coating.thickness=0 nm"]
POINTS = [
    ("planar 3D", "cases/planar.toml", {"h = 1 um": PLANAR3D + ["geometry.mesh_size=1 um"],
                                        "h = 0.5 um": PLANAR3D + ["geometry.mesh_size=0.5 um"]}),
    ("fibre host 3D", "cases/fibers.toml", {"h = 2 um": ["output.fields=false"],
                                            "h = 1.5 um": ["geometry.mesh_size=1.5 um", "geometry.interface_mesh_size=0.4 um",
                                                           "output.fields=false"]}),
]

# imports licoat (and its folders mapped into the namespace) from CODE_ROOT, then runs bench_case.py
BOOT = r"""
import importlib.abc, importlib.util, os, runpy, sys
root = os.environ["LICOAT_CODE_ROOT"]
dirs = {"licoat": "licoat", "licoat.solver": "solver", "licoat.meshes": "meshes", "licoat.materials": "materials"}
class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in dirs:
            d = os.path.join(root, dirs[name])
            return importlib.util.spec_from_file_location(name, os.path.join(d, "__init__.py"), submodule_search_locations=[d])
        return None
sys.meta_path.insert(0, Finder())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_point(code_root, case, overrides, ranks, cache):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, "-c", BOOT, str(HERE / "bench_case.py"), case, out, cache]
    for o in overrides:
        cmd += ["--set", o]
    if ranks > 1:
        cmd = [str(BIN / "mpiexec"), "-n", str(ranks)] + cmd
    env = dict(os.environ, LICOAT_CODE_ROOT=str(code_root), OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, cwd=code_root, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout)[-2000:]}
    row = json.loads(Path(out).read_text())
    os.unlink(out)
    return row


KEYS = ("dofs", "jacobian_per_newton_s", "residual_per_eval_s", "linear_solve_per_newton_s", "newton_step_s",
        "krylov_per_newton", "newton_iterations", "newton_step_over_poisson", "jacobian_over_linear_solve",
        "peak_rss_mib", "metrics")


def main(argv):
    before = Path(argv[argv.index("--before") + 1]) if "--before" in argv else None
    tmp_tree = None
    if before is None:
        tmp_tree = Path(tempfile.mkdtemp(prefix="licoat-before-")) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tmp_tree), BEFORE], cwd=ROOT, check=True)
        before = tmp_tree
    points = [(n, c, dict(list(s.items())[:1])) for n, c, s in POINTS] if "--quick" in argv else POINTS
    if "--only" in argv:  # a substring of the case names
        points = [p for p in points if argv[argv.index("--only") + 1] in p[0]]
    rows = []
    t_all = time.perf_counter()
    try:
        for name, case, sizes in points:
            for size, overrides in sizes.items():
                with tempfile.TemporaryDirectory(prefix="licoat-bench-cache-") as cache:
                    for ranks in (1, 2):
                        pair = {}
                        for label, code in (("blocked", before), ("vector", ROOT)):
                            print(f"== {name}, {size}, {ranks} rank(s), {label}", flush=True)
                            r = run_point(code, case, overrides, ranks, cache)
                            if "error" in r:
                                print("   failed:", r["error"].splitlines()[-1] if r["error"] else "", flush=True)
                                pair[label] = r
                                continue
                            pair[label] = {k: r.get(k) for k in KEYS} | {"poisson_s": r["poisson"]["total_s"],
                                                                         "poisson_iterations": r["poisson"]["iterations"],
                                                                         "timing": r["timing"]}
                            print(f"   {r['dofs']} DOFs, Jacobian {r['jacobian_per_newton_s']:.3g} s, residual "
                                  f"{r['residual_per_eval_s']:.3g} s, Newton step {r['newton_step_s']:.3g} s = "
                                  f"{r['newton_step_over_poisson']:.2f} x Poisson, {r['krylov_per_newton']:.1f} its/Newton",
                                  flush=True)
                        row = {"name": name, "size": size, "ranks": ranks, **pair}
                        if all("error" not in pair.get(k, {"error": 1}) for k in ("blocked", "vector")):
                            b, v = pair["blocked"], pair["vector"]
                            row["jacobian_speedup"] = b["jacobian_per_newton_s"] / v["jacobian_per_newton_s"]
                            row["residual_speedup"] = b["residual_per_eval_s"] / v["residual_per_eval_s"]
                            row["newton_step_speedup"] = b["newton_step_s"] / v["newton_step_s"]
                            common = set(b["metrics"]) & set(v["metrics"])
                            row["max_metric_rel_diff"] = max((abs(b["metrics"][k] - v["metrics"][k]) /
                                                              max(abs(b["metrics"][k]), 1e-300)
                                                              for k in common if b["metrics"][k]), default=0.0)
                        rows.append(row)
    finally:
        if tmp_tree is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(tmp_tree)], cwd=ROOT, check=False)
    doc = {"what": __doc__.split("\n\n")[0], "before": BEFORE if tmp_tree is not None else str(before),
           "machine": {"cpus": os.cpu_count(), "load_average_end": os.getloadavg()},
           "total_s": time.perf_counter() - t_all, "rows": rows}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=2, default=float) + "\n")
    for r in rows:
        print(r["name"], r["size"], r["ranks"], {k: round(r[k], 2) for k in r if k.endswith("speedup")})


if __name__ == "__main__":
    main(sys.argv[1:])
