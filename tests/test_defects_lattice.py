"""A pinhole lattice in a thin film's resistance field vs the same holes resolved in the film volume.

Quarter cell of a square lattice (spacing 5 um, radius 0.5 um, the hole at the corner), 20 nm
blocking film (1e-12 S/m): resolved, the holes are electrolyte-filled gaps in the film; thin, the
film's ASR is t/kappa_c except over the hole patches (t/kappa_e). Issue 10: cell voltage and
current_focusing_factor within 2 %. The focusing factor must also be the area ratio 1/f times the
share of the current through the hole (a nearly uniform current in the hole at J = 4e-3).
"""

import pytest
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat.meshes.defects import asr_field, build_planar, defect_asr, layout
from licoat.solver.defect_metrics import defect_metrics
from licoat.solver.electrochemistry import SolverOptions, SteadyCell
from licoat.solver.properties import Coating, Kinetics, Operation

S, A, L, T, KC = 5e-6, 0.5e-6, 10e-6, 20e-9, 1e-12


def solve(model):
    lay = layout(dict(kind="pinholes", radius=A, spacing=S), S / 2, S / 2, 3)
    p = dict(kind="planar", dim=3, width=S / 2, depth=S / 2, electrolyte_thickness=L, mesh_size=2e-6,
             anode_thickness=1e-6, coating_thickness=T, coating_model=model, coating_cells=2, defects=lay)
    tm = build_planar(MPI.COMM_WORLD, p)
    kin = Kinetics(200.0, 0.5, 0.5, 0.0, form="linear")
    coat = Coating("film", T, KC, model,
                   asr_field=asr_field(lay, T / KC, defect_asr(lay, T, KC, 1.0)) if model == "thin" else None)
    cell = SteadyCell(MPI.COMM_WORLD, tm, constant_electrolyte(kappa=1.0), kin,
                      Operation("galvanostatic", 20.0, None, 298.15), coating=coat, length_scale=L,
                      options=SolverOptions(linear_solver="direct"))
    cell.solve()
    d = defect_metrics(cell, lay, 20.0, kinetics={n: kin for n in cell.surfaces} if model == "thin" else None)
    return cell.cell_voltage, d, lay


def test_thin_field_matches_resolved_pinholes():
    v_res, d_res, lay = solve("resolved")
    v_thin, d_thin, _ = solve("thin")
    assert v_thin == pytest.approx(v_res, rel=0.02)
    assert d_thin["current_focusing_factor"] == pytest.approx(d_res["current_focusing_factor"], rel=0.02)
    for d in (d_res, d_thin):
        assert d["defect_area_fraction"] == pytest.approx(lay["area_fraction"], rel=0.01)  # pi a^2 / s^2
        assert d["defect_current_fraction"] > 0.9
        assert d["current_focusing_factor"] == pytest.approx(d["defect_current_fraction"] / d["defect_area_fraction"],
                                                             rel=0.03)


@pytest.mark.slow
def test_sinusoid_generator_with_vanishing_amplitude_matches_planar():
    """meshes/sinusoid.py with defects (thin film, patches sampled on a refined, non-conforming mesh) at
    amplitude 10 nm << radius reproduces the planar generator (patches bounded by mesh facets): cell
    voltage and current_focusing_factor within 3 %."""
    from licoat.meshes import build_mesh

    out = {}
    for kind in ("planar", "sinusoid"):
        lay = layout(dict(kind="pinholes", radius=A, spacing=S), S / 2, S / 2, 3)
        p = dict(kind=kind, dim=3, width=S / 2, depth=S / 2, electrolyte_thickness=L, mesh_size=2e-6,
                 anode_thickness=1e-6, coating_thickness=T, coating_model="thin", defects=lay,
                 amplitude=10e-9, wavelength=S, interface_mesh_size=0.5e-6)
        tm = build_mesh(MPI.COMM_WORLD, p)
        kin = Kinetics(200.0, 0.5, 0.5, 0.0, form="linear")
        coat = Coating("film", T, KC, "thin", asr_field=asr_field(lay, T / KC, defect_asr(lay, T, KC, 1.0)))
        cell = SteadyCell(MPI.COMM_WORLD, tm, constant_electrolyte(kappa=1.0), kin,
                          Operation("galvanostatic", 20.0, None, 298.15), coating=coat, length_scale=L,
                          options=SolverOptions(linear_solver="direct"))
        cell.solve()
        out[kind] = (cell.cell_voltage, defect_metrics(cell, lay, 20.0, kinetics={n: kin for n in cell.surfaces}))
    (v_p, d_p), (v_s, d_s) = out["planar"], out["sinusoid"]
    assert v_s == pytest.approx(v_p, rel=0.03)
    assert d_s["current_focusing_factor"] == pytest.approx(d_p["current_focusing_factor"], rel=0.03)
