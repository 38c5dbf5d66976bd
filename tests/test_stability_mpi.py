"""Parallel consistency of the stability FEM (solver/stability.py).

Run: ``mpiexec -n 2 python -m mpi4py -m pytest tests/test_stability_mpi.py``. Each rank computes the
reference value serially on ``MPI.COMM_SELF`` (rank-local) and the distributed value on
``MPI.COMM_WORLD``; they must agree to 1e-8 relative. Model and numbers: mechanics.md (Monroe & Newman,
J. Electrochem. Soc. 152 (2005) A396; Ahmad & Viswanathan, Phys. Rev. Lett. 119 (2017) 056003).
Also passes (trivially) on one rank.
"""

from __future__ import annotations

import math

import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

from licoat.solver import stability as st  # noqa: E402

pytestmark = pytest.mark.mpi

V_M = 1.3e-5
LAM = 2 * math.pi / 1e8
REF = dict(G_e=3.4e9, nu_e=0.42, G_s=3.4e9, nu_s=0.33, V_M=V_M, V_plus=2 * V_M, gamma=0.556)
KEYS = ("chi_J_per_mol_m", "chi_hydrostatic_J_per_mol_m", "chi_deviatoric_J_per_mol_m")


@pytest.mark.parametrize("coating_thickness", [None, 0.2 * LAM], ids=["half-space", "coating-0.2lambda"])
def test_chi_serial_equals_parallel(coating_thickness):
    """chi (and its hydrostatic / deviatoric parts) on COMM_SELF and COMM_WORLD agree to 1e-8; the
    interface integrals over interior facets count every facet once across ranks."""
    kw = dict(REF, wavelength=LAM, coating_thickness=coating_thickness, cells_per_wavelength=16)
    serial = st.stability_chi(MPI.COMM_SELF, **kw)
    par = st.stability_chi(MPI.COMM_WORLD, **kw)
    assert serial["dofs"] == par["dofs"]
    for key in KEYS:
        assert abs(par[key] - serial[key]) <= 1e-8 * abs(serial[key]), key
    # every rank holds the same (reduced) value
    vals = MPI.COMM_WORLD.allgather(par["chi_J_per_mol_m"])
    assert max(vals) == min(vals)


def test_critical_ratio_serial_equals_parallel():
    """FEM critical ratio (v = 2; r* = 3.169) identical to 1e-8 on one rank and all ranks."""
    kw = dict(nu_e=0.42, nu_s=0.33, V_M=V_M, V_plus=2 * V_M, cells_per_wavelength=16)
    r1 = st.critical_shear_modulus_ratio(MPI.COMM_SELF, **kw)
    rn = st.critical_shear_modulus_ratio(MPI.COMM_WORLD, **kw)
    assert abs(rn - r1) <= 1e-8 * r1
    assert abs(rn - 3.169) < 0.01 * 3.169


def test_flat_shift_serial_equals_parallel():
    """Flat uniaxial-constrained shift: 0.11615 mV/MPa (V_+ = 0) on one rank and all ranks."""
    kw = dict(loading="uniaxial_constrained", pressure=1e6, G_e=3.4e9, nu_e=0.42, G_s=10e9, nu_s=0.33,
              V_M=V_M, V_plus=0.0)
    a = st.flat_interface_shift(MPI.COMM_SELF, **kw)
    b = st.flat_interface_shift(MPI.COMM_WORLD, **kw)
    assert abs(a - b) <= 1e-8 * abs(a)
    assert abs(b * 1e3 - 0.11615) < 1e-4 * 0.11615
