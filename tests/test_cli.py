"""CLI and case-file validation: every rule exits 2 with the key path in one message and writes nothing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from licoat.cli import main

DEFAULT = Path(__file__).resolve().parents[1] / "cases" / "planar.toml"

BAD = [
    # (override, key path expected in the message)
    ("geometry.widht=1", "geometry.widht"),
    ("geometry.width='3 kg'", "geometry.width"),
    ("geometry.width='-3 um'", "geometry.width"),
    ("geometry.kind='blob'", "geometry.kind"),
    ("geometry.dim=4", "geometry.dim"),
    ("coating.thickness='8 parsecs per fortnight'", "coating.thickness"),
    ("coating.thickness='-8 nm'", "coating.thickness"),
    ("coating.material='Unobtainium'", "coating.material"),
    ("coating.shear_modulus='3 m'", "coating.shear_modulus"),
    ("coating.colour='blue'", "coating.colour"),
    ("coating.model='thick'", "coating.model"),
    ("electrolyte.transference_number=1.5", "electrolyte.transference_number"),
    ("electrolyte.concentration='1 V'", "electrolyte.concentration"),
    ("anode.exchange_current_density='-1 mA/cm^2'", "anode.exchange_current_density"),
    ("operation.current_density='2 V'", "operation.current_density"),
    ("operation.mode='potentiostatic'", "operation.voltage"),
    ("operation.temperature='-300 degC'", "operation.temperature"),
    ("operation.counter='moon'", "operation.counter"),
    ("solver.max_iterations=0", "solver.max_iterations"),
    ("output.colour=1", "output.colour"),
    ("nonsense.key=1", "nonsense"),
    ("coating.thickness='60 um'", "coating.thickness"),
]


@pytest.mark.parametrize("override, key", BAD, ids=[b[1] + ":" + b[0].split("=")[1] for b in BAD])
def test_bad_input_exits_2_names_key_and_writes_nothing(override, key, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["run", str(DEFAULT), "--out", str(out), "--set", override])
    err = capsys.readouterr().err
    assert rc == 2
    assert key in err
    assert not out.exists() and not (tmp_path / "out.partial").exists()


def test_missing_case_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err


def test_invalid_toml(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[geometry\nkind = 'planar'")
    assert main(["validate", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_validate_prints_resolved_si(capsys):
    assert main(["validate", str(DEFAULT), "--set", "coating.thickness='8 nm'"]) == 0
    out = capsys.readouterr().out
    assert "thickness = 8e-09" in out


def test_materials_listing(capsys):
    assert main(["materials"]) == 0
    assert "LiF" in capsys.readouterr().out
    assert main(["materials", "LiF"]) == 0
    assert "source" in capsys.readouterr().out.lower()
    assert main(["materials", "Kryptonite"]) == 2


def test_run_writes_results(tmp_path):
    """End to end: summary keys (a public interface), resolved case, VTX fields, log."""
    out = tmp_path / "res"
    assert main(["run", str(DEFAULT), "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    for k in ["version", "ranks", "dofs", "cell_voltage_V", "applied_current_density_A_m2", "plating",
              "overpotentials_V", "timing", "warnings"]:
        assert k in s
    for k in ["area_m2", "current_density_mean_A_m2", "current_density_min_A_m2", "current_density_max_A_m2",
              "cv", "max_over_mean", "uniform_fraction"]:
        assert k in s["plating"]
    assert set(s["overpotentials_V"]) >= {"kinetic", "coating_ohmic", "electrolyte_ohmic", "concentration"}
    assert set(s["timing"]) >= {"mesh_s", "setup_s", "solve_s", "output_s", "newton_iterations", "linear_iterations",
                                "peak_rss_MiB"}
    assert 50 < s["timing"]["peak_rss_MiB"] < 24 * 1024  # a Python + DOLFINx process, below the machine's memory
    assert s["applied_current_density_A_m2"] == pytest.approx(20.0)
    assert (out / "case.toml").read_text().count("git_revision") == 1
    assert (out / "fields" / "solution.bp").is_dir()
    assert (out / "licoat.log").stat().st_size > 0
    assert not (tmp_path / "res.partial").exists()


def test_blocking_coating_is_impossible_input(tmp_path, capsys):
    """8 nm ALD LiF at 1e-14 S/cm (review): ASR 8e3 Ohm m^2 needs 1.6e5 V at 2 mA/cm^2, more than
    coating.max_film_voltage (1 V): exit 2 naming the film and what would carry the current, no results
    (issues 10 and 13)."""
    out = tmp_path / "lif"
    rc = main(["run", str(DEFAULT), "--out", str(out), "--quiet", "--set", "coating.material='LiF'",
               "--set", "coating.thickness='8 nm'"])
    assert rc == 2
    assert "cannot carry" in capsys.readouterr().err
    assert not out.exists()


def test_console_script_exit_code(tmp_path):
    licoat = Path(sys.executable).parent / "licoat"
    r = subprocess.run([str(licoat), "run", str(DEFAULT), "--out", str(tmp_path / "x"), "--set", "geometry.width='1 kg'"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "geometry.width" in r.stderr
    r = subprocess.run([str(licoat), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and "licoat" in r.stdout


def test_mesh_command_writes_geometry(tmp_path):
    out = tmp_path / "mesh"
    assert main(["mesh", str(DEFAULT), "--out", str(out)]) == 0
    g = json.loads((out / "geometry.json").read_text())
    for k in ("porosity", "specific_surface_area_1_m", "host_volume_fraction", "interface_areas_m2",
              "coating_thickness_m", "cells", "min_quality", "mesh_s"):
        assert k in g
    assert g["interface_areas_m2"]["anode_coating"] == pytest.approx(20e-6, rel=1e-9)  # 2D: per metre depth
    assert g["coating_thickness_m"]["mean"] == pytest.approx(50e-9, rel=0.05)
    assert (out / "mesh.xdmf").exists()


def test_transient_run_from_case(tmp_path):
    """duration -> transient run, timeseries.csv and depletion_time_s (null when never depleted)."""
    out = tmp_path / "tr"
    assert main(["run", str(DEFAULT), "--out", str(out), "--quiet", "--set", "operation.duration='5 s'"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["depletion_time_s"] is None and s["duration_s"] == pytest.approx(5.0)
    lines = (out / "timeseries.csv").read_text().splitlines()
    assert lines[0].startswith("time_s") and len(lines) > 3
    assert (out / "fields" / "solution.bp" / "md.idx").stat().st_size > 0  # field time series


def test_sweep_writes_table(tmp_path):
    out = tmp_path / "sw"
    rc = main(["sweep", str(DEFAULT), "--out", str(out), "--quiet", "--vary", "coating.thickness=10 nm,50 nm",
               "--vary", "operation.current_density=1 mA/cm^2,2 mA/cm^2", "--set", "geometry.mesh_size='4 um'"])
    assert rc == 0
    rows = (out / "sweep.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("run,coating.thickness,operation.current_density")
    assert (out / "sweep.png").exists() and (out / "run_003" / "summary.json").exists()


def test_sweep_bad_value_exits_2(tmp_path, capsys):
    rc = main(["sweep", str(DEFAULT), "--out", str(tmp_path / "s"), "--vary", "coating.thickness=10 nm,3 kg"])
    assert rc == 2 and "coating.thickness" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("case", sorted((Path(__file__).resolve().parents[1] / "cases").glob("*.toml")),
                         ids=lambda p: p.stem)
def test_every_shipped_case_validates(case, capsys):
    assert main(["validate", str(case)]) == 0


def test_potentiostatic_reports_the_current_it_drew(tmp_path):
    out = tmp_path / "pot"
    assert main(["run", str(DEFAULT), "--out", str(out), "--quiet", "--set", "operation.mode='potentiostatic'",
                 "--set", "operation.voltage='-80 mV'"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["cell_voltage_V"] == pytest.approx(-0.08)
    drawn = s["plating"]["current_density_mean_A_m2"] * s["plating"]["area_m2"] / 20e-6
    assert s["applied_current_density_A_m2"] == pytest.approx(drawn, rel=1e-9)
    assert s["applied_current_density_A_m2"] != pytest.approx(20.0, rel=1e-3)
