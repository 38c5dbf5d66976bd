"""The --vary sweep in the calling process on 2 ranks: every point runs on both ranks (summary ranks = 2),
rank 0 alone collects and plots without deadlocking the other rank (PETSc objects are freed collectively
before rank-0-only work), and the inputs reach the runs (coating drop = i t / kappa_c, physics.md §6)."""

import csv
import json
from pathlib import Path

import pytest
from mpi4py import MPI

from licoat.cli import main
from licoat.materials import load_material

DEFAULT = Path(__file__).resolve().parents[1] / "cases" / "planar.toml"


def test_vary_sweep_on_two_ranks(shared_tmp, capsys):
    out = Path(shared_tmp) / "sw"
    rc = main(["sweep", str(DEFAULT), "--out", str(out), "--quiet", "--vary", "coating.thickness=10 nm,50 nm",
               "--set", "geometry.mesh_size='5 um'"])
    assert rc == 0
    MPI.COMM_WORLD.barrier()
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["status"] for r in rows] == ["finished", "finished"]
    kappa = load_material("LiPON").value("ionic_conductivity")
    for r, t in zip(rows, (10e-9, 50e-9)):
        assert int(r["ranks"]) == MPI.COMM_WORLD.size
        i = float(r["plating.current_density_mean_A_m2"])
        assert abs(float(r["overpotentials_V.coating_ohmic"])) == pytest.approx(i * t / kappa, rel=1e-3)
    assert (out / "sweep.png").exists() and (out / "run_001" / "plating.png").exists()
    assert json.loads((out / "sweep.json").read_text())["keys"] == ["coating.thickness"]
