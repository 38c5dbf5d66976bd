"""Parameter sweeps: the cartesian product of ``--vary key=v1,v2,...`` over one case file.

Each point runs as an ordinary case into ``<out>/run_<i>`` (meshes are shared through the mesh
cache when only non-geometry keys vary); ``<out>/sweep.csv`` tabulates the varied values with the
main uniformity metrics, and ``<out>/sweep.png`` plots them against the first varied key.
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

from licoat.case import CaseError, apply_overrides, read_toml, validate
from licoat.run import log

METRICS = [
    ("cell_voltage_V", lambda s: s["cell_voltage_V"]),
    ("plating_cv", lambda s: s["plating"]["cv"]),
    ("plating_max_over_mean", lambda s: s["plating"]["max_over_mean"]),
    ("plating_uniform_fraction", lambda s: s["plating"]["uniform_fraction"]),
    ("overpotential_kinetic_V", lambda s: s["overpotentials_V"]["kinetic"]),
    ("overpotential_coating_ohmic_V", lambda s: s["overpotentials_V"]["coating_ohmic"]),
    ("depletion_time_s", lambda s: s.get("depletion_time_s")),
    ("host_top_to_bottom_ratio", lambda s: s.get("host", {}).get("top_to_bottom_ratio")),
]


def parse_vary(items: list[str]) -> list[tuple[str, list[str]]]:
    """``key=v1,v2`` -> (key, [v1, v2]); values are kept as written (TOML or strings with units)."""
    out = []
    for item in items:
        if "=" not in item:
            raise CaseError(f"--vary {item!r}: expected section.key=value1,value2,...")
        key, values = item.split("=", 1)
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise CaseError(f"--vary {item!r}: no values")
        out.append((key.strip(), vals))
    return out


def points(case_path: str, overrides: list[str], vary: list[tuple[str, list[str]]]):
    """Validate every point first, so a bad value fails the sweep before anything runs."""
    raw = apply_overrides(read_toml(case_path), overrides)
    keys = [k for k, _ in vary]
    out = []
    for combo in itertools.product(*[v for _, v in vary]):
        sets = [f"{k}={_quote(v)}" for k, v in zip(keys, combo)]
        out.append((dict(zip(keys, combo)), validate(apply_overrides(raw, sets))))
    return out


def _quote(v: str) -> str:
    try:
        float(v)
        return v
    except ValueError:
        return v if v[:1] in "'\"[{" or v in ("true", "false") else f"'{v}'"


def run_sweep(comm, case_path: str, out: Path, overrides: list[str], vary_items: list[str], verbose=True) -> list[dict]:
    from licoat.run import run_case

    vary = parse_vary(vary_items)
    pts = points(case_path, overrides, vary)
    out = Path(out)
    rows = []
    for i, (values, case) in enumerate(pts):
        s = run_case(comm, case, out / f"run_{i:03d}", case_path, verbose=verbose)
        row = {"run": f"run_{i:03d}", **values}
        row.update({name: get(s) for name, get in METRICS})
        rows.append(row)
        log.info("sweep point %d/%d %s: cv = %.4g", i + 1, len(pts), values, row["plating_cv"])
    if comm.rank == 0:
        with open(out / "sweep.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        (out / "sweep.json").write_text(json.dumps(rows, indent=2, default=float) + "\n")
        _plot(rows, vary[0][0], out / "sweep.png")
    comm.barrier()
    return rows


def _plot(rows, key, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(r[key]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    axes[0].plot(labels, [r["plating_cv"] for r in rows], "o-")
    axes[0].set_ylabel("plating current cv (-)")
    axes[1].plot(labels, [r["cell_voltage_V"] for r in rows], "s-")
    axes[1].set_ylabel("cell voltage (V)")
    for ax in axes:
        ax.set_xlabel(key)
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
