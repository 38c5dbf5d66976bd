"""Periodic cracks in a blocking film (2D) and the defect layout.

Closed form (conformal map, derived in the docstring of :func:`constriction`): equipotential strips of
width w with period p on an insulating plane, uniform current far away, carry the constriction
resistance (per period, per metre of depth)

    R_c = (1/(pi kappa)) ln(1 / sin(pi w / (2 p)))

in series with the uniform electrolyte L/(kappa p) — the classical result for a slotted plane /
periodic strip contacts (e.g. Smythe, Static and Dynamic Electricity, 3rd ed., §4.22; Veziroglu and
Chandra for 2D contacts in a channel). Cracks are the strips (fast kinetics through them), the film
blocks elsewhere.
"""

import math

import numpy as np
import pytest
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat.meshes.common import GeometryError
from licoat.meshes.defects import asr_field, build_planar, layout
from licoat.solver.electrochemistry import SolverOptions, SteadyCell
from licoat.solver.metrics import integrate
from licoat.solver.properties import Coating, Kinetics, Operation

VT = 8.314462618 * 298.15 / 96485.33212
P, W_CRACK, L = 10e-6, 1e-6, 20e-6  # period, crack width, electrolyte thickness
KAPPA, KAPPA_FILM, I0 = 1.0, 1e-12, 1e7


def constriction(w, p, kappa):
    """R_c per period: map the half period 0 < x < p/2 by zeta = cos(2 pi z / p) onto a half plane where
    the strip is [cos(pi w/p), 1]; f = A arccosh((2 zeta - 1 - zeta_c)/(1 - zeta_c)) gives
    phi -> A (2 pi y / p + ln(2/(1 - zeta_c))) far away, so R_c,half = ln(1/sin^2(pi w/(2p)))/(pi kappa)
    and the two halves in parallel give R_c."""
    return math.log(1.0 / math.sin(math.pi * w / (2 * p))) / (math.pi * kappa)


def cracked_cell(model, t, i0=I0):
    """Half a period (x in [0, p/2]) with half a crack at x = p/2: R_cell = 2 (L/(kappa p) + R_c)."""
    lay = layout(dict(kind="cracks", width=W_CRACK, spacing=P), P / 2, None, 2)
    lay["cells"] = 20
    p = dict(kind="planar", dim=2, width=P / 2, electrolyte_thickness=L, mesh_size=1e-6, anode_thickness=1e-6,
             coating_thickness=t, coating_model=model, coating_layers=2, defects=lay)
    tm = build_planar(MPI.COMM_WORLD, p)
    coat = Coating("film", t, KAPPA_FILM, model,
                   asr_field=asr_field(lay, t / KAPPA_FILM, t / KAPPA) if model == "thin" else None)
    cell = SteadyCell(MPI.COMM_WORLD, tm, constant_electrolyte(kappa=KAPPA, diffusivity=1e-3),
                      Kinetics(i0, 0.5, 0.5, 0.0, form="linear"), Operation("galvanostatic", 1.0, None, 298.15),
                      coating=coat, length_scale=L, options=SolverOptions(linear_solver="direct"), degree=2)
    cell.solve()
    passed = sum(integrate(cell.comm, cell.plating_current[n] * cell.sm[n]) for n in cell.surfaces)
    assert passed == pytest.approx(cell.footprint, rel=2e-3)  # 1 A/m^2 over the footprint
    return cell, abs(cell.cell_voltage) / cell.footprint


def test_thin_film_cracks_match_the_conformal_map():
    t = 2e-9
    cell, r = cracked_cell("thin", t)
    hole = W_CRACK / 2  # crack area in the half period
    # linear kinetics and the thin film in series over the crack: V/I = (R_ct + t/kappa)/A + <phi>/I
    r_c = (r - (VT / I0 + t / KAPPA) / hole) / 2 - L / (KAPPA * P)
    assert r_c == pytest.approx(constriction(W_CRACK, P, KAPPA), rel=0.01)
    # not the uniform film: the focusing costs more than the electrolyte alone
    assert r > 1.2 * L / (KAPPA * P / 2)


def test_resolved_cracks_match_thin_cracks():
    t = 20e-9
    _, r_thin = cracked_cell("thin", t, i0=1e6)  # J = 20: the solver's residual scaling keeps the balance tight
    _, r_res = cracked_cell("resolved", t, i0=1e6)
    assert r_res == pytest.approx(r_thin, rel=0.02)


def test_layout_lattice_random_and_bad_input():
    lat = layout(dict(kind="pinholes", radius=1e-6, spacing=10e-6), 20e-6, 20e-6, 3)
    assert len(lat["centres"]) == 4 and lat["area_fraction"] == pytest.approx(math.pi / 100)
    quarter = layout(dict(kind="pinholes", radius=1e-6, spacing=10e-6), 5e-6, 5e-6, 3)
    assert quarter["centres"] == [[5e-6, 5e-6]]  # the quarter-cell trick: the hole at the corner
    d = dict(kind="pinholes", radius=0.5e-6, areal_density=2.5e10, placement="random", seed=7)
    a, b = layout(d, 20e-6, 20e-6, 3), layout(d, 20e-6, 20e-6, 3)
    assert a["centres"] == b["centres"] and len(a["centres"]) == 10  # from the seed alone
    assert layout({**d, "seed": 8}, 20e-6, 20e-6, 3)["centres"] != a["centres"]
    c = np.array(a["centres"])
    gaps = np.linalg.norm(c[:, None] - c[None], axis=-1) + np.eye(len(c))
    assert gaps.min() > 2 * 0.5e-6
    cr = layout(dict(kind="cracks", width=1e-6, spacing=5e-6, placement="random", seed=1), 20e-6, None, 2)
    assert len(cr["centres"]) == 4 and cr["area_fraction"] == pytest.approx(0.2)
    with pytest.raises(GeometryError, match="coating.defects.radius"):
        layout(dict(kind="pinholes", radius=5.5e-6, spacing=10e-6), 20e-6, 20e-6, 3)
    with pytest.raises(GeometryError, match="coating.defects.areal_density.*more defect area than film"):
        layout(dict(kind="pinholes", radius=1e-6, areal_density=1e12), 20e-6, 20e-6, 3)
    with pytest.raises(GeometryError, match="coating.defects.spacing.*more defect area than film"):
        layout(dict(kind="cracks", width=2e-6, spacing=1e-6), 20e-6, None, 2)
    with pytest.raises(GeometryError, match="coating.defects.depth"):
        layout(dict(kind="cracks", width=1e-6, spacing=5e-6, depth=1.5), 20e-6, None, 2)
    with pytest.raises(GeometryError, match="uncoated"):
        build_planar(MPI.COMM_WORLD, dict(kind="planar", dim=2, width=5e-6, electrolyte_thickness=L, mesh_size=1e-6,
                                          anode_thickness=1e-6, coating_thickness=0.0, defects=cr))
