"""Stability study with a coating bilayer (issue: composable physics, coating stacks).

Checks (mechanics.md, Monroe & Newman, J. Electrochem. Soc. 152 (2005) A396): an outer layer of the
same material as the inner one is the single layer of the summed thickness (same FEM problem up to a
mesh row); as the outer layer's thickness goes to zero the bilayer tends to the single inner layer;
the outer layer's moduli enter chi.
"""

import math

import pytest
from mpi4py import MPI

from licoat.case import validate
from licoat.solver import stability as st
from licoat.studies import stability_params

COMM = MPI.COMM_WORLD
V_M = 1.3e-5
LAM = 2 * math.pi / 1e8
REF = dict(G_e=3.4e9, nu_e=0.42, G_s=3.4e9, nu_s=0.33, V_M=V_M, V_plus=2 * V_M, gamma=0.556)


def chi(t, outer=None):
    return st.stability_chi(COMM, **REF, wavelength=LAM, coating_thickness=t, outer_layer=outer,
                            cells_per_wavelength=16)["chi_J_per_mol_m"]


def test_same_material_bilayer_is_the_single_layer():
    one = chi(0.3 * LAM)
    two = chi(0.1 * LAM, {"G": REF["G_s"], "nu": REF["nu_s"], "thickness": 0.2 * LAM})
    assert two == pytest.approx(one, rel=2e-3)


def test_bilayer_tends_to_the_single_layer_as_the_outer_layer_vanishes():
    single = chi(0.2 * LAM)
    dev = []
    # a 30x stiffer skin changes chi in proportion to its thickness once it is thin (the change is not
    # monotone for thick skins: -1.7 % at t_out = lambda/80, +20 % at lambda/5)
    for t_out in (0.01, 0.003, 0.001):
        b = chi(0.2 * LAM, {"G": 30 * REF["G_s"], "nu": 0.25, "thickness": t_out * LAM})
        dev.append(abs(b - single) / abs(single))
    assert dev[0] > dev[1] > dev[2]
    assert dev[2] < 0.006


def test_outer_layer_moduli_enter_chi():
    soft = chi(0.2 * LAM)
    stiff_on_top = chi(0.2 * LAM, {"G": 20 * REF["G_s"], "nu": 0.25, "thickness": 0.2 * LAM})
    assert soft > 0  # v = 2 at G_s/G_e = 1 < r* = 3.169: the soft layer alone is unstable
    assert stiff_on_top != pytest.approx(soft, rel=0.05)  # the outer layer's moduli enter chi


def test_case_with_a_bilayer_stack(tmp_path):
    case = validate({"study": {"kind": "stability", "wavelength": "1 um"},
                     "coating": {"stack": [{"material": "Al2O3", "thickness": "6.5 nm"},
                                           {"material": "alucone", "thickness": "20 nm"}]}})
    p = stability_params(case)
    assert p["coating_thickness"] == pytest.approx(6.5e-9)
    assert p["outer_layer"]["thickness"] == pytest.approx(20e-9)
    block = st.stability_summary(COMM, dict(p, cells_per_wavelength=16))
    assert block["coating_thickness_m"] == pytest.approx(26.5e-9)
    assert [lay["thickness_m"] for lay in block["layers"]] == pytest.approx([6.5e-9, 20e-9])
