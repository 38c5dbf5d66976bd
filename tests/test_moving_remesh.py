"""Moving interface with remeshing and resolved coatings carried by the Li surface (issue 9, item 2;
solver/moving_mesh.py, solver/remesh.py).

Verification:
* mass: the plated volume ∫δ dS = V_M ∫I dt/F within 0.1 % through remeshes (the surface keeps its nodes except
  where short edges collapse; ∫q dS is conserved at each remesh), the electrolyte area loss equals the plated
  volume to the first-order accuracy of the lumped normal move (1 %);
* transfer: fields linear in x are carried exactly by the non-matching interpolation (P1 reproduces them);
* quality: each remesh raises the smallest angle and no cell inverts;
* coating stretch: a surface of curvature κ displaced by δ along its normal stretches by λ − 1 = δκ to first
  order (parallel curves: ds' = (1 + δκ) ds; e.g. do Carmo, Differential Geometry of Curves and Surfaces,
  §1-7), checked on a resolved film over a sinusoid h = A cos kx (κ = A k² cos kx for small slopes); a flat
  film does not stretch and keeps its thickness.
"""

import numpy as np
import pytest
from mpi4py import MPI

from helpers import constant_electrolyte
from licoat.constants import FARADAY
from licoat.meshes import build_mesh
from licoat.solver.deposit_metrics import DepositMetrics
from licoat.solver.electrochemistry import SteadyCell
from licoat.solver.moving_mesh import CoatingMembrane, _signed_measure
from licoat.solver.properties import Coating, Kinetics, Operation
from licoat.solver.surface_state import SurfaceModel, of
from licoat.solver.transient import TransientOptions, integrate

T = 298.15
V_M = 1.30e-5
I_APP = 20.0  # A/m^2 (2 mA/cm^2)


def moving_cell(comm, kind="sinusoid", dim=2, coating=None, membrane=None, **geo):
    p = dict(kind=kind, dim=dim, width=10e-6, electrolyte_thickness=20e-6, mesh_size=2e-6, interface_mesh_size=0.5e-6,
             amplitude=1e-6, wavelength=10e-6, anode_thickness=2e-6, bump_radius=2e-6,
             coating_thickness=coating.thickness if coating else 0.0, coating_model="resolved")
    p.update(geo)
    if dim == 3:
        p["depth"] = p["width"]
    tm = build_mesh(comm, p)
    s = tm.plating_surfaces()[0]
    cell = SteadyCell(comm, tm, constant_electrolyte(kappa=1.0, diffusivity=3e-10), Kinetics(10.0, 0.5, 0.5, 0.5),
                      Operation("galvanostatic", I_APP, None, T), coating=coating, length_scale=20e-6, transient=True,
                      surface_models={s: SurfaceModel(lithium_present=True)}, moving_interface=True,
                      coating_membrane=membrane)
    return cell, DepositMetrics(cell, kind)


def moving_of(cell):
    return next(c for c in cell.components if type(c).__name__ == "MovingInterface")


def electrolyte_volume(cell):
    import ufl
    from dolfinx import fem

    one = fem.Constant(cell.mesh, 1.0)
    return cell.comm.allreduce(fem.assemble_scalar(fem.form(one * cell.dx(cell.tm.tag("electrolyte")))), op=MPI.SUM)


def no_inverted_cells(cell):
    """Every cell has the orientation of the others (a remeshed mesh may be oriented the other way round)."""
    d = cell.dim
    n = cell.mesh.topology.index_map(d).size_local
    meas = _signed_measure(cell.mesh.geometry.x, cell.mesh.geometry.dofmaps[0][:n], d)
    pos = cell.comm.allreduce(int(np.count_nonzero(meas > 0)), op=MPI.SUM)
    neg = cell.comm.allreduce(int(np.count_nonzero(meas < 0)), op=MPI.SUM)
    return min(pos, neg) == 0 and max(pos, neg) == cell.mesh.topology.index_map(d).size_global


def run(cell, dm, duration):
    return integrate(cell, TransientOptions(duration=duration, dt_initial=0.05, dt_max=20.0),
                     on_step=lambda t, r: r.update(dm.step()))


def test_remeshing_keeps_mass_and_restores_quality():
    """A 1 µm sinusoid plated 0.5 mAh/cm² at 2 mA/cm² (2.4 µm of Li): without remeshing the mesh reaches its
    quality limit (the earlier stop); with it the run goes to the end, every remesh raises the smallest angle,
    nothing inverts, the plated volume is V_M ∫I dt/F (0.1 %) and the electrolyte has lost it (1 %)."""
    cell, dm = moving_cell(MPI.COMM_WORLD)
    v0 = electrolyte_volume(cell)
    res = run(cell, dm, 900.0)
    mi = moving_of(cell)
    assert res.stop_reason is None and res.series[-1]["time_s"] == pytest.approx(900.0)
    assert mi.remeshes >= 1
    for log in mi.remesh_log:
        assert log["angle_after"] > log["angle_before"] and log["angle_after"] > 20.0
    assert no_inverted_cells(cell)
    plated = V_M * I_APP * 10e-6 * 900.0 / FARADAY
    assert res.series[-1]["plated_volume_m3"] == pytest.approx(plated, rel=1e-3, abs=0)
    assert v0 - electrolyte_volume(cell) == pytest.approx(plated, rel=0.01, abs=0)
    assert res.series[-1]["cell_voltage_V"] < 0


def test_remesh_transfers_linear_fields_exactly():
    """Remesh a (moved) sinusoid mesh and carry fields linear in x across: P1 reproduces them, so the non-matching
    interpolation must be exact to round-off; the facet groups and regions keep their names and sides."""
    from dolfinx import fem

    from licoat.solver.remesh import remesh, transfer

    cell, _ = moving_cell(MPI.COMM_WORLD)
    mi = moving_of(cell)
    tm = cell.tm
    new, _ = remesh(tm, *mi.sizes)
    assert new.groups == tm.groups and new.plating_surfaces() == tm.plating_surfaces()
    assert new.sides("anode_electrolyte") == tm.sides("anode_electrolyte")
    V0 = fem.functionspace(tm.mesh, ("Lagrange", 1))
    V1 = fem.functionspace(new.mesh, ("Lagrange", 1))
    f0, f1 = fem.Function(V0), fem.Function(V1)
    f0.interpolate(lambda x: 3.0 + 2e5 * x[0] - 7e4 * x[1])
    transfer(f1, f0)
    x = V1.tabulate_dof_coordinates()
    assert np.abs(f1.x.array - (3.0 + 2e5 * x[:, 0] - 7e4 * x[:, 1])).max() < 1e-10
    # the surface is kept node for node where nothing collapses: the same plating length
    one = fem.Constant(new.mesh, 1.0)
    import ufl

    def length(t):
        ds = ufl.Measure("ds", domain=t.mesh, subdomain_data=t.facet_tags)
        return MPI.COMM_WORLD.allreduce(fem.assemble_scalar(fem.form(fem.Constant(t.mesh, 1.0) * ds(t.tag("anode_electrolyte")))),
                                        op=MPI.SUM)

    del one
    assert length(new) == pytest.approx(length(tm), rel=1e-12)


def test_moving_bump_2d_mass():
    """The 2D bump (R = 2 µm) plated 0.5 mAh/cm² at 2 mA/cm²: the foot of the bump is a concave corner that the
    deposit fills (surface nodes collapse there at remeshes); the run ends, and the plated volume is
    V_M ∫I dt/F within 0.1 %."""
    cell, dm = moving_cell(MPI.COMM_WORLD, kind="bump", interface_mesh_size=0.25e-6)
    res = run(cell, dm, 900.0)
    assert res.stop_reason is None and res.series[-1]["time_s"] == pytest.approx(900.0)
    assert moving_of(cell).remeshes >= 1 and no_inverted_cells(cell)
    plated = V_M * I_APP * 10e-6 * 900.0 / FARADAY
    assert res.series[-1]["plated_volume_m3"] == pytest.approx(plated, rel=1e-3, abs=0)


def test_moving_planar_3d_mass():
    """3D planar Li (coarse) plated 0.05 mAh/cm²: the surface rises uniformly by δ = V_M i t/F and the plated and
    lost electrolyte volumes are V_M ∫I dt/F within 0.1 %."""
    cell, dm = moving_cell(MPI.COMM_WORLD, kind="planar", dim=3, width=5e-6, electrolyte_thickness=10e-6,
                           mesh_size=2.5e-6, interface_mesh_size=2.5e-6)
    v0 = electrolyte_volume(cell)
    res = run(cell, dm, 90.0)
    assert res.stop_reason is None
    delta = V_M * I_APP * 90.0 / FARADAY
    plated = delta * 5e-6 * 5e-6
    assert res.series[-1]["plated_volume_m3"] == pytest.approx(plated, rel=1e-3, abs=0)
    assert v0 - electrolyte_volume(cell) == pytest.approx(plated, rel=1e-3, abs=0)
    z = cell.mesh.geometry.x[:, 2]
    assert cell.comm.allreduce(float(z.min()), op=MPI.MIN) == pytest.approx(delta, rel=1e-6)


@pytest.mark.parametrize("amplitude", [0.0, 0.2e-6], ids=["flat", "sinusoid"])
def test_coated_moving_interface_stretch(amplitude):
    """A resolved 100 nm film (resistive: the current through it is nearly uniform) on Li plated 0.1 mAh/cm²: both
    faces of the film move with the Li, its thickness is kept, and its in-plane stretch is the analytic
    λ − 1 = δκ (κ = A k² cos kx) within 5 % of its largest value away from the lateral sides (flat: 0)."""
    t = 100e-9
    coat = Coating("film", t, 1e-5, model="resolved")
    membrane = CoatingMembrane(((t, 100e9, 0.25),), coupled=False)
    cell, dm = moving_cell(MPI.COMM_WORLD, coating=coat, membrane=membrane, amplitude=amplitude,
                           kind="sinusoid" if amplitude else "planar")
    v0 = electrolyte_volume(cell)
    res = run(cell, dm, 180.0)
    assert res.stop_reason is None
    mi, st = moving_of(cell), of(cell)
    plated = V_M * I_APP * 10e-6 * 180.0 / FARADAY
    assert v0 - electrolyte_volume(cell) == pytest.approx(plated, rel=0.01, abs=0)  # the film moved with the Li
    s = cell.surfaces[0]
    V = st.V
    dofs = st.dofs[s]
    own = dofs[dofs < V.dofmap.index_map.size_local]
    x = V.tabulate_dof_coordinates()[own]
    x0 = x[:, 0] - mi.total.x.array.reshape(-1, 2)[own, 0]
    delta = st.q.x.array[own] * V_M / FARADAY
    k = 2 * np.pi / 10e-6
    predicted = delta * amplitude * k**2 * np.cos(k * x0)
    got = mi.stretch.x.array[own]
    inner = (x0 > 0.5e-6) & (x0 < 9.5e-6)
    scale = MPI.COMM_WORLD.allreduce(float(np.abs(predicted).max(initial=0.0)), op=MPI.MAX)
    err = MPI.COMM_WORLD.allreduce(float(np.abs(got - predicted)[inner].max(initial=0.0)), op=MPI.MAX)
    if amplitude:
        assert scale > 0.03 and err < 0.05 * scale
    else:
        assert err < 1e-9
    # thickness kept: the film's volume (area) is unchanged to 1e-3 of its change by stretching
    import ufl
    from dolfinx import fem

    film = cell.comm.allreduce(fem.assemble_scalar(fem.form(fem.Constant(cell.mesh, 1.0) * cell.dx(cell.tm.tag("coating")))),
                               op=MPI.SUM)
    length = cell.comm.allreduce(fem.assemble_scalar(fem.form(fem.Constant(cell.mesh, 1.0) * cell.sm[s])), op=MPI.SUM)
    assert film / length == pytest.approx(t, rel=0.02)
    summary = mi.coating_summary(cell)
    assert summary["coating_stretch_max"] == pytest.approx(
        MPI.COMM_WORLD.allreduce(float(got.max(initial=0.0)), op=MPI.MAX), rel=1e-12) or amplitude == 0
    assert summary["coating_stress_max_Pa"] == pytest.approx(
        100e9 / (1 - 0.25**2) * min(summary["coating_stretch_max"], 0.02), rel=1e-12)
    del ufl


def test_coated_moving_interface_from_a_case(tmp_path):
    """End to end: a resolved 100 nm LiPON film on a sinusoid with moving_interface = true (no longer rejected) runs,
    and summary.json gives the film's stretch and stress: σ = E/(1 − ν²) × ε (plane strain), E = 2G(1 + ν) from
    materials/data/LiPON.toml (G = 31 GPa, ν = 0.25), the strain carried up to 2 %."""
    import json

    from licoat.cli import main
    from licoat.materials import load_material

    case = tmp_path / "c.toml"
    case.write_text("""
[geometry]
kind = "sinusoid"
width = "10 um"
amplitude = "0.3 um"
wavelength = "10 um"
electrolyte_thickness = "20 um"
anode_thickness = "5 um"
mesh_size = "2 um"
interface_mesh_size = "0.5 um"
[coating]
material = "LiPON"
thickness = "100 nm"
model = "resolved"
[operation]
current_density = "2 mA/cm^2"
capacity = "0.05 mAh/cm^2"
moving_interface = true
""")
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out), "--quiet"]) == 0
    d = json.loads((out / "summary.json").read_text())["deposit"]
    m = load_material("LiPON")
    G, nu = m.value("shear_modulus"), m.value("poisson_ratio")
    E_eff = 2 * G * (1 + nu) / (1 - nu**2)
    assert 0 < d["coating_stretch_max"] < 0.05 and d["coating_stretch_min"] < 0  # peaks stretch, valleys compress
    assert d["coating_stress_max_Pa"] == pytest.approx(E_eff * min(d["coating_stretch_max"], 0.02), rel=1e-9)
    assert d["coating_tension_max_N_m"] == pytest.approx(d["coating_stress_max_Pa"] * 100e-9, rel=1e-9)
    assert d["plated_capacity_C_m2"] == pytest.approx(0.05 * 3.6e4, rel=1e-6)


def test_checkpoints_with_a_moving_interface_exit_2(tmp_path, capsys):
    """Checkpoints store fields by the initial node coordinates (solver/checkpoint.py), which a moving or remeshed
    mesh no longer has: the combination is invalid input (exit 2 naming both keys), nothing written."""
    from pathlib import Path

    from licoat.cli import main

    case = Path(__file__).resolve().parents[1] / "cases" / "review" / "bump_bare_Li_moving_2D.toml"
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out), "--set", "output.checkpoint_every=10"]) == 2
    err = capsys.readouterr().err
    assert "output.checkpoint_every" in err and "operation.moving_interface" in err
    assert not out.exists() and not (tmp_path / "out.partial").exists()
