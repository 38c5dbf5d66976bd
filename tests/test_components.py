"""Each physics component's residual on a two-cell-per-layer planar mesh against a hand-computed value.

The residual R(·) of a component is linear in its test function, so R(g) for a P1 function g is the
assembled vector dotted with g's nodal values. With fields linear in the height y (exact in P1) every
integral below has a closed form; constant properties (helpers.constant_electrolyte).
"""

import numpy as np
import pytest
from dolfinx import fem
from mpi4py import MPI

from helpers import constant_electrolyte, planar
from licoat.constants import FARADAY
from licoat.solver import components as C
from licoat.solver.electrochemistry import SolverOptions, SteadyCell
from licoat.solver.problem import Context
from licoat.solver.properties import Coating, Kinetics, Operation

COMM = MPI.COMM_SELF  # a hand value per component: one process
W, L, T = 10e-6, 10e-6, 2e-6
Vt = 8.314462618 * 298.15 / FARADAY
KIN = Kinetics(10.0, 0.5, 0.5, 0.0)


def cell(t=0.0, model="resolved", op=None, **kw):
    tm = planar(COMM, width=W, L=L, h=L, h_fine=L, t=t, model=model, layers=1)
    op = op or Operation("galvanostatic", 20.0, None, 298.15)
    coat = Coating("film", t, 1e-2, model) if t else None
    return SteadyCell(COMM, tm, constant_electrolyte(), KIN, op, coating=coat, length_scale=L, **kw)


def residual(prob, comp, field, g, **fields):
    """R_comp(g) for the field's equation, the unknowns set from ``fields`` (callables of x)."""
    for name, f in fields.items():
        prob.registry[name].function.interpolate(f)
    ctx = Context(prob)
    for other in prob.components[: prob.components.index(comp)]:
        other.contribute(ctx)  # publish the expressions this component uses (c_pos, i_e, i_kin, ...)
    ctx.residual = {}
    comp.contribute(ctx)
    b = fem.assemble_vector(fem.form(ctx.residual[field]))
    G = fem.Function(prob.registry[field].function.function_space)
    G.interpolate(g)
    return float(np.dot(b.array, G.x.array))


def y(x):
    return x[1]


def one(x):
    return np.ones_like(x[0])


def comp_of(prob, kind):
    return next(c for c in prob.components if isinstance(c, kind))


def test_mesh_is_small():
    prob = cell()
    assert prob.tm.mesh.topology.index_map(2).size_local == 2  # two triangles of electrolyte


def test_electrolyte_charge_and_salt_residuals():
    """φ̂ = b y/L, ĉ = 1: i_e = −κ Vt b/L ŷ; R_φ(y/L) = s_φ κ Vt b/L · W;
    R_c(y/L) = s_c (1−t+) (−κ Vt b/L)/F · W (no concentration gradient)."""
    prob, b = cell(), 0.3
    e = prob.electrolyte
    Rphi = residual(prob, e, "potential", lambda x: x[1] / L, concentration=one, potential=lambda x: b * x[1] / L)
    assert Rphi == pytest.approx(prob.s_phi * 1.0 * Vt * b / L * W, rel=1e-12)
    Rc = residual(prob, e, "concentration", lambda x: x[1] / L, concentration=one, potential=lambda x: b * x[1] / L)
    assert Rc == pytest.approx(prob.s_c * (1 - 0.3) * (-1.0 * Vt * b / L) / FARADAY * W, rel=1e-12)


def test_electrolyte_diffusion_residual():
    """ĉ = 1 + a y/L with φ̂ chosen so that i_e = 0 (φ̂ = 2(1−t+) ln ĉ is not P1; use the pure diffusion
    part): with φ̂ = 0 the salt residual tested with 1 is the net salt flux, zero for a closed form."""
    prob, a = cell(), 0.2
    e = prob.electrolyte
    Rc1 = residual(prob, e, "concentration", one, concentration=lambda x: 1 + a * x[1] / L, potential=lambda x: 0 * x[0])
    assert abs(Rc1) < 1e-12 * prob.s_c  # grad(1) = 0


def test_ionic_layer_residual():
    """Resolved layer of κ_c: R_φ(y/L) = s_φ κ_c Vt b/L² · (W T) for φ̂ = b y/L."""
    prob, b = cell(t=T), 0.4
    layer = comp_of(prob, C.IonicLayer)
    R = residual(prob, layer, "potential", lambda x: x[1] / L, concentration=one, potential=lambda x: b * x[1] / L)
    assert R == pytest.approx(prob.s_phi * 1e-2 * Vt * b / L**2 * W * T, rel=1e-12)


def test_plating_interface_residual():
    """Bare Li at V̂, φ̂ = 0 on S: R_φ(1) = −s_φ i0 [exp(α_a η/Vt) − exp(−α_c η/Vt)] W, η = V̂ Vt."""
    prob = cell(op=Operation("potentiostatic", None, -0.02, 298.15))
    comp = comp_of(prob, C.PlatingInterface)
    R = residual(prob, comp, "potential", one, concentration=one, potential=lambda x: 0 * x[0])
    eta = -0.02
    i_n = 10.0 * (np.exp(0.5 * eta / Vt) - np.exp(-0.5 * eta / Vt))
    assert R == pytest.approx(-prob.s_phi * i_n * W, rel=1e-12)


def test_thin_film_equation_residual():
    """Thin film: R_ψ(1) = s_φ W [BV(V − ψ) − (ψ − φ) Vt/ASR] (the charge balance's scale)."""
    prob = cell(t=20e-9, model="thin", op=Operation("potentiostatic", None, -0.03, 298.15))
    comp = comp_of(prob, C.PlatingInterface)
    psi = -0.01 / Vt
    R = residual(prob, comp, "film_potential", one, concentration=one, potential=lambda x: 0 * x[0],
                 film_potential=lambda x: psi + 0 * x[0])
    eta = (-0.03 / Vt - psi) * Vt
    i_kin = 10.0 * (np.exp(0.5 * eta / Vt) - np.exp(-0.5 * eta / Vt))
    i_film = psi * Vt / (20e-9 / 1e-2)
    assert R == pytest.approx(prob.s_phi * W * (i_kin - i_film), rel=1e-10)


def test_galvanostatic_constraint_residual():
    """R_V(1) = s_V W (i_kin + i_app) (planar: footprint = plating area)."""
    prob = cell()
    comp = comp_of(prob, C.Galvanostatic)
    prob.electrode_potential.x.array[:] = -0.01 / Vt
    R = residual(prob, comp, "electrode_potential", one, concentration=one, potential=lambda x: 0 * x[0])
    i_kin = 10.0 * (np.exp(-0.5 * 0.01 / Vt) - np.exp(0.5 * 0.01 / Vt))
    assert R == pytest.approx(prob.s_v * W * (i_kin + 20.0), rel=1e-12)


def test_lithium_counter_and_salt_multiplier():
    """Li counter at 0 V on top: R_φ(1) = −s_φ BV(−φ_top) W; multiplier: R_λ = ℓ^−d ∫(ĉ − 1) dx = ℓ^−2 a W L/2."""
    prob = cell(op=Operation("galvanostatic", 20.0, None, 298.15, "lithium"))
    counter, mult = comp_of(prob, C.LithiumCounter), comp_of(prob, C.SaltMultiplier)
    phi = 0.005 / Vt
    R = residual(prob, counter, "potential", one, concentration=one, potential=lambda x: phi + 0 * x[0])
    i_c = 10.0 * (np.exp(-0.5 * 0.005 / Vt) - np.exp(0.5 * 0.005 / Vt))
    assert R == pytest.approx(-prob.s_phi * i_c * W, rel=1e-12)
    a = 0.1
    Rl = residual(prob, mult, "salt_multiplier", one, concentration=lambda x: 1 + a * x[1] / L)
    y0 = 0.0  # the electrolyte spans y in [0, L]
    assert Rl == pytest.approx(L**-2 * a * W * ((L + y0) ** 2 - y0**2) / (2 * L), rel=1e-12)


def test_reservoir_conditions():
    prob = cell()
    bcs = comp_of(prob, C.Reservoir).bcs(prob)
    c = prob.registry["concentration"].function
    c.x.array[:] = 7.0
    bcs[0].set(c.x.array)
    top = fem.locate_dofs_topological(c.function_space, 1, prob.tm.facets("top"))
    assert np.allclose(c.x.array[top], 1.0) and np.allclose(np.delete(c.x.array, top), 7.0)


def test_electronic_conductor_residual():
    """Resolved Li (σ) with φ̂_s = b y/L: R_s(y/L) = s_s σ Vt b/L² · (W H_anode) + plating term (zero at i_n = 0)."""
    sigma = 1e3
    prob = cell(op=Operation("potentiostatic", None, 0.0, 298.15), metal_conductivity={"anode": sigma})
    comp = comp_of(prob, C.ElectronicConductor)
    b = 0.2
    R = residual(prob, comp, "metal_potential", lambda x: x[1] / L, concentration=one, potential=lambda x: 0 * x[0],
                 metal_potential=lambda x: 0 * x[0])  # V = phi = 0: no plating current
    assert R == pytest.approx(0.0, abs=1e-14)
    R = residual(prob, comp, "metal_potential", lambda x: x[1] / L, concentration=one, potential=lambda x: 0 * x[0],
                 metal_potential=lambda x: b * x[1] / L)
    Ha = 2 * L  # helpers.planar: anode_thickness = 2 h; phi_s = 0 on S (y = 0): no plating current
    assert R == pytest.approx(comp.s_s * sigma * Vt * b / L**2 * W * Ha, rel=1e-10)


def test_bdf2_coefficients():
    """Constant steps: (3/2, −2, 1/2)/dt; first step BDF1: (1, −1, 0)/dt."""
    prob = cell(transient=True)
    ts = prob.time_scheme
    ts.set_step(0.5, None)
    assert [b.value for b in ts.b] == pytest.approx([2.0, -2.0, 0.0])
    ts.set_step(0.5, 0.5)
    assert [b.value for b in ts.b] == pytest.approx([3.0, -4.0, 1.0])


def test_manufactured_source_vanishes_at_a_p1_exact_solution():
    """Exact fields in P1 (linear in y): with the unknowns at their interpolants the assembled residual
    (physics minus the exact fields' physics) is zero to round-off in every equation."""
    def exact(x, t=None):
        return 1 + 0.1 * x[1] / L, -0.5 * (1 - x[1] / L), None

    prob = cell(t=T, op=Operation("potentiostatic", None, -0.02, 298.15), manufactured=exact)
    prob.registry["concentration"].function.interpolate(lambda x: 1 + 0.1 * x[1] / L)
    prob.registry["potential"].function.interpolate(lambda x: -0.5 * (1 - x[1] / L))
    for form in prob.forms[:2]:
        b = fem.assemble_vector(fem.form(form))
        assert np.abs(b.array).max() < 1e-10


def test_field_registry_orders_blocks_and_splits():
    prob = cell(t=20e-9, model="thin", options=SolverOptions(linear_solver="iterative"))
    assert prob.registry.names == ["concentration", "potential", "electrode_potential", "film_potential"]
    # c and phi are the components of one vector unknown (bs = 2); the other fields are their own blocks
    assert prob.block_size == 2 and [f.name for f in prob.registry.vector()] == ["concentration", "potential"]
    assert [f.name for f in prob.registry.blocks()] == ["electrode_potential", "film_potential"]
    n = prob.W.dofmap.index_map.size_local
    groups = prob.registry.split_index_sets(0, n)
    assert list(groups) == ["concentration", "potential", "global", "film"]
    assert np.array_equal(groups["potential"][0], 1 + 2 * np.arange(n))
    assert np.array_equal(groups["film"][0], 2 * n + 1 + np.arange(n))  # after V's one dof
    every = np.sort(np.concatenate([np.concatenate(v) for v in groups.values()]))
    assert np.array_equal(every, np.arange(prob.registry.dofs()))  # a partition of the Newton system


def test_dofs_count_only_the_unknowns_that_mean_something():
    """Resolved coating: ĉ on the electrolyte nodes, φ̂ on electrolyte + coating nodes, V: one."""
    prob = cell(t=T)
    tm = prob.tm
    V = prob.P1

    def nodes(*vols):
        return np.unique(V.dofmap.list[tm.cells(*vols)].ravel()).size

    assert prob.dofs == nodes("electrolyte") + nodes("electrolyte", "coating") + 1
    assert prob.dofs < prob.registry.dofs()  # pinned concentration dofs in the coating are not counted


def test_vector_unknown_assembles_the_block_system():
    """The Newton system as assembled (c, phi the components of one vector P1 unknown, one kernel) is the
    system of one block per field pair: the same residual entries field by field and the same Jacobian,
    with kappa(c), D(c) of the default electrolyte at a non-uniform state."""
    import dolfinx.fem.petsc as fp
    from dolfinx.fem.forms import derivative_block

    from licoat import setup
    from licoat.case import validate

    tm = planar(COMM, width=W, L=L, h=L, h_fine=L, t=20e-9, model="thin", layers=1)
    prob = SteadyCell(COMM, tm, setup.electrolyte(validate({})), KIN, Operation("galvanostatic", 20.0, None, 298.15),
                      coating=Coating("film", 20e-9, 1e-2, "thin"), length_scale=L)
    prob.initial_guess()
    prob.registry["concentration"].function.interpolate(lambda x: 1 + 0.3 * x[1] / L + 0.1 * x[0] / W)
    prob.registry["potential"].function.interpolate(lambda x: -0.5 * (1 - x[1] / L) + 0.2 * x[0] / W)
    prob._to_solver()
    prob._from_solver()  # both layouts at the same state, Dirichlet values included
    bU = fem.assemble_vector(fem.form(prob.solver_forms[0])).array.reshape(-1, prob.block_size)
    for i, f in enumerate(prob.registry.vector()):
        bi = fem.assemble_vector(fem.form(prob.forms[prob.registry.names.index(f.name)])).array
        assert np.abs(bi).max() > 0
        assert np.allclose(bU[prob._node[i], i], bi, rtol=1e-12, atol=1e-14 * np.abs(bi).max())
    norms = []
    for F, u in ((prob.forms, prob.unknowns), (prob.solver_forms, prob.solver_unknowns)):
        A = fp.assemble_matrix(fem.form(derivative_block(F, u)), kind="mpi")
        A.assemble()
        norms.append(A.norm())
        A.destroy()
    assert norms[1] == pytest.approx(norms[0], rel=1e-12)
