"""3D remeshing of a moving interface with mmg3d (issue 9, item 2; solver/remesh3d.py, solver/remesh.py).

A 3D sinusoid (ridges z = A cos kx extruded along y, A = 0.5 µm, λ = 10 µm, 10 µm of electrolyte, coarse:
h = 2.5 µm, 1 µm at the surface) is plated 1.1 mAh/cm² at 2 mA/cm² (5.4 µm of Li): the cells above the
rising surface are squeezed and the mesh is remeshed twice (mmg3d; the bare plating surface is remeshed too
where keeping it node for node would keep its degraded triangles).

Verification (as the 2D tests, tests/test_moving_remesh.py):
* mass: plated volume ∫δ dS = V_M ∫I dt/F within 0.1 % (∫q dS conserved at every remesh), and the electrolyte
  has lost that volume to 1 % (first-order lumped normal move; the new surface nodes are put on the old
  surface);
* transfer: a field linear in x is carried exactly by the non-matching interpolation (P1 reproduces it; where
  the new surface lies outside the old mesh the closest old cell's polynomial is exact too);
* quality: each remesh raises the smallest dihedral angle, and no cell inverts;
* tags: every region and facet group keeps its name and tag, with its volume/area to 1e-3 (1e-12 where the
  surfaces are kept node for node).
"""

import numpy as np
import pytest
from mpi4py import MPI

from licoat.constants import FARADAY
from test_moving_remesh import (I_APP, V_M, electrolyte_volume, moving_cell, moving_of, no_inverted_cells,
                                run)

DURATION = 2000.0
GEO = dict(kind="sinusoid", dim=3, width=5e-6, electrolyte_thickness=10e-6, mesh_size=2.5e-6,
           interface_mesh_size=1e-6, amplitude=0.5e-6)


def cell3d(comm):
    return moving_cell(comm, **GEO)


def measures(tm):
    """{group: its volume (regions) or area (facet groups)} [m³, m²]."""
    import ufl
    from dolfinx import fem

    one = fem.Constant(tm.mesh, 1.0)
    out = {}
    for name, (d, tag) in tm.groups.items():
        if d == tm.dim:
            form = one * ufl.Measure("dx", domain=tm.mesh, subdomain_data=tm.cell_tags)(tag)
        else:
            form = (one * ufl.Measure("ds", domain=tm.mesh, subdomain_data=tm.facet_tags)(tag)
                    + one("+") * ufl.Measure("dS", domain=tm.mesh, subdomain_data=tm.facet_tags)(tag))
        out[name] = tm.mesh.comm.allreduce(fem.assemble_scalar(fem.form(form)), op=MPI.SUM)
    return out


def linear(x):
    return 3.0 + 2e5 * x[0] - 7e4 * x[1] + 1e5 * x[2]


def linear_transfer_error(old_tm, new_tm):
    from dolfinx import fem

    from licoat.solver.remesh import transfer

    f0 = fem.Function(fem.functionspace(old_tm.mesh, ("Lagrange", 1)))
    f1 = fem.Function(fem.functionspace(new_tm.mesh, ("Lagrange", 1)))
    f0.interpolate(linear)
    transfer(f1, f0)
    x = f1.function_space.tabulate_dof_coordinates()
    err = float(np.abs(f1.x.array - linear(x.T)).max(initial=0.0))
    return new_tm.mesh.comm.allreduce(err, op=MPI.MAX)


@pytest.fixture(scope="module")
def remeshed_run():
    """The plated 3D sinusoid, with every remesh checked on the way (linear transfer, group measures)."""
    from licoat.solver import remesh as R

    real = R.remesh
    checks = []

    def checked(tm, *args, **kw):
        new, corrections = real(tm, *args, **kw)
        checks.append(dict(before=measures(tm), after=measures(new), linear_error=linear_transfer_error(tm, new),
                           surface_remeshed=new.info["surface_remeshed"], groups=new.groups == tm.groups))
        return new, corrections

    R.remesh = checked
    try:
        cell, dm = cell3d(MPI.COMM_WORLD)
        v0 = electrolyte_volume(cell)
        res = run(cell, dm, DURATION)
    finally:
        R.remesh = real
    return cell, res, v0, checks


def test_3d_remeshing_keeps_mass(remeshed_run):
    """The run goes to the end through several remeshes; plated volume = V_M ∫I dt/F (0.1 %), the electrolyte
    lost it (1 %)."""
    cell, res, v0, _ = remeshed_run
    mi = moving_of(cell)
    assert res.stop_reason is None and res.series[-1]["time_s"] == pytest.approx(DURATION)
    assert mi.remeshes >= 2
    plated = V_M * I_APP * 5e-6 * 5e-6 * DURATION / FARADAY
    assert res.series[-1]["plated_volume_m3"] == pytest.approx(plated, rel=1e-3, abs=0)
    assert v0 - electrolyte_volume(cell) == pytest.approx(plated, rel=0.01, abs=0)


def test_3d_remeshing_raises_quality(remeshed_run):
    """Every remesh raises the smallest dihedral angle; no cell is inverted at the end."""
    cell, _, _, checks = remeshed_run
    log = moving_of(cell).remesh_log
    assert len(log) == len(checks) >= 2
    for entry in log:
        assert entry["angle_after"] > entry["angle_before"], entry
    assert no_inverted_cells(cell)
    assert any(c["surface_remeshed"] for c in checks)  # the path with the plating surface remeshed was taken


def test_3d_remesh_transfers_linear_fields_and_keeps_groups(remeshed_run):
    """At every remesh: a linear field is transferred exactly, the groups keep their names and tags and their
    volumes/areas (1e-3; 1e-12 where the surfaces were kept)."""
    _, _, _, checks = remeshed_run
    for c in checks:
        assert c["groups"] and c["linear_error"] < 1e-9
        tol = 1e-3 if c["surface_remeshed"] else 1e-12
        for name, before in c["before"].items():
            assert c["after"][name] == pytest.approx(before, rel=tol, abs=1e-30), name


def test_3d_remesh_of_a_fresh_mesh_keeps_the_surfaces():
    """Remeshing the initial (unmoved) mesh keeps the surfaces node for node (mmg3d with required triangles:
    areas to round-off), raises the smallest dihedral angle and transfers a linear field exactly."""
    from licoat.solver.remesh import min_angle_deg, remesh

    cell, _ = cell3d(MPI.COMM_WORLD)
    new, corrections = remesh(cell.tm, *moving_of(cell).sizes)
    assert corrections == [] and not new.info["surface_remeshed"]
    assert new.groups == cell.tm.groups and new.plating_surfaces() == cell.tm.plating_surfaces()
    assert new.sides("anode_electrolyte") == cell.tm.sides("anode_electrolyte")
    assert min_angle_deg(new.mesh) > min_angle_deg(cell.mesh)
    before, after = measures(cell.tm), measures(new)
    for name in before:
        assert after[name] == pytest.approx(before[name], rel=1e-12, abs=1e-30), name
    assert linear_transfer_error(cell.tm, new) < 1e-9
