"""[coating.defects] end to end: summary.json ``defects``, bad input (exit 2 naming the key, nothing written)
and impossible dense films (exit 2 naming the layer, or a warning with allow_impossible_film)."""

import json
from pathlib import Path

import pytest

from licoat.cli import main

ROOT = Path(__file__).resolve().parents[1]
CRACKS = ROOT / "cases" / "review" / "alucone_25nm_cracks.toml"
DEFAULT = ROOT / "cases" / "planar.toml"


def test_cracked_film_summary(tmp_path):
    out = tmp_path / "cracks"
    assert main(["run", str(CRACKS), "--out", str(out), "--quiet", "--set", "output.fields=false"]) == 0
    s = json.loads((out / "summary.json").read_text())
    d = s["defects"]
    for k in ("current_focusing_factor", "defect_current_fraction", "defect_area_fraction", "effective_asr_ohm_m2"):
        assert k in d
    assert d["count"] == 2 and d["defect_area_fraction"] == pytest.approx(50e-9 / 5e-6, rel=1e-6)  # w / spacing
    # a conducting film with cracks: the cracks take more than their area's share, not all of it
    assert d["defect_area_fraction"] < d["defect_current_fraction"] < 0.5
    # the largest local current is at least the mean over the cracks, (I_d / I) / (A_d / A) x i_app
    assert d["current_focusing_factor"] >= 0.99 * d["defect_current_fraction"] / d["defect_area_fraction"]
    # the cracks lower the film's apparent ASR below the dense t/kappa_c = 25e-9 / 1e-5 Ohm m^2
    assert 0 < d["effective_asr_ohm_m2"] < 25e-9 / 1e-5


@pytest.mark.parametrize("sets, key", [
    (["coating.material='none'", "coating.thickness='0 m'"], "coating.defects"),  # uncoated surface
    (["coating.defects.width='6 um'"], "coating.defects.spacing"),  # more defect area than film
    (["coating.defects.kind='pinholes'", "coating.defects.radius='50 nm'"], "coating.defects.kind"),  # 2D holes
    (["geometry.width='7 um'"], "geometry.width"),  # the lattice does not fit the cell
    (["coating.defects.depth=2"], "coating.defects.depth"),
])
def test_bad_defects_exit_2(tmp_path, capsys, sets, key):
    out = tmp_path / "bad"
    args = ["run", str(CRACKS), "--out", str(out), "--quiet"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    assert key in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "bad.partial").exists()


def test_impossible_dense_film_exit_2(tmp_path, capsys):
    """8 nm LiF at 1e-14 S/cm: ASR 8e3 Ohm m^2, 1.6e5 V at 2 mA/cm^2 > coating.max_film_voltage = 1 V."""
    out = tmp_path / "lif"
    base = ["run", str(DEFAULT), "--out", str(out), "--quiet", "--set", "coating.material='LiF'",
            "--set", "coating.thickness='8 nm'", "--set", "coating.max_film_voltage='1 V'"]
    assert main(base) == 2
    err = capsys.readouterr().err
    for text in ("coating", "LiF", "8e+03 Ohm m^2", "20 A/m^2", "pinholes", "S/m", "allow_impossible_film"):
        assert text in err, text
    assert not out.exists()
    # a thin LiPON film is possible: no stop
    ok = ["run", str(DEFAULT), "--out", str(tmp_path / "ok"), "--quiet", "--set", "coating.max_film_voltage='1 V'",
          "--set", "output.fields=false"]
    assert main(ok) == 0


def test_resolved_pinholes_in_a_blocking_film_pass_the_sanity_checks(tmp_path):
    """A resolved blocking film with a through pinhole (3D, Butler–Volmer): the current bypasses the film, so
    the dense-film rule of solver/sanity.py must not reject the state; the run agrees with the thin-film
    representation of the same hole (cell voltage within 2 %, focusing factor within 5 %)."""
    case = ROOT / "cases" / "review" / "LiF_8nm_pinholes.toml"
    common = ["--quiet", "--set", "output.fields=false", "--set", "coating.thickness='100 nm'",
              "--set", "coating.ionic_conductivity='1e-12 S/m'"]
    out = {}
    for model in ("resolved", "thin"):
        d = tmp_path / model
        assert main(["run", str(case), "--out", str(d), *common, "--set", f"coating.model='{model}'"]) == 0
        out[model] = json.loads((d / "summary.json").read_text())
    r, t = out["resolved"], out["thin"]
    assert r["cell_voltage_V"] == pytest.approx(t["cell_voltage_V"], rel=0.02)
    assert r["defects"]["current_focusing_factor"] == pytest.approx(t["defects"]["current_focusing_factor"], rel=0.05)
