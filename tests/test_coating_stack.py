"""Coating stacks: layers in series, thin, resolved or both (issue: composable physics, item 4).

Closed form (physics.md §3): a single-ion conducting layer of thickness t_k and conductivity κ_k carries
the plating current i with an ohmic drop i t_k/κ_k; layers in series add their area-specific resistances,
ASR = Σ t_k/κ_k. On a planar anode every layer carries the applied current, so each layer's drop is
exactly i t_k/κ_k (P1 is exact for the linear potential across a layer).
"""

import pytest
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat import setup
from licoat.case import CaseError, validate
from licoat.meshes import build_mesh
from licoat.run import solve_steady
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Coating, CoatingStack, Kinetics, Operation

COMM = MPI.COMM_WORLD


def run(raw):
    case = validate(raw)
    tm = build_mesh(COMM, setup.geometry_params(case))
    return solve_steady(COMM, case, tm)


def planar_case(stack, i="2 mA/cm^2"):
    return {"geometry": {"kind": "planar", "width": "4 um", "electrolyte_thickness": "20 um", "mesh_size": "2 um",
                         "interface_mesh_size": "0.5 um"},
            "coating": {"stack": stack},
            "anode": {"exchange_current_density": "1 mA/cm^2"},
            "operation": {"current_density": i}}


LAYERS = [{"material": "Al2O3", "thickness": "20 nm", "ionic_conductivity": "1e-6 S/cm"},
          {"material": "alucone", "thickness": "30 nm", "ionic_conductivity": "3e-6 S/cm"}]


@pytest.mark.parametrize("models", [("resolved", "resolved"), ("thin", "resolved"), ("thin", "thin")])
def test_planar_stack_layer_drops_match_the_series_closed_form(models):
    """coating_layers[k].ohmic_V = -i t_k/κ_k (plating: the potential falls towards the metal) within 0.5 %,
    and overpotentials_V.coating_ohmic is their sum."""
    stack = [dict(layer, model=m) for layer, m in zip(LAYERS, models)]
    s = run(planar_case(stack))
    i = 20.0  # A/m^2
    expected = [-i * 20e-9 / 1e-4, -i * 30e-9 / 3e-4]  # -4 mV, -2 mV
    layers = s["coating_layers"]
    assert [lay["material"] for lay in layers] == ["Al2O3", "alucone"]
    assert [lay["model"] for lay in layers] == list(models)
    assert [lay["thickness_m"] for lay in layers] == pytest.approx([20e-9, 30e-9])
    for lay, e in zip(layers, expected):
        assert lay["ohmic_V"] == pytest.approx(e, rel=5e-3)
    assert s["overpotentials_V"]["coating_ohmic"] == pytest.approx(sum(lay["ohmic_V"] for lay in layers), rel=1e-12)


def sinusoid(model, coating, i0=1000.0):
    p = dict(kind="sinusoid", dim=2, width=20e-6, electrolyte_thickness=30e-6, mesh_size=2e-6,
             interface_mesh_size=0.5e-6, amplitude=4e-6, wavelength=20e-6, anode_thickness=5e-6,
             coating_thickness=CoatingStack.of(coating).thickness, coating_model=model)
    if model == "resolved" and len(CoatingStack.of(coating)) > 1:
        p["coating_stack"] = [layer.thickness for layer in coating.layers]
    cell = SteadyCell(COMM, build_mesh(COMM, p), constant_electrolyte(), Kinetics(i0, 0.5, 0.5, 0.0),
                      Operation("galvanostatic", 50.0, None, 298.15), coating=coating, length_scale=30e-6)
    return cell.solve().metrics()


def test_two_thin_layers_equal_one_thin_layer_of_the_summed_asr():
    """ASR in series: (t1/κ1 + t2/κ2) as two thin layers or as one layer, to 1e-10 relative."""
    two = CoatingStack((Coating("a", 10e-9, 1e-3, "thin"), Coating("b", 15e-9, 5e-4, "thin")))
    asr = 10e-9 / 1e-3 + 15e-9 / 5e-4
    one = Coating("ab", 25e-9, 25e-9 / asr, "thin")
    m2, m1 = sinusoid("thin", two), sinusoid("thin", one)
    assert m1["plating"]["cv"] > 0.05
    assert m2["cell_voltage_V"] == pytest.approx(m1["cell_voltage_V"], rel=1e-10)
    for k in ("cv", "current_density_min_A_m2", "current_density_max_A_m2"):
        assert m2["plating"][k] == pytest.approx(m1["plating"][k], rel=1e-10), k
    assert sum(m2["coating_layer_drops_V"]) == pytest.approx(m1["overpotentials_V"]["coating_ohmic"], rel=1e-10)
    # the film drop splits between the layers in proportion to their ASRs
    d = m2["coating_layer_drops_V"]
    assert d[0] / d[1] == pytest.approx((10e-9 / 1e-3) / (15e-9 / 5e-4), rel=1e-12)


def test_thin_and_resolved_bilayers_agree_on_a_sinusoid():
    """A 10 + 10 nm bilayer (κ = 1e-3 and 3e-3 S/m) far thinner than the surface mesh: the thin stack
    reproduces the resolved one (two meshed shells) within 1 % (cv within 2 %), as for one layer."""
    def stack(model):
        return CoatingStack((Coating("inner", 10e-9, 1e-3, model), Coating("outer", 10e-9, 3e-3, model)))

    res, thin = sinusoid("resolved", stack("resolved")), sinusoid("thin", stack("thin"))
    assert res["plating"]["cv"] > 0.05
    assert thin["cell_voltage_V"] == pytest.approx(res["cell_voltage_V"], rel=0.01)
    for k in ("current_density_min_A_m2", "current_density_mean_A_m2", "current_density_max_A_m2"):
        assert thin["plating"][k] == pytest.approx(res["plating"][k], rel=0.01), k
    assert thin["plating"]["cv"] == pytest.approx(res["plating"]["cv"], rel=0.02)
    for a, b in zip(thin["coating_layer_drops_V"], res["coating_layer_drops_V"]):
        assert a == pytest.approx(b, rel=0.01)


@pytest.mark.parametrize("stack, key", [
    ([], "coating.stack"),
    ([{"material": "Al2O3", "thickness": "-5 nm"}], "coating.stack[0].thickness"),
    ([{"material": "Al2O3", "thickness": "5 nm"}, {"material": "unobtainium", "thickness": "5 nm"}],
     "coating.stack[1].material"),
    ([{"material": "Al2O3", "thickness": "5 nm", "model": "resolved"},
      {"material": "alucone", "thickness": "5 nm", "model": "thin"}], "coating.stack[1].model"),
    ([{"material": "Al2O3", "thickness": "5 nm", "ionic_conductivity": "1 m"}], "coating.stack[0].ionic_conductivity"),
    ([{"thickness": "5 nm"}], "coating.stack[0].material"),
])
def test_invalid_stacks_name_the_key(stack, key):
    with pytest.raises(CaseError) as err:
        validate({"coating": {"stack": stack}})
    assert key in str(err.value)


def test_single_layer_keys_and_a_stack_are_exclusive():
    with pytest.raises(CaseError) as err:
        validate({"coating": {"material": "LiF", "thickness": "8 nm",
                              "stack": [{"material": "Al2O3", "thickness": "5 nm"}]}})
    assert "coating.material" in str(err.value) and "coating.stack" in str(err.value)


def test_invalid_stack_exits_2_from_the_cli(tmp_path, capsys):
    from licoat.cli import main

    case = tmp_path / "bad.toml"
    case.write_text('[[coating.stack]]\nmaterial = "Al2O3"\nthickness = "-1 nm"\n')
    assert main(["run", str(case), "--out", str(tmp_path / "out")]) == 2
    assert "coating.stack[0].thickness" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
