"""Lithiophilicity: a per-surface nucleation overpotential switches plating on smoothly.

Review numbers (Oyakhire et al., Adv. Energy Mater. 10 (2020) 2002736, as quoted in the review):
eta_nuc = 129.5 mV on bare Cu, 20.2 mV on Cu with 5 nm ALD TiO2. Held at eta = -50 mV, bare Cu
carries essentially no plating current, TiO2-coated Cu nearly the full Butler–Volmer current:
a(eta) = 1/(1 + exp((eta + eta_nuc)/w)), w = 5 mV.
"""

import numpy as np
import pytest
from mpi4py import MPI

from helpers import constant_electrolyte, planar
from licoat.case import validate
from licoat.constants import FARADAY, GAS_CONSTANT
from licoat.materials import load_material
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.properties import Kinetics, Operation


@pytest.mark.parametrize("eta_nuc", [0.1295, 0.0202])
def test_nucleation_activation(eta_nuc):
    comm = MPI.COMM_WORLD
    tm = planar(comm, L=20e-6)
    kin = Kinetics(10.0, 0.5, 0.5, 0.0, nucleation_overpotential=eta_nuc)
    # very conductive, fast-diffusing electrolyte: the surface overpotential equals the applied voltage
    el = constant_electrolyte(kappa=1e4, diffusivity=1e-3)
    cell = SteadyCell(comm, tm, el, kin, Operation("potentiostatic", None, -0.05, 298.15), length_scale=20e-6)
    m = cell.solve().metrics()
    f = FARADAY / (GAS_CONSTANT * 298.15)
    eta = m["overpotentials_V"]["kinetic"]
    i_bv = 10.0 * (np.exp(-0.5 * f * eta) - np.exp(0.5 * f * eta))
    a = 1.0 / (1.0 + np.exp((eta + eta_nuc) / 5e-3))
    assert eta == pytest.approx(-0.05, rel=1e-3)
    assert m["plating"]["current_density_mean_A_m2"] == pytest.approx(a * i_bv, rel=1e-6)
    if eta_nuc > 0.05:
        assert m["plating"]["current_density_mean_A_m2"] < 1e-5 * i_bv  # bare Cu: no nucleation yet
    else:
        assert m["plating"]["current_density_mean_A_m2"] > 0.99 * i_bv  # lithiophilic TiO2 seed


def test_review_nucleation_numbers_in_materials():
    assert load_material("Cu").value("nucleation_overpotential") == pytest.approx(0.1295)
    assert load_material("TiO2").value("nucleation_overpotential") == pytest.approx(0.0202)


def test_insulating_host_plates_only_where_coated():
    """Polyimide host: bare host surfaces are blocked; a lithiophilic coating (ZnO) makes them active."""
    from licoat.setup import surface_kinetics

    from licoat.meshes.common import TaggedMesh

    sides = {"host_electrolyte": {"sides": ["host", "electrolyte"]},
             "host_coating": {"sides": ["host", "electrolyte"], "film": True},
             "collector_coating": {"sides": ["collector", "electrolyte"], "film": True}}
    roles = {"host": {"role": "metal", "layer": 0}, "collector": {"role": "metal", "layer": 0},
             "electrolyte": {"role": "electrolyte", "layer": 0}}

    def FakeTM():  # topology only, as the mesher records it (no mesh needed)
        return TaggedMesh(None, None, None, {"host_electrolyte": (1, 1), "host_coating": (1, 2), "collector_coating": (1, 3)},
                          {"topology": {"regions": roles, "interfaces": sides}})

    case = validate({"host": {"material": "polyimide"}, "coating": {"material": "ZnO", "thickness": "10 nm", "model": "thin"}})
    kin = surface_kinetics(case, FakeTM())
    assert kin["host_coating"].active and kin["collector_coating"].active
    assert not kin["host_electrolyte"].active
    assert kin["collector_coating"].nucleation_overpotential == pytest.approx(load_material("ZnO").get("nucleation_overpotential", 0.0))
