"""Benchmark: FEM critical shear-modulus ratio vs the closed form (mechanics.md), and r*(t/lambda).

Usage: python benchmarks/stability_critical_ratio.py [out_dir]
Writes ``stability_critical_ratio.json`` and ``critical_ratio_vs_thickness.png`` to out_dir (default .).
References: Monroe & Newman, J. Electrochem. Soc. 152 (2005) A396; Ahmad & Viswanathan, PRL 119 (2017)
056003; /work/shared/reference/mechanics.md.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
import time

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

from licoat.solver import stability as st  # noqa: E402
from licoat.solver.stability_plot import critical_ratio_vs_thickness  # noqa: E402


def main(out_dir=str(pathlib.Path(__file__).resolve().parent / "results")):
    comm = MPI.COMM_WORLD
    out = pathlib.Path(out_dir)
    V_M, nu_e = 1.3e-5, 0.42
    rows = []
    for nu_s in (0.33, 0.4999):  # 0.5 itself needs a mixed formulation
        for v in (0.0, 0.1, 0.3, 0.5, 0.9, 1.5, 2.0, 3.0, 5.0, 10.0, 1e6):
            t0 = time.perf_counter()
            d = st.critical_ratio_details(comm, nu_e=nu_e, nu_s=nu_s, V_M=V_M, V_plus=v * V_M)
            cf = st.closed_form_critical_ratio(nu_e=nu_e, nu_s=nu_s, v=v)
            rows.append(
                dict(nu_s=nu_s, v=v, fem=d["ratio"], closed_form=cf, rel_err=d["ratio"] / cf - 1,
                     regime=d["regime"], evaluations=d["evaluations"], seconds=time.perf_counter() - t0)
            )
            if comm.rank == 0:
                r = rows[-1]
                print(f"nu_s={nu_s:4.2f} v={v:8.3g}  FEM r*={r['fem']:.5f}  closed={cf:.5f}  "
                      f"err={r['rel_err']:+.2e}  {r['regime']}  ({r['seconds']:.2f} s)")
    t_over_lambda = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 3.0]
    # the review's coatings, from the materials database (G, nu, V+ of each film; Li below)
    from licoat.materials import load_material

    li = load_material("Li")
    mats = {}
    for name in ("LiF", "Al2O3", "alucone", "Li3PO4"):
        m = load_material(name)
        mats[name] = (m.value("shear_modulus"), m.value("poisson_ratio"), m.value("li_partial_molar_volume"))
    data = critical_ratio_vs_thickness(comm, mats, G_e=li.value("shear_modulus"), nu_e=li.value("poisson_ratio"),
                                       V_M=li.value("molar_volume"),
                                       t_over_lambda=t_over_lambda,
                                       out_png=str(out / "critical_ratio_vs_thickness.png"))
    if comm.rank == 0:
        def clean(x):
            return None if isinstance(x, float) and not math.isfinite(x) else x

        js = {"half_space": [{k: clean(v) for k, v in r.items()} for r in rows],
              "finite_coating": {n: {k: ([clean(x) for x in v] if isinstance(v, list) else clean(v))
                                     for k, v in d.items()} for n, d in data.items()}}
        (out / "stability_critical_ratio.json").write_text(json.dumps(js, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
