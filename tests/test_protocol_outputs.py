"""The deposit picture (issue 9, item 4): ``deposit_thickness.png``, the deposit thickness over the plating surface
at the end of a transient run, listed in summary.json ``pictures``; rank 0 renders the gathered surface
(``fields/deposit_surface.npz``). Checked against the run's own deposit statistics: the area mean of the gathered
nodal δ (exact for P1 on the facets) equals ``deposit.thickness_mean_m``, and on a flat anode δ = V_M q/F
(4.85 µm per mAh/cm², physics.md §12) everywhere, in 2D on 1 rank and in 3D on 2 ranks."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from licoat.cli import main

MPIEXEC = Path(sys.executable).parent / "mpiexec"
UM_PER_MAH_CM2 = 1.30e-5 * 3.6e4 / 96485.33212 * 1e6  # 4.85 um per mAh/cm^2


def _area_mean(npz) -> float:
    d = np.load(npz)
    x, v = d["points"].reshape(len(d["cells"]), -1, 3), d["values"].reshape(len(d["cells"]), -1)
    if x.shape[1] == 2:
        w = np.linalg.norm(x[:, 1] - x[:, 0], axis=1)
    else:
        w = 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)
    return float(np.sum(w * v.mean(axis=1)) / np.sum(w))


def _picture_is_not_blank(png):
    import matplotlib.image

    img = matplotlib.image.imread(png)
    assert img.shape[0] > 100 and len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 20


def test_deposit_picture_on_a_sinusoid(tmp_path):
    case = tmp_path / "s.toml"
    case.write_text("""
[geometry]
kind = "sinusoid"
width = "10 um"
wavelength = "10 um"
amplitude = "1 um"
electrolyte_thickness = "20 um"
anode_thickness = "5 um"
mesh_size = "2 um"
[operation]
current_density = "2 mA/cm^2"
capacity = "0.05 mAh/cm^2"
""")
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["pictures"] == ["deposit_thickness.png"]
    _picture_is_not_blank(out / "deposit_thickness.png")
    npz = out / "fields" / "deposit_surface.npz"
    assert _area_mean(npz) == pytest.approx(s["deposit"]["thickness_mean_m"], rel=1e-9)
    v = np.load(npz)["values"]
    assert v.max() > v.min() * 1.001  # the crest plates more than the valley


def test_no_picture_without_fields(tmp_path):
    case = tmp_path / "p.toml"
    case.write_text("[geometry]\nkind = 'planar'\nwidth = '5 um'\nelectrolyte_thickness = '20 um'\nmesh_size = '5 um'\n"
                    "[operation]\ncurrent_density = '1 mA/cm^2'\nduration = '5 s'\n[output]\nfields = false\n")
    assert main(["run", str(case), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["pictures"] == []
    assert not (tmp_path / "o" / "deposit_thickness.png").exists()


@pytest.mark.skipif(not MPIEXEC.exists(), reason="needs the venv's mpiexec")
def test_deposit_picture_3d_on_two_ranks(tmp_path):
    case = tmp_path / "p3.toml"
    case.write_text("""
[geometry]
kind = "planar"
dim = 3
width = "5 um"
depth = "5 um"
electrolyte_thickness = "20 um"
anode_thickness = "5 um"
mesh_size = "2.5 um"
[operation]
current_density = "1 mA/cm^2"
capacity = "0.02 mAh/cm^2"
""")
    out = tmp_path / "out"
    r = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "licoat.cli", "run", str(case), "--out", str(out),
                        "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["ranks"] == 2 and s["pictures"] == ["deposit_thickness.png"]
    _picture_is_not_blank(out / "deposit_thickness.png")
    d = np.load(out / "fields" / "deposit_surface.npz")
    x = d["points"].reshape(len(d["cells"]), 3, 3)
    area = 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1).sum()
    assert area == pytest.approx(25e-12, rel=1e-9)  # every facet of the 5 x 5 um surface, from both ranks
    assert d["values"] * 1e6 == pytest.approx(0.02 * UM_PER_MAH_CM2, rel=1e-6)
