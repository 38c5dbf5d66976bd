"""Critical shear-modulus ratio of a finite coating against t/lambda (FEM), as a PNG (Agg backend).

For a coating of thickness t on Li with a liquid (traction-free) above, the critical G_s/G_e at which
the elastic stability parameter changes sign is found by the FEM of :mod:`licoat.solver.stability`
(no closed form exists; mechanics.md "Beyond the closed form"). Surface tension is neglected, so only
t/lambda matters. The half-space closed form (Ahmad & Viswanathan, PRL 119 (2017) 056003) is drawn as
the t -> infinity asymptote.
"""

from __future__ import annotations

import math

from licoat.solver import stability as st


def critical_ratio_vs_thickness(
    comm,
    materials: dict,
    G_e: float,
    nu_e: float,
    V_M: float,
    t_over_lambda: list,
    out_png: str,
    *,
    cells_per_wavelength: int = 16,
    degree: int = 2,
) -> dict:
    """Plot r*(t/lambda) for each material ``name -> (G_s, nu_s, V_plus)`` and save ``out_png``.

    All ranks compute (the FEM runs on ``comm``); rank 0 writes the figure. Each material's actual
    G_s/G_e is drawn as a horizontal dashed line: for v = V_+/V_M > 1 the coating is stable where that
    line lies above the curve, for v < 1 where it lies below. Non-finite r* (no sign change in
    [1e-3, 1e3]) are left out of the curve. Returns ``{name: {t_over_lambda, critical_ratio, regime,
    actual_ratio, critical_ratio_half_space_closed_form}}``.
    """
    data = {}
    for name, (G_s, nu_s, V_plus) in materials.items():
        ratios, regimes = [], []
        for tl in t_over_lambda:
            d = st.critical_ratio_details(
                comm,
                nu_e=nu_e,
                nu_s=nu_s,
                V_M=V_M,
                V_plus=V_plus,
                wavelength=1.0,
                coating_thickness=float(tl),
                cells_per_wavelength=cells_per_wavelength,
                degree=degree,
            )
            ratios.append(d["ratio"])
            regimes.append(d["regime"])
        data[name] = {
            "t_over_lambda": [float(t) for t in t_over_lambda],
            "critical_ratio": ratios,
            "regime": regimes,
            "actual_ratio": G_s / G_e,
            "critical_ratio_half_space_closed_form": st.closed_form_critical_ratio(
                nu_e=nu_e, nu_s=nu_s, V_M=V_M, V_plus=V_plus
            ),
        }

    if comm.rank == 0:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        for i, (name, d) in enumerate(data.items()):
            color = f"C{i}"
            pts = [(t, r) for t, r in zip(d["t_over_lambda"], d["critical_ratio"]) if math.isfinite(r)]
            if pts:
                ax.plot(*zip(*pts), "o-", color=color, label=f"{name}: FEM r*")
            cf = d["critical_ratio_half_space_closed_form"]
            if math.isfinite(cf):
                ax.axhline(cf, color=color, ls=":", lw=1)
            ax.axhline(d["actual_ratio"], color=color, ls="--", lw=1, label=f"{name}: G_s/G_e")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("coating thickness / wavelength, t/λ")
        ax.set_ylabel("critical shear-modulus ratio G_s/G_e")
        ax.set_title(f"Critical ratio vs coating thickness (ν_Li = {nu_e:g}; dotted: half-space)", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_png, dpi=120)
        plt.close(fig)
    return data
