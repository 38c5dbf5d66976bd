"""Uncertainty of estimated material properties: every estimate in materials/data carries ``low``/``high``
and its reasoning; the loader rejects inconsistent ranges; ``licoat sweep --bands`` runs the low and high
values of the properties a case depends on and reports each metric as nominal with a range.

Check of the band runs against a closed form: on a planar Li|coating|electrolyte cell the current is
uniform and the Li|film kinetics (no concentration factor under a coating, README "Kinetics") give
i0 [exp(alpha_a f eta) - exp(-alpha_c f eta)] = -i (plating positive i, f = F/RT), solved for eta by a
scalar root-find for each (alpha_a, alpha_c) of the band runs (physics.md §4)."""

import csv
import json
import math
import tomllib
from pathlib import Path

import pytest
from scipy.optimize import brentq

from licoat.cli import main
from licoat.materials import MaterialError, list_materials, load_file, load_material
from licoat.sweep import band_properties

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "cases" / "planar.toml"
F, R = 96485.33212, 8.314462618


def test_every_estimated_property_has_a_range_with_reasoning():
    missing = []
    for m in list_materials():
        for name, p in m.properties.items():
            s = p.source.lower()
            if any(w in s for w in ("estimat", "assum", "placeholder")):
                if p.low is None or p.high is None or not p.range_source:
                    missing.append(f"{m.name}.{name}")
                else:
                    assert p.low <= p.value <= p.high, f"{m.name}.{name}"
    assert not missing, f"estimated properties without low/high/range_source: {missing}"


@pytest.mark.parametrize("extra, msg", [
    ("low = 2.0\nhigh = 3.0\nrange_source = 'x'\n", "low <= value <= high"),
    ("low = 0.5\nhigh = 3.0\n", "no range_source"),
    ("low = 'a'\nhigh = 3.0\nrange_source = 'x'\n", "low"),
])
def test_loader_rejects_bad_ranges(tmp_path, extra, msg):
    f = tmp_path / "X.toml"
    f.write_text("name = 'X'\nkind = 'coating'\n[properties.ionic_conductivity]\nvalue = 1.0\nunit = 'S/m'\n"
                 "source = 'Estimate'\n" + extra)
    with pytest.raises(MaterialError, match=msg):
        load_file(f)


def test_band_properties_follow_the_case():
    raw = tomllib.loads(DEFAULT.read_text())
    keys = [b["key"] for b in band_properties(raw)]
    # LiPON's conductivity is measured; the case sets i0 itself: only Li's transfer coefficients remain
    assert keys == ["anode.alpha_a", "anode.alpha_c"]
    raw["coating"].update(material="LiGL", thickness="100 nm", model="thin")
    del raw["anode"]["exchange_current_density"]
    keys = [b["key"] for b in band_properties(raw)]
    assert keys[:2] == ["coating.ionic_conductivity", "coating.electronic_conductivity"]
    assert "anode.exchange_current_density" in keys


def test_bands_sweep_reports_ranges_and_matches_butler_volmer(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["sweep", str(DEFAULT), "--out", str(out), "--bands", "--quiet", "--vary", "coating.thickness=20 nm",
                 "--set", "geometry.mesh_size='5 um'"]) == 0  # in this process (no --jobs): fast
    printed = capsys.readouterr().out
    assert "[" in printed  # nominal [low, high] in the table
    bands = {r["metric"]: r for r in csv.DictReader(open(out / "bands.csv"))}
    kin = bands["overpotentials_V.kinetic"]
    lo, nom, hi = float(kin["low"]), float(kin["nominal"]), float(kin["high"])
    assert lo < nom < hi
    # every band run against the Butler-Volmer root for its own transfer coefficients
    manifest = json.loads((out / "sweep.json").read_text())
    runs = [p["name"] for p in manifest["points"]]
    assert len(runs) == 5  # nominal + (alpha_a, alpha_c) x (low, high)
    li = load_material("Li")
    etas = []
    for name in runs:
        case = tomllib.loads((out / name / "case.toml").read_text())
        s = json.loads((out / name / "summary.json").read_text())
        a = case["anode"].get("alpha_a", li.value("alpha_a"))
        c = case["anode"].get("alpha_c", li.value("alpha_c"))
        i0, i = case["anode"]["exchange_current_density"], case["operation"]["current_density"]
        fT = F / (R * case["operation"]["temperature"])
        eta = brentq(lambda x: i0 * (math.exp(a * fT * x) - math.exp(-c * fT * x)) + i, -2.0, 0.0, xtol=1e-14)
        assert s["overpotentials_V"]["kinetic"] == pytest.approx(eta, rel=1e-4), name
        etas.append(eta)
    assert lo == pytest.approx(min(etas), rel=1e-4) and hi == pytest.approx(max(etas), rel=1e-4)
    res = json.loads((out / "results.json").read_text())
    assert [r["point"] for r in res["rows"]] == ["run_000"]  # band runs are not rows of their own
    assert {b["key"] for b in res["band_properties"]} == {"anode.alpha_a", "anode.alpha_c"}
