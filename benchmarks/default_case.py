"""Benchmark: the default case (2D) end to end, cold (empty form cache) and warm, 1 and 2 ranks.

Target (foundation issue): under 30 s on 2 cores, form compilation included. Writes
benchmarks/results/default_case.json; never asserts (these machines are noisy).
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


def run(args, env):
    t0 = time.perf_counter()
    subprocess.run(args, check=True, env=env, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def main():
    out = {}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as res:
        env = dict(os.environ, XDG_CACHE_HOME=cache)  # empty FFCx/JIT cache: cold start
        case = ["run", "cases/default.toml", "--quiet"]
        out["cold_1rank_s"] = run([str(BIN / "licoat"), *case, "--out", f"{res}/a"], env)
        out["warm_1rank_s"] = run([str(BIN / "licoat"), *case, "--out", f"{res}/b"], env)
        out["warm_2rank_s"] = run([str(BIN / "mpiexec"), "-n", "2", str(BIN / "licoat"), *case, "--out", f"{res}/c"], env)
        s = json.loads(Path(f"{res}/b/summary.json").read_text())
        out["summary_timing"] = s["timing"]
        out["dofs"] = s["dofs"]
    out["target_s"] = 30.0
    out["cold_over_target"] = out["cold_1rank_s"] / out["target_s"]
    out["speedup_2_ranks"] = out["warm_1rank_s"] / out["warm_2rank_s"]
    dest = ROOT / "benchmarks" / "results" / "default_case.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
