"""Resolved coating stacks in every generator that supports coatings: nested shells, one volume per
layer, interfaces whose two sides the mesher records (issue: composable physics, items 1 and 4).

Layer volumes against the closed form: a layer of thickness t_k on a surface of area A (2D: length)
has volume ≈ A t_k (exact for the planar stack; curvature corrections O(t/R) < 1 % for the thin
layers here, as in tests/test_geometry.py).
"""

import numpy as np
import pytest
import ufl
from dolfinx import fem
from dolfinx.mesh import entities_to_geometry
from mpi4py import MPI

from licoat.meshes.registry import build_mesh

COMM = MPI.COMM_WORLD
um = 1e-6
STACK = [0.1 * um, 0.2 * um]


def volume(tm, name):
    dx = ufl.Measure("dx", domain=tm.mesh, subdomain_data=tm.cell_tags)
    return COMM.allreduce(fem.assemble_scalar(fem.form(fem.Constant(tm.mesh, 1.0) * dx(tm.tag(name)))), op=MPI.SUM)


def base(kind, **kw):
    p = dict(kind=kind, dim=2, electrolyte_thickness=5 * um, mesh_size=1.0 * um, interface_mesh_size=0.25 * um,
             coating_thickness=sum(STACK), coating_model="resolved", coating_stack=STACK, coating_cells=2)
    return {**p, **kw}


CASES = {
    "planar": base("planar", width=4 * um, anode_thickness=2 * um),
    "sinusoid": base("sinusoid", width=10 * um, anode_thickness=3 * um, amplitude=1 * um, wavelength=10 * um,
                     electrolyte_thickness=8 * um),
    "bump": base("bump", width=6 * um, anode_thickness=3 * um, bump_radius=2 * um),
    "pillars": base("pillars", width=4 * um, lattice="square", pillar_diameter=2 * um, pillar_height=4 * um, pitch=4 * um,
                    collector_thickness=1 * um),
    "fibers": base("fibers", width=12 * um, orientation="aligned", fiber_diameter=2 * um, fiber_volume_fraction=0.2,
                   host_thickness=8 * um, collector_thickness=1 * um, seed=3),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_stack_layers_and_topology(kind):
    tm = build_mesh(COMM, CASES[kind])
    assert tm.coating_layers() == ["coating", "coating_1"]
    metal = "anode" if kind in ("planar", "sinusoid", "bump") else "host"
    between = [n for n in tm.topology["interfaces"] if tm.sides(n) == ("coating", "coating_1")]
    assert between == ["coating_coating_1"]
    assert tm.interfaces_between("coating", "electrolyte") == ["coating_1_electrolyte"]
    assert all(tm.role(tm.sides(s)[1]) == "coating" for s in tm.plating_surfaces())
    assert f"{metal}_coating" in tm.plating_surfaces()
    # layer volumes: the area of the interface below each layer times its thickness
    area0 = sum(_area(tm, s) for s in tm.plating_surfaces())
    area1 = _area(tm, "coating_coating_1")
    for layer, area, t in (("coating", area0, STACK[0]), ("coating_1", area1, STACK[1])):
        vol = volume(tm, layer)
        assert vol == pytest.approx(area * t, rel=0.03), (layer, vol, area * t)


def _area(tm, name):
    """Measure of an interior facet group (counted once)."""
    fdim = tm.dim - 1
    facets = tm.facet_tags.indices[tm.facet_tags.values == tm.tag(name)]
    imap = tm.mesh.topology.index_map(fdim)
    facets = facets[facets < imap.size_local]
    tm.mesh.topology.create_connectivity(fdim, 0)
    pts = tm.mesh.geometry.x[entities_to_geometry(tm.mesh, fdim, facets)]
    if tm.dim == 2:
        local = float(np.linalg.norm(pts[:, 1] - pts[:, 0], axis=1).sum())
    else:
        local = float(0.5 * np.linalg.norm(np.cross(pts[:, 1] - pts[:, 0], pts[:, 2] - pts[:, 0]), axis=1).sum())
    return COMM.allreduce(local, op=MPI.SUM)
