"""Physical sanity before success (issue 13, item 1): every rule of solver/sanity.py, both ways.

References: limiting currents F D c0/((1-t+)L) (reservoir) and 2 F D c0/((1-t+)L) (Li counter),
Newman & Thomas-Alyea, Electrochemical Systems, 3rd ed., ch. 19 / physics.md §6; with D(c) the 1D
steady salt balance D dc/dy = (1-t+) i/F integrates (Kirchhoff transform) to
∫_{c_s}^{c0} D dc = (1-t+) i L/F. Material ranges: Nyman et al., Electrochim. Acta 53 (2008) 6356.
"""

from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from licoat.case import CaseError, validate
from licoat.cli import main
from licoat.constants import FARADAY
from licoat.solver import sanity
from licoat.solver.electrochemistry import SolverError, SteadyCell
from licoat.solver.properties import Coating, Kinetics, Operation
from tests.helpers import C0, D, TP, constant_electrolyte, planar

DEFAULT = Path(__file__).resolve().parents[1] / "cases" / "planar.toml"
COARSE = ["--set", "geometry.mesh_size='4 um'", "--quiet"]
L, T = 50e-6, 298.15


def _case(**op):
    raw = {"geometry": {"electrolyte_thickness": L},
           "electrolyte": {"diffusivity": D, "transference_number": TP, "concentration": C0, "conductivity": 1.0},
           "operation": {"current_density": 20.0, **op}}
    return validate(raw)


def test_limiting_current_estimate_constant_properties():
    """Constant D: the estimate is the closed form, twice as large against a Li counter (physics.md §6)."""
    closed = FARADAY * D * C0 / ((1 - TP) * L)
    assert sanity.limiting_current(_case()) == pytest.approx(closed, rel=1e-12)
    assert sanity.limiting_current(_case(counter="lithium")) == pytest.approx(2 * closed, rel=1e-12)


def test_limiting_current_estimate_with_nyman_fits_matches_fem():
    """Nyman D(c): at half the estimate the FEM surface concentration satisfies the Kirchhoff relation
    ∫_0^{c_s} D dc = 0.5 ∫_0^{c0} D dc within 1 % (the estimate is the true 1D limit, not D(c0)'s)."""
    from licoat import setup

    case = validate({"geometry": {"electrolyte_thickness": L}, "operation": {"current_density": 1.0}})
    el = setup.electrolyte(case)
    i_lim = sanity.limiting_current(case)
    comm = MPI.COMM_WORLD
    cell = SteadyCell(comm, planar(comm, L=L), el, Kinetics(10.0, 0.5, 0.5, 0.5),
                      Operation("galvanostatic", 0.5 * i_lim, None, T), length_scale=L)
    cs = cell.solve().metrics()["surface_concentration_mean_mol_m3"]

    def kirchhoff(c):
        x, w = np.polynomial.legendre.leggauss(16)
        return 0.5 * c * sum(wi * el.diffusivity.at(0.5 * c * (xi + 1)) for xi, wi in zip(x, w))

    assert kirchhoff(cs) == pytest.approx(0.5 * kirchhoff(el.concentration), rel=1e-2)
    # the constant-D estimate with D(c0) would be 30 % too low: the rule uses the integral
    assert i_lim > 1.2 * FARADAY * el.diffusivity.at(el.concentration) * el.concentration / ((1 - TP) * L)


def test_steady_run_at_the_limiting_current_exits_3(tmp_path, capsys):
    case = validate({"operation": {"current_density": 1.0}, "geometry": {"electrolyte_thickness": 50e-6}})
    i_lim = sanity.limiting_current(case)
    out = tmp_path / "lim"
    rc = main(["run", str(DEFAULT), "--out", str(out), *COARSE, "--set", f"operation.current_density={i_lim * 1.0001}"])
    err = capsys.readouterr().err
    assert rc == 3
    assert f"i_lim = {i_lim:.4g} A/m^2" in err and "transient" in err
    assert not out.exists()
    with pytest.raises(SolverError):
        sanity.check_limiting_current(_case(current_density=-1.01 * sanity.limiting_current(_case())), transient=False)
    sanity.check_limiting_current(_case(current_density=0.99 * sanity.limiting_current(_case())), transient=False)
    sanity.check_limiting_current(_case(current_density=2 * sanity.limiting_current(_case())), transient=True)


@pytest.mark.parametrize("override, expect", [
    ("operation.temperature='1 K'", ["operation.temperature", "[288.15, 308.15] K", "Nyman"]),
    ("electrolyte.concentration='1e-9 mol/L'", ["electrolyte.concentration", "[200, 2000] mol/m^3", "Nyman"]),
    ("electrolyte.concentration='3 mol/L'", ["electrolyte.concentration", "[200, 2000] mol/m^3"]),
])
def test_outside_material_validity_exits_2(override, expect, tmp_path, capsys):
    for cmd in (["validate", str(DEFAULT)], ["run", str(DEFAULT), "--out", str(tmp_path / "o")]):
        assert main([*cmd, "--set", override]) == 2
        err = capsys.readouterr().err
        for e in expect:
            assert e in err
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()


def test_validity_inside_range_and_li_melting_point():
    assert sanity.validity_problems(validate({"operation": {"current_density": 1.0, "temperature": "30 degC"}})) == []
    raw = {"electrolyte": {"material": "LiTFSI_DOL_DME"}, "operation": {"current_density": 1.0, "temperature": "200 degC"}}
    with pytest.raises(CaseError, match="Li \\(anode\\).*melting point"):
        validate(raw)


def test_validity_table_needs_a_source(tmp_path):
    from licoat.materials import MaterialError, load_file

    p = tmp_path / "X.toml"
    p.write_text('name = "X"\nkind = "metal"\n[validity.temperature]\nmin = 1\nunit = "K"\n')
    with pytest.raises(MaterialError, match="no source"):
        load_file(p)
    p.write_text('name = "X"\nkind = "metal"\n[validity.pressure]\nmin = 1\nunit = "Pa"\nsource = "s"\n')
    with pytest.raises(MaterialError, match="unknown quantity"):
        load_file(p)


# ----------------------------------------------------------------------------- post-solve rules
@pytest.fixture(scope="module")
def solved():
    """A coated planar cell at 20 A/m^2 (constant properties): a physical state."""
    comm = MPI.COMM_WORLD
    t, kc = 50e-9, 1e-4
    cell = SteadyCell(comm, planar(comm, L=L, t=t), constant_electrolyte(), Kinetics(10.0, 0.5, 0.5, 0.0),
                      Operation("galvanostatic", 20.0, None, T), coating=Coating("film", t, kc), length_scale=L)
    cell.solve()
    return cell, Coating("film", t, kc)


def test_physical_state_passes(solved):
    cell, coat = solved
    m = sanity.check_state(cell, _case(), coating=coat)
    assert m["plating"]["current_density_mean_A_m2"] == pytest.approx(20.0 * cell.footprint / cell.area_S, rel=1e-9)


def test_galvanostatic_balance_rule(solved):
    """The same state against an applied current 1e-5 off: the balance rule (rtol 1e-6) rejects it."""
    cell, coat = solved
    m = cell.metrics()
    sanity.check_current_balance(cell, _case(current_density=20.0), m, coat)
    with pytest.raises(SolverError, match="current balance"):
        sanity.check_current_balance(cell, _case(current_density=20.0 * (1 + 1e-5)), m, coat)


def test_film_current_rule(solved):
    """Film current = coating ohmic drop / ASR: a film with 10 % more resistance than the solved one fails."""
    cell, coat = solved
    m = cell.metrics()
    case = _case(mode="potentiostatic", voltage=-0.1)
    sanity.check_current_balance(cell, case, m, coat)
    with pytest.raises(SolverError, match="film current"):
        sanity.check_current_balance(cell, case, m, Coating("film", coat.thickness, coat.ionic_conductivity / 1.1))


def test_concentration_finite_and_window_rules(solved):
    cell, coat = solved
    saved = [u.x.array.copy() for u in cell.unknowns]

    def restore():
        for u, a in zip(cell.unknowns, saved):
            u.x.array[:] = a

    try:
        if cell.comm.rank == 0:  # c < 0 at one node of one rank: the rule reduces over ranks
            cell.c_hat.x.array[0] = -1e-7
        with pytest.raises(SolverError, match="salt concentration"):
            sanity.check_concentration(cell, _case())
        sanity.check_concentration(cell, _case(), transient=True)  # within the integrator's -1e-6 c0
        if cell.comm.rank == 0:
            cell.c_hat.x.array[0] = -1e-3
        with pytest.raises(SolverError, match="salt concentration"):
            sanity.check_concentration(cell, _case(), transient=True)
        restore()
        cell.phi_hat.x.array[0] = np.nan
        with pytest.raises(SolverError, match="non-finite"):
            sanity.check_finite(cell)
        restore()
        cell.phi_hat.x.array[:] = (sanity.POTENTIAL_WINDOW_V + 0.5) / cell.Vt
        with pytest.raises(SolverError, match="window"):
            sanity.check_potentials(cell)
    finally:
        restore()
    sanity.check_finite(cell)
    sanity.check_potentials(cell)


@pytest.mark.parametrize("voltage, reason", [("5 V", "current balance"), ("-2 V", "salt concentration reaches")])
def test_issue_cases_exit_3(voltage, reason, tmp_path, capsys):
    """Issue 13: potentiostatic +5 V (Newton stopped far from the solution: -1.07e14 A/m^2 against a film that
    carries 6.6e3 A/m^2) and -2 V (negative salt concentration) were reported as results."""
    out = tmp_path / "p"
    rc = main(["run", str(DEFAULT), "--out", str(out), "--quiet", "--set", "operation.mode='potentiostatic'",
               "--set", f"operation.voltage='{voltage}'"])
    assert rc == 3
    assert reason in capsys.readouterr().err
    assert not out.exists()


def test_thin_film_balance_rule():
    """Thin film: the Li|film reaction current equals the film current (ψ − φ)/ASR at a solution; an
    iterate whose film potential ψ is moved off the solution fails the rule (solver/sanity.py)."""
    from helpers import constant_electrolyte, planar
    from licoat.solver.properties import Kinetics, Operation

    tm = planar(MPI.COMM_WORLD, L=20e-6, t=20e-9, model="thin")
    cell = SteadyCell(MPI.COMM_WORLD, tm, constant_electrolyte(), Kinetics(10.0, 0.5, 0.5, 0.0),
                      Operation("potentiostatic", None, -0.1, 298.15), coating=Coating("film", 20e-9, 1e-4, "thin"),
                      length_scale=20e-6)
    cell.solve()
    sanity.check_thin_film_balance(cell)
    cell.psi_hat.x.array[:] *= 0.5  # not a solution any more
    with pytest.raises(SolverError, match="thin film"):
        sanity.check_thin_film_balance(cell)
