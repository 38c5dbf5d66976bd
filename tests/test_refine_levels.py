"""``geometry.refine_levels``: Gmsh at 2^L x the mesh sizes, then uniform refinement in parallel to the
case's sizes, fibre surfaces snapped onto the cylinders (meshes/refine.py; issue 12, item 3).

Reference: the same case meshed directly by Gmsh at the case's sizes. A planar cell is one-dimensional
(the 1D closed form of tests/test_planar_analytic.py), so both meshes give the same cell voltage to the
discretisation error of P1 on straight fronts; a fibre host's porosity and surface area are reproduced to
< 1 % (tests/test_refine_snap.py), so its metrics agree to a few per cent at a coarse mesh.
"""

import json
from pathlib import Path

import pytest

from licoat.cli import main

ROOT = Path(__file__).resolve().parents[1]
PLANAR = ROOT / "cases" / "planar.toml"
FIBERS = ROOT / "cases" / "fibers.toml"
FIBRE_HOST = ["--set", "geometry.width='6 um'", "--set", "geometry.depth='6 um'", "--set", "geometry.host_thickness='5 um'",
              "--set", "geometry.electrolyte_thickness='6 um'", "--set", "geometry.collector_thickness='1 um'",
              "--set", "geometry.orientation='aligned'", "--set", "geometry.seed=3",
              "--set", "geometry.fiber_volume_fraction=0.2"]


def run(case, tmp_path, name, *sets):
    out = tmp_path / name
    assert main(["run", str(case), "--out", str(out), "--quiet", "--set", "output.fields=false", *sets]) == 0
    return json.loads((out / "summary.json").read_text())


def test_planar_refined_equals_direct(tmp_path):
    direct = run(PLANAR, tmp_path, "direct", "--set", "geometry.mesh_size='2 um'")
    refined = run(PLANAR, tmp_path, "refined", "--set", "geometry.mesh_size='2 um'", "--set", "geometry.refine_levels=2")
    assert refined["cell_voltage_V"] == pytest.approx(direct["cell_voltage_V"], rel=2e-4)
    assert refined["plating"]["cv"] < 1e-6  # still uniform: refinement adds no spurious variation


def test_fibre_host_refined_matches_direct(tmp_path):
    sizes = ["--set", "geometry.mesh_size='1 um'", "--set", "geometry.interface_mesh_size='0.5 um'"]
    direct = run(FIBERS, tmp_path, "direct", *FIBRE_HOST, *sizes)
    refined = run(FIBERS, tmp_path, "refined", *FIBRE_HOST, *sizes, "--set", "geometry.refine_levels=1")
    assert refined["cell_voltage_V"] == pytest.approx(direct["cell_voltage_V"], rel=5e-3)  # measured 0.08 %
    assert refined["plating"]["cv"] == pytest.approx(direct["plating"]["cv"], rel=0.1)  # measured 3 %
    assert refined["plating"]["area_m2"] == pytest.approx(direct["plating"]["area_m2"], rel=0.01)


def test_refine_levels_on_a_curved_anode_is_refused(tmp_path, capsys):
    rc = main(["validate", str(ROOT / "cases" / "sinusoid.toml"), "--set", "geometry.refine_levels=1"])
    err = capsys.readouterr().err
    assert rc == 2 and "geometry.refine_levels = 1" in err and "sinusoid" in err
