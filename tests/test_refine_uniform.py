"""licoat's uniform refinement (meshes/refine.py: refine_uniform) against DOLFINx's own
(``dolfinx.mesh.refine``, uniform, no redistribution), and a manufactured solution on the refined
meshes converging at the P1 rate. Serial and under ``mpiexec -n 2`` (the new vertices' numbers
across the ranks come from the vertex and edge index maps; the refined mesh is conforming only if
they are right).

Run as: mpiexec -n 2 python -m mpi4py -m pytest tests/test_refine_uniform_mpi.py (same tests).
"""

import numpy as np
import pytest
from mpi4py import MPI

from licoat import import_stack

import_stack()
import dolfinx  # noqa: E402
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402

from licoat.meshes import build_mesh  # noqa: E402
from licoat.meshes.common import TaggedMesh  # noqa: E402
from licoat.meshes.refine import refine_uniform  # noqa: E402
from licoat.meshes.report import geometry_report  # noqa: E402

um = 1e-6
PLANAR2D = dict(kind="planar", dim=2, width=10 * um, electrolyte_thickness=20 * um, anode_thickness=2 * um,
                coating_thickness=20e-9, mesh_size=2 * um, interface_mesh_size=1 * um)
FIBRES = dict(kind="fibers", dim=3, orientation="random-in-plane", width=6 * um, depth=6 * um, fiber_diameter=2 * um,
              fiber_volume_fraction=0.2, host_thickness=5 * um, collector_thickness=1 * um, seed=3,
              electrolyte_thickness=4 * um, mesh_size=2 * um, interface_mesh_size=0.8 * um, coating_thickness=0.0,
              coating_model="resolved")


def dolfinx_refined(tm: TaggedMesh) -> TaggedMesh:
    tdim = tm.dim
    tm.mesh.topology.create_entities(1)
    tm.mesh.topology.create_connectivity(tdim - 1, tdim)
    new, pc, pf = dolfinx.mesh.refine(tm.mesh, partitioner=None, option=dolfinx.mesh.RefinementOption.parent_cell_and_facet)
    new.topology.create_entities(tdim - 1)
    new.topology.create_connectivity(tdim - 1, tdim)
    return TaggedMesh(new, dolfinx.mesh.transfer_meshtag(tm.cell_tags, new, pc),
                      dolfinx.mesh.transfer_meshtag(tm.facet_tags, new, pc, pf), dict(tm.groups), dict(tm.info))


def entity_counts(tm: TaggedMesh) -> dict:
    top, tdim = tm.mesh.topology, tm.dim
    imap = top.index_map(tdim - 1)
    exterior = dolfinx.mesh.exterior_facet_indices(top)
    out = {"cells": top.index_map(tdim).size_global, "vertices": top.index_map(0).size_global,
           "facets": imap.size_global,
           "exterior_facets": tm.mesh.comm.allreduce(int(np.count_nonzero(exterior < imap.size_local)), op=MPI.SUM)}
    for name, (d, tag) in tm.groups.items():
        if d == tdim - 1:
            out[name] = tm.mesh.comm.allreduce(int(np.count_nonzero(tm.facet_tags.find(tag) < imap.size_local)), op=MPI.SUM)
    return out


@pytest.mark.parametrize("p", [PLANAR2D, FIBRES], ids=["2D planar", "3D fibres"])
def test_uniform_refinement_equals_dolfinx_refine(p):
    """The same entities (cells, vertices, facets, exterior facets, tagged facets per group) and the
    same volumes and interface areas per group as DOLFINx's refinement of the same mesh; every
    child at least as well shaped as the worst parent allows (the quality of the refined mesh within
    a factor 2 of DOLFINx's, whose octahedron split differs)."""
    tm = build_mesh(MPI.COMM_WORLD, p)
    ours, ref = refine_uniform(tm), dolfinx_refined(tm)
    assert entity_counts(ours) == entity_counts(ref)
    a, b = geometry_report(ours, p), geometry_report(ref, p)
    for key in ("volumes_m3", "interface_areas_m2"):
        assert set(a[key]) == set(b[key]) and a[key]
        for name, v in b[key].items():
            assert a[key][name] == pytest.approx(v, rel=1e-12), (key, name)
    assert a["min_quality"] > 0.5 * b["min_quality"]


def test_poisson_on_refined_meshes_converges_at_second_order():
    """-lap u = f on the unit cube with u = sin(pi x) sin(pi y) sin(pi z) on the boundary (exact), on a
    mesh and its two uniform refinements: the P1 L2 error falls towards 4x per halving of h (rate 2;
    Brenner & Scott, Thm 5.7.6; measured 1.77 then 1.91 from the 4^3 cube, DOLFINx's refinement
    1.96, 1.98), which a non-conforming mesh (a wrong vertex number across ranks, a duplicated
    midpoint) or misplaced midpoints would break."""
    comm = MPI.COMM_WORLD
    base = dolfinx.mesh.create_unit_cube(comm, 4, 4, 4, ghost_mode=dolfinx.mesh.GhostMode.none)
    tdim = 3
    base.topology.create_entities(tdim - 1)
    empty = dolfinx.mesh.meshtags(base, tdim, np.zeros(0, np.int32), np.zeros(0, np.int32))
    facets = dolfinx.mesh.meshtags(base, tdim - 1, np.zeros(0, np.int32), np.zeros(0, np.int32))
    tm = TaggedMesh(base, empty, facets, {}, {})
    errors, sizes = [], []
    for level in range(3):
        if level:
            tm = refine_uniform(tm)
        msh = tm.mesh
        V = fem.functionspace(msh, ("Lagrange", 1))
        x = ufl.SpatialCoordinate(msh)
        exact = ufl.sin(ufl.pi * x[0]) * ufl.sin(ufl.pi * x[1]) * ufl.sin(ufl.pi * x[2])
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        msh.topology.create_connectivity(tdim - 1, tdim)
        bdofs = fem.locate_dofs_topological(V, tdim - 1, dolfinx.mesh.exterior_facet_indices(msh.topology))
        g = fem.Function(V)
        g.interpolate(lambda X: np.sin(np.pi * X[0]) * np.sin(np.pi * X[1]) * np.sin(np.pi * X[2]))
        from dolfinx.fem.petsc import LinearProblem

        uh = LinearProblem(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, 3 * ufl.pi ** 2 * exact * v * ufl.dx,
                           bcs=[fem.dirichletbc(g, bdofs)], petsc_options_prefix=f"refine_uniform_{level}_",
                           petsc_options={"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-12}).solve()
        e2 = fem.assemble_scalar(fem.form((uh - exact) ** 2 * ufl.dx(metadata={"quadrature_degree": 4})))
        errors.append(np.sqrt(comm.allreduce(e2, op=MPI.SUM)))
        sizes.append(msh.topology.index_map(tdim).size_global)
    assert sizes == [6 * 64, 6 * 64 * 8, 6 * 64 * 64]
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert rates[0] > 1.7 and abs(rates[1] - 2.0) < 0.12 and rates[1] > rates[0], rates
