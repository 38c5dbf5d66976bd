"""Protocols (issue 9, item 3; licoat/protocol.py): Li|Li plate → rest → strip, mixed current/voltage protocols
(the Cycler control, solver/components.py), voltage holds that end on their charge, and the input rules.

References: the rest relaxes the salt of a closed Li|Li cell (both walls blocking for the anion, salt inventory
conserved) by diffusion; the slowest mode of a 1D gap L, cos(πx/L), decays with the time constant
τ = L²/(π² D) (Crank, The Mathematics of Diffusion, 2nd ed. 1975, §4.3; physics.md §2 for D). A voltage hold
long against the cell's diffusion time reaches the steady state at that voltage, which the steady solver
computes independently (the same mesh, potentiostatic).
"""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from licoat.cli import main

D_LIPF6 = 8.794e-11 - 3.972e-10 + 4.862e-10  # m^2/s at 1 M (Nyman et al. 2008; physics.md §2)
C0 = 1000.0
V_M, FARADAY = 1.30e-5, 96485.33212

GEOMETRY = """
[geometry]
kind = "planar"
width = "5 um"
electrolyte_thickness = "{L} um"
anode_thickness = "5 um"
mesh_size = "{h} um"
[output]
fields = false
"""


def _run(tmp_path, name, text, *extra):
    case = tmp_path / f"{name}.toml"
    case.write_text(text)
    out = tmp_path / name
    assert main(["run", str(case), "--out", str(out), "--quiet", *extra]) == 0
    rows = list(csv.DictReader((out / "timeseries.csv").open()))
    return json.loads((out / "summary.json").read_text()), rows


def _f(rows, key, step=None):
    return np.array([float(r[key]) for r in rows if step is None or int(r["protocol_step"]) == step])


def test_li_li_plate_rest_strip_returns_and_rest_relaxes_with_the_diffusion_time(tmp_path):
    """A Li|Li cell (Li counter, L = 50 µm): plate 1 mA/cm² for 2 s, rest 6 s, strip 1 mA/cm² for 2 s. The
    plated charge and the interface return to their start (mean thickness < 1e-9 of the plated 2.7 nm, rms at round-off),
    the rest carries no current, and during the rest the surface concentration relaxes as exp(−t/τ) with
    τ = L²/(π² D) = 1.43 s (fitted over 1–4 τ into the rest, within 3 %: BDF2 at dt ≤ 0.21 τ and P1 on 20
    elements each contribute about 1 %)."""
    L = 50e-6
    text = GEOMETRY.format(L=50, h=2.5) + """
[operation]
counter = "lithium"
[[operation.step]]
current_density = "1 mA/cm^2"
duration = "2 s"
[[operation.step]]
rest = "6 s"
[[operation.step]]
current_density = "-1 mA/cm^2"
duration = "2 s"
"""
    s, rows = _run(tmp_path, "lili", text)
    plated = 10.0 * 2.0 * V_M / FARADAY  # m
    assert max(_f(rows, "thickness_mean_m", 0)) == pytest.approx(plated, rel=1e-9)
    assert abs(s["deposit"]["thickness_mean_m"]) < 1e-9 * plated
    assert s["deposit"]["thickness_rms_m"] < 1e-6 * plated  # round-off of a flat deposit
    assert np.abs(_f(rows, "current_density_mean_A_m2", 1)).max() < 1e-8
    t, c = _f(rows, "time_s", 1), _f(rows, "surface_concentration_min_mol_m3", 1)
    tau = L**2 / (math.pi**2 * D_LIPF6)
    since = t - 2.0
    fit = (since > tau) & (since < 4 * tau)
    assert fit.sum() >= 5 and np.all(C0 - c[fit] > 0)
    rate = -np.polyfit(since[fit], np.log(C0 - c[fit]), 1)[0]
    assert rate * tau == pytest.approx(1.0, rel=0.03)
    assert (C0 - c[-1]) < 0.05 * (C0 - c[0])  # relaxed toward uniform


MIXED = """
[[operation.step]]
current_density = "2 mA/cm^2"
capacity = "0.005 mAh/cm^2"
[[operation.step]]
rest = "2 s"
[[operation.step]]
voltage = "-30 mV"
duration = "20 s"
[[operation.step]]
current_density = "-1 mA/cm^2"
duration = "5 s"
[[operation.step]]
voltage = "20 mV"
duration = "60 s"
capacity = "0.002 mAh/cm^2"
"""


def test_mixed_protocol_hold_current_matches_the_steady_solution(tmp_path):
    """Plate 2 mA/cm², rest, hold −30 mV for 20 s, strip 1 mA/cm², hold +20 mV until 0.002 mAh/cm² have passed
    (planar Li to a reservoir 20 µm away, diffusion time 4L²/(π² D) = 0.92 s). The hold's current at its end
    equals the steady potentiostatic solution at −30 mV on the same mesh (1e-6 relative); the current steps
    around it keep their applied current; the last hold stops on its charge (1e-5) before its duration, and
    the plated charge follows the time integral of the current through every switch."""
    text = GEOMETRY.format(L=20, h=2) + MIXED
    s, rows = _run(tmp_path, "mixed", text)
    v_hold = _f(rows, "cell_voltage_V", 2)
    assert np.all(v_hold == pytest.approx(-0.030, abs=1e-12))
    assert np.all(_f(rows, "current_density_mean_A_m2", 3) == pytest.approx(-10.0, rel=1e-8))
    case = tmp_path / "steady.toml"
    case.write_text(GEOMETRY.format(L=20, h=2) + '[operation]\nmode = "potentiostatic"\nvoltage = "-30 mV"\n')
    assert main(["run", str(case), "--out", str(tmp_path / "steady"), "--quiet"]) == 0
    steady = json.loads((tmp_path / "steady" / "summary.json").read_text())["applied_current_density_A_m2"]
    assert steady > 5.0  # plating at -30 mV
    assert _f(rows, "current_density_mean_A_m2", 2)[-1] == pytest.approx(steady, rel=1e-6)
    # the +20 mV hold strips until 0.002 mAh/cm^2 = 72 C/m^2 have passed
    t4, i4 = _f(rows, "time_s", 4), _f(rows, "current_density_mean_A_m2", 4)
    dt4 = _f(rows, "dt_s", 4)
    assert -np.sum(i4 * dt4) == pytest.approx(72.0, rel=1e-5)
    assert t4[-1] - _f(rows, "time_s", 3)[-1] < 30.0 and s["duration_s"] == pytest.approx(t4[-1])
    assert s["applied_current_density_A_m2"] == pytest.approx(i4[-1], rel=1e-9)  # the current the hold drew
    # plated charge = the integral of the current over every step (planar: plating area = footprint)
    q = np.cumsum(_f(rows, "current_density_mean_A_m2") * _f(rows, "dt_s"))
    assert _f(rows, "plated_capacity_C_m2") == pytest.approx(q, rel=1e-9, abs=1e-9 * np.abs(q).max())


BAD = [
    # a voltage hold needs a duration (a capacity alone could hold forever)
    ("[[operation.step]]\nvoltage = '-20 mV'\ncapacity = '0.1 mAh/cm^2'\n", "operation.step[0]", "duration"),
    ("[[operation.step]]\ncurrent_density = '1 mA/cm^2'\nduration = '1 s'\n[[operation.step]]\nvoltage = '0 V'\n",
     "operation.step[1]", "duration"),
    # a step with neither duration nor capacity
    ("[[operation.step]]\ncurrent_density = '1 mA/cm^2'\n[[operation.step]]\nrest = '1 s'\n", "operation.step[0]",
     "neither"),
]


@pytest.mark.parametrize("table, key, word", BAD, ids=[f"{b[1]}:{b[2]}:{i}" for i, b in enumerate(BAD)])
def test_bad_step_exits_2_naming_the_key(table, key, word, tmp_path, capsys):
    case = tmp_path / "bad.toml"
    case.write_text(GEOMETRY.format(L=20, h=5) + table)
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert key in err and word in err
    assert not out.exists() and not (tmp_path / "out.partial").exists()


def test_stripping_a_cu_foil_with_nothing_plated_exits_2(tmp_path, capsys):
    """A Cu foil holds no Li: a first step that strips (or strips more than was plated) is invalid input."""
    base = Path(__file__).resolve().parents[1] / "cases" / "review" / "cu_foil_bare_first_plating.toml"
    for steps, key, held in (
            ("[[operation.step]]\ncurrent_density = '-1 mA/cm^2'\nduration = '1 s'\n", "operation.step[0]", "holds 0 "),
            ("[[operation.step]]\ncurrent_density = '1 mA/cm^2'\ncapacity = '0.1 mAh/cm^2'\n[[operation.step]]\n"
             "rest = '1 s'\n[[operation.step]]\ncurrent_density = '-1 mA/cm^2'\ncapacity = '0.2 mAh/cm^2'\n",
             "operation.step[2].capacity", "holds 0.1 ")):
        case = tmp_path / "cu.toml"
        case.write_text(base.read_text().split("[operation]")[0] + steps)
        assert main(["run", str(case), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert key in err and held in err, err


def test_mixed_protocol_on_a_host_holds_the_collector(tmp_path):
    """In a host with resolved electronic conduction a hold is a Dirichlet condition on the collector's bottom,
    added for the hold and removed after it: a 2D Cu pillar host plated 0.02 mAh/cm² at 1 mA/cm², held at the plateau
    voltage it reached for 20 s, then plated at 1 mA/cm² again. The hold's voltage is exact; its current starts at
    the applied current it replaced (every field and the coverage carry over: 1e-3) and then rises, as the Li
    nuclei on the Cu grow at a fixed potential (the chronoamperometric nucleation transient, Scharifker & Hills,
    Electrochim. Acta 28 (1983) 879); the last step carries its applied current again (current balance, 1e-8)."""
    text = """
[geometry]
kind = "pillars"
dim = 2
pillar_diameter = "4 um"
pillar_height = "16 um"
pitch = "10 um"
width = "10 um"
electrolyte_thickness = "20 um"
collector_thickness = "4 um"
mesh_size = "3 um"
interface_mesh_size = "1.5 um"
[host]
material = "Cu"
equipotential = false
[output]
fields = false
[[operation.step]]
current_density = "1 mA/cm^2"
capacity = "0.02 mAh/cm^2"
[[operation.step]]
voltage = "{v} V"
duration = "20 s"
[[operation.step]]
current_density = "1 mA/cm^2"
duration = "10 s"
"""
    case = tmp_path / "plateau.toml"
    case.write_text(text.replace("[[operation.step]]\nvoltage", "[[operation.stepX]]\nvoltage", 1).split("[[operation.stepX]]")[0])
    assert main(["run", str(case), "--out", str(tmp_path / "p"), "--quiet"]) == 0
    v = json.loads((tmp_path / "p" / "summary.json").read_text())["cell_voltage_V"]
    s, rows = _run(tmp_path, "host", text.format(v=f"{v:.6f}"))
    assert np.all(_f(rows, "cell_voltage_V", 1) == pytest.approx(round(v, 6), abs=1e-12))
    i_hold = _f(rows, "current_density_mean_A_m2", 1) * s["plating"]["area_m2"] / 10e-6
    assert i_hold[0] == pytest.approx(10.0, rel=1e-3)  # continuous: the hold starts from the current step's state
    assert np.all(np.diff(i_hold) > 0) and i_hold[-1] > 1.1 * i_hold[0]  # nuclei grow at fixed potential
    assert s["applied_current_density_A_m2"] == pytest.approx(10.0, rel=1e-8)


def test_holds_and_rests_without_a_current_step(tmp_path):
    """A protocol of voltage holds and rests only (no current step: the Cycler's reference current is 0): the rest
    after a −20 mV hold carries no current (1e-8 A/m²) and the open-circuit potential relaxes toward 0 V as the
    salt relaxes (a reservoir 20 µm away: diffusion time 0.9 s, the 5 s rest ends within 1e-4 V of zero)."""
    text = GEOMETRY.format(L=20, h=5) + """
[[operation.step]]
voltage = "-20 mV"
duration = "5 s"
[[operation.step]]
rest = "5 s"
"""
    s, rows = _run(tmp_path, "holdrest", text)
    assert np.all(_f(rows, "cell_voltage_V", 0) == pytest.approx(-0.020, abs=1e-12))
    assert _f(rows, "current_density_mean_A_m2", 0).min() > 1.0  # plating at -20 mV
    assert np.abs(_f(rows, "current_density_mean_A_m2", 1)).max() < 1e-8
    v = _f(rows, "cell_voltage_V", 1)
    assert v[0] < 0 and abs(v[-1]) < 1e-4 and abs(v[-1]) < 0.1 * abs(v[0])
    assert s["applied_current_density_A_m2"] == pytest.approx(0.0, abs=1e-8)
