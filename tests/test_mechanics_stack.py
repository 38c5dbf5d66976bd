"""Mechanics with a resolved coating stack: each layer its own moduli, continuity across layers.

Flat stack under a uniaxial stack pressure p, laterally constrained (mechanics.md; Monroe & Newman,
J. Electrochem. Soc. 152 (2005) A396): σ_yy = −p in every layer and in Li, and the stress on the Li
side and on the inner layer's side of the Li surface do not depend on the outer layer. So
(i) two layers of one material are that material's single layer of the summed thickness, and
(ii) changing the outer layer's material leaves the mechanical overpotential at Li unchanged,
while (iii) changing the inner layer's material (its moduli and V+) changes it.
"""

import pytest
from mpi4py import MPI

from licoat import setup
from licoat.case import validate
from licoat.meshes import build_mesh
from licoat.run import solve_steady


def run(stack):
    raw = {"geometry": {"width": "2 um", "mesh_size": "1 um", "electrolyte_thickness": "10 um",
                        "interface_mesh_size": "0.25 um"},
           "coating": {"stack": stack, "layers": 2},
           "mechanics": {"enabled": True, "stress_coupling": "monroe-newman", "stack_pressure": "1 MPa"},
           "operation": {"current_density": "1 mA/cm^2"}}
    case = validate(raw)
    s = solve_steady(MPI.COMM_WORLD, case, build_mesh(MPI.COMM_WORLD, setup.geometry_params(case)))
    return s["overpotentials_V"]["mechanical"]


def layer(material, t):
    return {"material": material, "thickness": t, "model": "resolved"}


def test_mechanics_of_a_stack():
    split = run([layer("LiPON", "20 nm"), layer("LiPON", "30 nm")])
    single = run([layer("LiPON", "50 nm")])
    assert split == pytest.approx(single, rel=1e-6)
    outer_changed = run([layer("LiPON", "20 nm"), layer("alucone", "30 nm")])
    assert outer_changed == pytest.approx(split, rel=1e-6)
    inner_changed = run([layer("alucone", "20 nm"), layer("LiPON", "30 nm")])
    assert abs(inner_changed - split) > 1e-3 * abs(split)
