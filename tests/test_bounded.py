"""Bounded work (issue 13, item 2): generators and solver loops stop with exit 2/3 naming the parameter."""

import time
from pathlib import Path

import pytest
from mpi4py import MPI

from licoat.cli import main
from licoat.meshes import GeometryError
from licoat.meshes import foam
from licoat.solver.electrochemistry import SolverError, SteadyCell
from licoat.solver.properties import Kinetics, Operation
from licoat.solver.transient import TransientOptions, integrate
from tests.helpers import constant_electrolyte, planar

FOAM = Path(__file__).resolve().parents[1] / "cases" / "foam.toml"


def test_foam_porosity_too_close_to_one_exits_2_quickly(tmp_path, capsys):
    """Issue 13: porosity = 0.999 was still meshing after 5 minutes; now exit 2 naming the limit."""
    t0 = time.monotonic()
    rc = main(["mesh", str(FOAM), "--out", str(tmp_path / "m"), "--set", "geometry.porosity=0.999"])
    err = capsys.readouterr().err
    assert rc == 2 and time.monotonic() - t0 < 60
    assert "geometry.porosity = 0.999 is too close to 1" in err and "geometry.pore_size" in err
    limit = float(err.split("at most ")[1].split()[0])
    assert 0.9 < limit < 0.999  # the largest porosity with struts of 0.03 x the pore size (Kelvin skeleton)


def test_foam_thin_strut_diameter_rejected_before_meshing():
    p = dict(kind="foam", dim=3, width=8e-6, depth=8e-6, pore_size=4e-6, strut_diameter=0.02 * 4e-6,
             host_thickness=8e-6, electrolyte_thickness=10e-6, mesh_size=1e-6)
    with pytest.raises(GeometryError, match="geometry.strut_diameter = 8e-08 m is too thin"):
        foam.check(p)
    foam.check({**p, "strut_diameter": 0.05 * 4e-6})


def _transient_cell():
    comm = MPI.COMM_WORLD
    L = 50e-6
    return SteadyCell(comm, planar(comm, L=L, h=10e-6), constant_electrolyte(), Kinetics(10.0, 0.5, 0.5, 0.5),
                      Operation("galvanostatic", 20.0, None, 298.15), length_scale=L, transient=True)


def test_transient_step_count_is_bounded():
    with pytest.raises(SolverError, match="more than 3 time steps.*operation.duration"):
        integrate(_transient_cell(), TransientOptions(duration=10.0, dt_initial=1e-3, max_steps=3))


def test_transient_rejections_are_bounded(monkeypatch):
    cell = _transient_cell()
    name = "newton" if hasattr(cell, "newton") else "_newton"  # every step's Newton solve fails
    monkeypatch.setattr(cell, name, lambda problem=None: (False, "maximum Newton iterations reached"))
    with pytest.raises(SolverError, match="gave up after 5 rejected steps"):
        integrate(cell, TransientOptions(duration=10.0, dt_initial=1e-3, max_rejected=4))
