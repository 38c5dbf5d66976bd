"""The review case library at its default resolution (issue 11, speed target: under 30 minutes on 2 cores).

Runs every case and sweep file in ``cases/review/`` through ``licoat sweep`` (a case file becomes a
one-point sweep), ``--jobs 2`` points at a time, one rank each, into ``<work>/<name>/``, and writes

* ``benchmarks/results/review_library.json``: per file the wall time, the points, their status and main
  metrics, and the total against the 1800 s target (a ratio; nothing asserts);
* ``benchmarks/results/review_library.md``: the predictions table (one row per point) that the README
  section on the review's coatings is made from.

``--bands`` adds the low/high runs of the estimated properties (several times longer); ``--only NAME``
runs the files whose name contains NAME; ``--work DIR`` keeps the sweep directories (default: a temporary
directory), so a second call resumes instead of rerunning.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_S = 1800.0
COLS = [("cell voltage (V)", "cell_voltage_V"), ("plating cv", "plating.cv"), ("max/mean", "plating.max_over_mean"),
        ("coating drop (V)", "overpotentials_V.coating_ohmic"), ("host top/bottom", "host.top_to_bottom_ratio")]


def _fmt(v: str) -> str:
    try:
        return f"{float(v):.3g}"
    except (TypeError, ValueError):
        return v or ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bands", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--work", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="licoat-review-"))
    files = [f for f in sorted((ROOT / "cases" / "review").glob("*.toml")) if args.only in f.stem]
    sys.path.insert(0, str(ROOT))
    from licoat.sweep import is_sweep_file

    out = {"target_s": TARGET_S, "jobs": args.jobs, "bands": args.bands, "files": []}
    rows_md = []
    t_all = time.perf_counter()
    for f in files:
        d = work / f.stem
        src = f
        if not is_sweep_file(f):  # a case file: a one-point sweep over nothing but its own base
            src = work / f"{f.stem}.sweep.toml"
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_text(f'base = "{f}"\n[vary]\n"output.fields" = [true]\n')
        cmd = [sys.executable, "-m", "licoat.cli", "sweep", str(src), "--out", str(d), "--jobs", str(args.jobs)]
        if args.bands:
            cmd.append("--bands")
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        rows = list(csv.DictReader(open(d / "results.csv"))) if (d / "results.csv").exists() else []
        bands = {}
        if (d / "bands.csv").exists():
            for b in csv.DictReader(open(d / "bands.csv")):
                bands[(b["point"], b["metric"])] = (b["low"], b["high"])
        entry = {"file": str(f.relative_to(ROOT)), "wall_s": wall, "exit_code": r.returncode, "points": []}
        for row in rows:
            entry["points"].append({"point": row["point"], "status": row["status"], "reason": row["reason"],
                                    **{k: row.get(k, "") for _, k in COLS}})
            cells = []
            for _, k in COLS:
                v = _fmt(row.get(k, ""))
                if (row["point"], k) in bands:
                    lo, hi = bands[(row["point"], k)]
                    v += f" [{_fmt(lo)}, {_fmt(hi)}]"
                cells.append(v)
            label = f.stem + ("" if len(rows) == 1 else f" {row['point']}")
            status = row["status"] if row["status"] != "failed" else f"failed ({row['exit_code']}): {row['reason'][:120]}"
            rows_md.append(f"| {label} | {status} | " + " | ".join(cells) + " |")
        out["files"].append(entry)
        print(f"{f.stem}: {wall:.1f} s, exit {r.returncode}, {len(rows)} point(s)", flush=True)
    total = time.perf_counter() - t_all
    out.update(total_s=total, ratio_to_target=total / TARGET_S, work=str(work))
    res = HERE / "results"
    res.mkdir(exist_ok=True)
    (res / "review_library.json").write_text(json.dumps(out, indent=2) + "\n")
    head = "| system | status | " + " | ".join(c for c, _ in COLS) + " |\n|" + "---|" * (len(COLS) + 2) + "\n"
    (res / "review_library.md").write_text(
        f"Review library, {len(files)} files, {total:.0f} s ({total / TARGET_S:.2f} x the 30 min target), "
        f"--jobs {args.jobs}{', with bands' if args.bands else ''}.\n\n" + head + "\n".join(rows_md) + "\n")
    print(f"total {total:.0f} s = {total / TARGET_S:.2f} x target; {res / 'review_library.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
