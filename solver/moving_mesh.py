"""Moving plating interface on anode geometries (issue 9, item 2): the mesh follows the deposit.

After each accepted step the plating surface moves by the deposit grown in the step, along its normal:
u_S = (V_M Δt/F) j_Li (−n) (n the outward normal of the electrolyte, i.e. into the metal; plating j_Li > 0
moves the surface into the electrolyte, stripping moves it back), as the lumped (nodal) projection
u_j = (V_M Δt/F) ∫_S j_Li (−n) φ_j dS / ∫_S φ_j dS, which moves the enclosed area (volume) by exactly the
plated volume to first order. The mesh follows by a harmonic extension, −∇·(w∇u) = 0 in the problem's mesh
with u = u_S on S, u = 0 on the top boundary and the normal component zero on the lateral symmetry sides (the
nodes slide along them), stiffened by the weight w = max|K|/|K| of the cells (of the mesh at the start or at
the last remesh) so that the small cells at the surface move nearly rigidly and the large ones far from it
take up the deformation. ``mesh.geometry.x`` is updated on all ranks (owned and ghost nodes), and compiled
forms stay valid (physics.md §14). Nodal values travel with the nodes: the mesh-velocity (ALE) term of the salt
balance is neglected, an error of order δ·∇c per step that is small while the deposit is thin compared with
the diffusion layer. The same holds for the Monroe–Newman Δμ of the stress coupling: it is computed once on
the initial geometry and carried by the surface nodes (the elasticity is not re-solved as the surface moves).

Resolved coatings are carried by the Li surface: their cells get 10⁶ × the weight, so each layer moves
rigidly with the surface below it — both faces by u_S, the thickness kept (to ~1e-6 of the displacement
gradient). The coating's in-plane stretch is the change of the Li surface's area since the start of the run,
per node: λ_j = Π_moves m_j(after)/m_j(before) (m_j the lumped nodal measure; an intensive field, carried across
remeshes by interpolation), λ − 1 = ΔA/A₀ (ΔL/L₀ in 2D); for a normal displacement δ of a surface of
curvature κ (sum of the principal curvatures) λ − 1 = δκ to first order. The plated charge per area q is
rescaled by the inverse ratio at each move, so the plated charge Σ_j q_j m_j = ∫_S q dS is kept as the surface
under it stretches, and the galvanostatic constraint uses the moved area (``CellProblem.inv_area_S``). Assumption (mechanics.md,
"Elasticity"): the coating is a thin linear-elastic membrane, stress-free as deposited, that follows the Li
surface without slip or cracking; its in-plane strain is equibiaxial in 3D, ε = (ΔA/A₀)/2, σ = E ε/(1 − ν),
and plane strain in 2D, ε = ΔL/L₀, σ = E ε/(1 − ν²) (E = 2G(1 + ν) of each layer). The layers' membrane
tension T = Σ_i σ_i h_i [N/m] (the strain clipped to ±2 %: beyond a few % a brittle ALD film cracks in
tension or buckles in compression and carries no more stress — Jen et al., J. Appl. Phys. 109 (2011) 084305
measure crack onset near 1 % for ALD Al2O3; an estimate) acts on the Li as a surface tension does (Young–Laplace: a pressure jump T κ
across a curved tensioned membrane), so with the stress coupling on it adds to the interface chemical
potential Δμ_T = −(V_M + V_+)/2 · T κ, the same form as the γκ term of solver/mechanics.py: a stretched
coating over a growing peak (T > 0, κ > 0) lowers Δμ there and the peak plates less. κ_j is the discrete
curvature of the moved surface, the area gradient along the nodal normal ν_j: κ_j = ν_j·∫_S div_S(φ_j) dS / m_j
(on symmetry planes ν_j lies in the plane, so the mirrored half counts), capped at the inverse
of the initial surface spacing (sharper kinks, such as the bump's foot, are not resolved by the membrane model). ``coating_summary()`` gives the largest
stretch, strain and stress (summary.json ``deposit.coating_*``).

Quality and remeshing: before moving, the signed area (volume) of every cell after the move is compared with
its value in the mesh at the start or at the last remesh; when the smallest ratio would fall below
``min_quality`` (or any cell would invert) the problem is remeshed (solver/remesh.py: in 2D Gmsh from the
current boundary on rank 0, the surface kept node for node; in 3D mmg3d on rank 0, solver/remesh3d.py; every
field and the surface state transferred, the forms rebuilt) and the move is applied to the new mesh; a fresh mesh that
cannot take the whole move takes it in halves (remeshing in between). Steps are limited so that no surface
edge changes its length by more than 10 % and the surface moves at most 0.1 × the mesh size per step. When
the move is not possible (a surface that touches itself, mmg3d failing, 1/64 of a step still too much, more than
``max_remeshes``) the mesh is not moved and the component sets ``stop_reason``: the transient loop ends there
with the results so far, never with inverted cells. After the last step, :meth:`MovingInterface.reconcile`
re-solves the constraints on the moved mesh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from licoat import import_stack

import_stack()
import ufl  # noqa: E402
from dolfinx import fem, la  # noqa: E402
from dolfinx.fem.petsc import LinearProblem  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.constants import FARADAY  # noqa: E402
from licoat.solver.components import Component, PlatingInterface  # noqa: E402

SIDES = {"left": 0, "right": 0, "front": 1, "back": 1}
COATING_STIFFNESS = 1e6  # weight factor of resolved coating cells in the mesh extension (rigid layers)


def _signed_measure(x: np.ndarray, cells: np.ndarray, d: int) -> np.ndarray:
    """Signed area (2D triangles) or volume (3D tetrahedra) of each cell from its node coordinates."""
    p = x[cells][:, :, :d]
    e = p[:, 1:, :] - p[:, :1, :]
    return np.linalg.det(e) / (2.0 if d == 2 else 6.0)


@dataclass(frozen=True)
class CoatingMembrane:
    """The resolved coating layers as a membrane carried by the moving Li surface (see the module docstring).

    ``layers``: ((thickness [m], Young's modulus E [Pa], Poisson ratio ν), ...) from the metal outwards;
    ``li_partial_molar_volume`` V_+ of the layer next to the Li [m³/mol]; ``coupled``: the membrane tension
    enters the interface potential (the Monroe–Newman stress coupling is on)."""

    layers: tuple
    molar_volume: float = 1.30e-5
    li_partial_molar_volume: float = 0.0
    coupled: bool = False
    strain_limit: float = 0.02  # beyond it a brittle film cracks (tension) or buckles (compression): no more stress

    def carried_strain(self, stretch, dim: int):
        """The strain the membrane carries: ε clipped to ±strain_limit."""
        return np.clip(self.strain(stretch, dim), -self.strain_limit, self.strain_limit)

    def strain(self, stretch, dim: int):
        """In-plane strain from the area (length) stretch ΔA/A₀: equibiaxial ε = ΔA/A₀/2 in 3D, ε = ΔL/L₀ in 2D."""
        return stretch / 2.0 if dim == 3 else stretch

    def modulus(self, E: float, nu: float, dim: int) -> float:
        """Membrane modulus: E/(1 − ν) (equibiaxial, 3D) or E/(1 − ν²) (plane strain, 2D)."""
        return E / (1.0 - nu) if dim == 3 else E / (1.0 - nu * nu)

    def tension(self, stretch, dim: int):
        """T = Σ σ_i h_i [N/m] for the stretch ΔA/A₀ (the carried strain)."""
        eps = self.carried_strain(stretch, dim)
        return sum(h * self.modulus(E, nu, dim) for h, E, nu in self.layers) * eps


class MovingInterface(Component):
    """Moves the plating surface with the deposit, remeshes when needed (see the module docstring).
    Needs a SurfaceState."""

    MAX_MOVE = 0.1  # largest surface displacement per step, x the initial mesh size
    MAX_EDGE_STRAIN = 0.1  # largest relative length change of a surface edge per step
    MAX_SPLITS = 6  # halvings of a step's displacement on a fresh mesh before the run stops

    def __init__(self, state, min_quality: float = 0.2, membrane: CoatingMembrane | None = None,
                 max_remeshes: int = 200):
        self.history, self.min_quality = state, float(min_quality)
        self.membrane, self.max_remeshes = membrane, int(max_remeshes)
        self.stop_reason = None
        self.moved = 0.0  # largest displacement so far [m]
        self.remeshes = 0
        self.sizes = None  # (h, h_fine) of the initial mesh, for the remesher
        self._carry = None  # fields of the previous mesh while the problem is rebuilt on a new one
        self._hooks: dict = {}  # surface -> the mechanics hook of the initial mesh (or None)
        self._base: dict = {}  # surface -> Δμ of the stress coupling (P1 Function on the current mesh)
        self.extremes = dict(stretch_max=0.0, stretch_min=0.0)
        self.charge_correction = 0.0  # largest relative correction of ∫q dS at a remesh
        self.last_move = 0.0  # largest nodal displacement of the last step [m]
        self.last_edge_strain = 0.0
        self.remesh_log: list[dict] = []  # per remesh: smallest angle before/after [deg], the charge correction

    # ------------------------------------------------------------------ interface potential
    def stress_hook(self, surface: str, hook):
        """The ``stress`` a PlatingInterface gets on ``surface``: the mechanics' Δμ (``hook``: a callable of the
        problem or a Function, or None) carried across remeshes, plus the coating's membrane term when coupled.
        None when neither applies."""
        coupled = self.membrane is not None and self.membrane.coupled
        if hook is None and not coupled:
            return None
        self._hooks[surface] = hook

        def stress(prob):
            base = self._base.get(surface)
            if base is None and hook is not None:
                base = hook(prob) if callable(hook) else hook
            elif base is not None and base.function_space.mesh is not prob.mesh:  # remeshed: carry it over
                from licoat.solver.remesh import only_on_surface, transfer

                new = fem.Function(prob.P1, name=base.name)
                transfer(new, base, surface=True)
                only_on_surface(prob, new)
                base = new
            self._base[surface] = base
            parts = [e for e in (base, self.dmu_membrane if coupled else None) if e is not None]
            return parts[0] if len(parts) == 1 else parts[0] + parts[1]

        return stress

    # ------------------------------------------------------------------ set-up
    def declare(self, prob):
        msh = prob.mesh
        d = self.d = prob.dim
        W = self.W = fem.functionspace(msh, ("Lagrange", 1, (d,)))
        gdm = msh.geometry.dofmaps[0]
        if gdm.shape[1] != d + 1:
            raise ValueError("the moving interface needs a linear simplex mesh")
        self.node_of_dof = np.empty(W.dofmap.index_map.size_local + W.dofmap.index_map.num_ghosts, dtype=np.int64)
        self.node_of_dof[W.dofmap.list.ravel()] = gdm.ravel()  # P1 dofs and geometry nodes coincide
        self.cells = gdm
        self.n_cells_own = msh.topology.index_map(d).size_local
        self.measure0 = _signed_measure(msh.geometry.x, gdm[: self.n_cells_own], d)
        fdim = d - 1
        self.u = fem.Function(W)
        self.total = fem.Function(W, name="mesh_displacement")  # since the start [m]
        self.g = fem.Function(W)
        V = prob.registry["concentration"].function.function_space
        # the surface's area stretch since the start, A/A0 (the coating's stress-free state), per node
        self.area_ratio = fem.Function(V, name="area_ratio")
        self.stretch = fem.Function(V, name="coating_stretch")
        self.dmu_membrane = fem.Function(V, name="delta_mu_membrane")
        S = prob.tm.facets(*prob.surfaces)
        self.S = S
        bcs = [fem.dirichletbc(self.g, fem.locate_dofs_topological(W, fdim, S))]
        zero = fem.Function(W)
        bcs.append(fem.dirichletbc(zero, fem.locate_dofs_topological(W, fdim, prob.tm.facets("top"))))
        self.side_dofs = {}
        for name, axis in SIDES.items():
            if name in prob.tm.groups and axis < d:
                Wa, _ = W.sub(axis).collapse()
                za = fem.Function(Wa)
                dofs = fem.locate_dofs_topological((W.sub(axis), Wa), fdim, prob.tm.facets(name))
                bcs.append(fem.dirichletbc(za, dofs, W.sub(axis)))
                self.side_dofs[axis] = fem.locate_dofs_topological(V, fdim, prob.tm.facets(name))
        # stiffened Laplacian (weight 1/|K| of the cells): small cells near the surface move rigidly, and the
        # resolved coating layers with them
        D0 = fem.functionspace(msh, ("DG", 0))
        stiff = fem.Function(D0)
        n_all = msh.topology.index_map(d).size_local + msh.topology.index_map(d).num_ghosts
        vol = np.abs(_signed_measure(msh.geometry.x, gdm[:n_all], d))
        vmax = msh.comm.allreduce(float(vol.max(initial=0.0)), op=MPI.MAX)
        w = vmax / np.where(vol > 0, vol, vmax) if vol.size else np.zeros(0)
        layers = prob.tm.coating_layers()
        if layers:
            coat = prob.tm.cells(*layers)
            w[coat[coat < n_all]] *= COATING_STIFFNESS
        stiff.x.array[D0.dofmap.list.ravel()] = w
        U, Vt = ufl.TrialFunction(W), ufl.TestFunction(W)
        dx = ufl.dx(domain=msh)
        self.problem = LinearProblem(stiff * ufl.inner(ufl.grad(U), ufl.grad(Vt)) * dx, ufl.inner(zero, Vt) * dx,
                                     bcs=bcs, u=self.u, petsc_options_prefix=f"licoat_mesh_{id(self)}_{self.remeshes}_",
                                     petsc_options={"ksp_type": "preonly", "pc_type": "lu",
                                                    "pc_factor_mat_solver_type": "mumps"})
        self._forms = None
        self._edges = None
        if self.sizes is None:
            self.sizes = self._mesh_sizes(prob)
        if self._carry is None:  # the start: the stress-free reference of a coating
            self.area_ratio.x.array[:] = 1.0
        # after a remesh, MovingInterface._remesh transfers area_ratio, total and g

    def _mesh_sizes(self, prob):
        """(h, {facet group: mean edge length}) of the initial mesh: its longest cell edge, and the spacing of
        every facet group (the remesher keeps the interfaces at their initial spacing)."""
        from dolfinx.mesh import entities_to_geometry

        msh, d = prob.mesh, prob.dim
        x = msh.geometry.x
        p = x[self.cells[: self.n_cells_own]]
        longest = 0.0
        for a in range(d + 1):
            for b in range(a + 1, d + 1):
                longest = max(longest, float(np.linalg.norm(p[:, a] - p[:, b], axis=1).max(initial=0.0)))
        h = prob.comm.allreduce(longest, op=MPI.MAX)
        msh.topology.create_connectivity(d - 1, d)
        n_own_f = msh.topology.index_map(d - 1).size_local
        spacing = {}
        for name, (dim, _) in prob.tm.groups.items():
            if dim != d - 1:
                continue
            facets = prob.tm.facets(name)
            facets = facets[facets < n_own_f]
            q = x[entities_to_geometry(msh, d - 1, facets)] if facets.size else np.zeros((0, d, 3))
            lengths = [np.linalg.norm(q[:, a] - q[:, b], axis=1) for a in range(d) for b in range(a + 1, d)]
            lengths = np.concatenate(lengths) if lengths else np.zeros(0)
            total = prob.comm.allreduce(float(lengths.sum()), op=MPI.SUM)
            count = prob.comm.allreduce(int(lengths.size), op=MPI.SUM)
            if count:
                spacing[name] = total / count
        return h, spacing

    def _assemble(self, form):
        b = fem.assemble_vector(form)
        b.scatter_reverse(la.InsertMode.add)
        b.scatter_forward()
        return b.array.copy()

    def _surface_forms(self, prob):
        """Surface forms on the current mesh: the lumped normal deposit current ``b`` (needs the problem's
        expressions, i.e. after its forms are collected), the lumped measure ``m``, the nodal normal and the
        area gradient (surface divergence of the vector test function)."""
        if self._forms is None:
            self._surface_forms_geometry(prob)
        if "b" not in self._forms:
            v = ufl.TestFunction(self.W)
            n = ufl.FacetNormal(prob.mesh)
            conv = prob.expr.get("i_conv", {})
            js = {s: -(prob.i_n[s] - conv.get(s, 0.0)) for s in prob.surfaces}  # Li plating current, plating +
            self._forms["b"] = fem.form(sum(js[s] * ufl.inner(-n, v) * prob.sm[s] for s in prob.surfaces))
        return self._forms

    def _lumped_measure(self, prob):
        if self._forms is None:
            self._surface_forms_geometry(prob)
        return self._assemble(self._forms["m"])

    def _surface_forms_geometry(self, prob):
        """The geometric surface forms alone (callable during declare, before the problem's expressions)."""
        v = ufl.TestFunction(self.W)
        n = ufl.FacetNormal(prob.mesh)
        q = ufl.TestFunction(self.history.V)

        def over_S(e):
            return sum(e * prob.sm[s] for s in prob.surfaces)

        div_s = ufl.div(v) - ufl.inner(ufl.dot(ufl.grad(v), n), n)
        self._forms = dict(m=fem.form(over_S(q)), normal=fem.form(over_S(ufl.inner(-n, v))),
                           area_gradient=fem.form(over_S(div_s)))

    # ------------------------------------------------------------------ time stepping
    def _solve_extension(self, prob):
        """Solve for the mesh displacement of g; returns the smallest cell measure ratio after the move."""
        self.problem.solve()
        u = self.u.x.array.reshape(-1, self.d)
        new = prob.mesh.geometry.x.copy()
        new[self.node_of_dof, : self.d] += u
        meas = _signed_measure(new, self.cells[: self.n_cells_own], self.d)
        ratio = float((meas / self.measure0).min(initial=np.inf))
        return prob.comm.allreduce(ratio, op=MPI.MIN), new

    def _remesh(self, prob):
        from licoat.solver.remesh import only_on_surface, rebuild, remesh, transfer

        from licoat.solver.remesh import min_angle_deg

        h, spacing = self.sizes
        q_before = self._charge(prob)
        log = {"ratio": None, "angle_before": min_angle_deg(prob.mesh)}
        new_tm, q_points = remesh(prob.tm, h, spacing, self.history.q)
        if self.d == 3:  # mmg3d kept the surfaces node for node, or remeshed the bare plating surface too
            log["surface_remeshed"] = bool(new_tm.info.get("surface_remeshed"))
        self._carry = dict(g=self.g, total=self.total, area_ratio=self.area_ratio)
        for comp in prob.components:  # the interface potential is rebuilt on the new mesh
            if isinstance(comp, PlatingInterface) and comp.surface in self._hooks:
                comp.stress = self.stress_hook(comp.surface, self._hooks[comp.surface])
        self.remeshes += 1
        try:
            rebuild(prob, new_tm)  # calls self.declare on the new mesh
            for name in ("g", "area_ratio"):
                transfer(getattr(self, name), self._carry[name], surface=True)
                only_on_surface(prob, getattr(self, name))
            transfer(self.total, self._carry["total"])
        finally:
            self._carry = None
        # the surface kept its nodes except where short edges were collapsed (their charge went to their
        # neighbours) and long ones split (exact for P1); what is left of ∫q dS (round-off, the mesh-size
        # limits of the transfer) is restored by rescaling q
        from licoat.solver.remesh import apply_point_values

        apply_point_values(self.history.q, q_points)
        q_after = self._charge(prob)
        if q_after != 0.0:
            factor = q_before / q_after
            self.history.q.x.array[:] *= factor
            self.history.q.x.scatter_forward()
            self.charge_correction = max(self.charge_correction, abs(factor - 1.0))
            log["charge_correction"] = factor - 1.0
        log["angle_after"] = min_angle_deg(prob.mesh)
        self.remesh_log.append(log)

    def _charge(self, prob) -> float:
        """∫_S q dS [C] (per metre in 2D)."""
        if getattr(self, "_charge_form", None) is None or self._charge_form[0] is not prob.mesh:
            self._charge_form = (prob.mesh, fem.form(sum(self.history.q * prob.sm[s] for s in prob.surfaces)))
        return prob.comm.allreduce(fem.assemble_scalar(self._charge_form[1]), op=MPI.SUM)

    def step_limit(self, prob, dt: float) -> float:
        """No edge of the moving surface changes its length by more than ``MAX_EDGE_STRAIN`` in a step (its
        nodes cannot cross), nor does the surface move more than ``MAX_MOVE`` x the initial mesh size."""
        if self.last_move <= 0 or self.sizes is None:
            return np.inf
        limit = dt * self.MAX_MOVE * self.sizes[0] / self.last_move
        if self.last_edge_strain > 0:
            limit = min(limit, dt * self.MAX_EDGE_STRAIN / self.last_edge_strain)
        return limit

    def _edge_strain(self, prob) -> float:
        """max over the surface edges of |u_a − u_b| / |x_a − x_b| for the last displacement u."""
        from dolfinx.mesh import entities_to_geometry

        d = self.d
        if self._edges is None:
            fn = entities_to_geometry(prob.mesh, d - 1, self.S) if self.S.size else np.zeros((0, d), np.int32)
            pairs = [fn[:, [a, b]] for a in range(d) for b in range(a + 1, d)]
            self._edges = np.concatenate(pairs) if pairs and len(fn) else np.zeros((0, 2), np.int64)
            dof_of_node = np.empty(prob.mesh.geometry.x.shape[0], np.int64)
            dof_of_node[self.node_of_dof] = np.arange(self.node_of_dof.size)
            self._edge_dofs = dof_of_node[self._edges]
        if not len(self._edges):
            return prob.comm.allreduce(0.0, op=MPI.MAX)
        x = prob.mesh.geometry.x[:, :d]
        u = self.u.x.array.reshape(-1, d)
        du = np.linalg.norm(u[self._edge_dofs[:, 0]] - u[self._edge_dofs[:, 1]], axis=1)
        L = np.linalg.norm(x[self._edges[:, 0]] - x[self._edges[:, 1]], axis=1)
        return prob.comm.allreduce(float((du / np.where(L > 0, L, np.inf)).max(initial=0.0)), op=MPI.MAX)

    def accept_time_step(self, prob):
        if self.stop_reason is not None:
            return
        from licoat.solver.remesh import RemeshError

        dt = float(self.history.dt.value)
        forms = self._surface_forms(prob)
        b, m = self._assemble(forms["b"]), self._assemble(forms["m"])
        d = self.d
        bb = b.reshape(-1, d)
        scale = np.where(m > 0, self.history.molar_volume * dt / FARADAY / np.where(m > 0, m, 1.0), 0.0)
        self.g.x.array[:] = (bb * scale[:, None]).ravel()
        self.g.x.scatter_forward()
        # move by g; where the mesh would lose quality, remesh; where even a fresh mesh cannot take the whole
        # displacement, move by half of it (and remesh again for the rest), up to MAX_SPLITS halvings
        left, tried, fresh, splits = 1.0, 1.0, False, 0  # fractions of the step's displacement
        while True:
            ratio, new = self._solve_extension(prob)
            if ratio >= (0.25 * self.min_quality if fresh else self.min_quality):
                self._move(prob, new)
                left -= tried
                if left <= 1e-12:
                    break
                self.g.x.array[:] *= left / tried
                self.g.x.scatter_forward()
                tried, fresh = left, False
                continue
            why = None
            if not fresh:
                if self.remeshes >= self.max_remeshes:
                    why = f"the run has remeshed {self.remeshes} times (the limit)"
                else:
                    try:
                        self._remesh(prob)
                        self.remesh_log[-1]["ratio"] = ratio
                        fresh = True
                        continue
                    except RemeshError as exc:
                        why = f"remeshing failed: {exc}"
            elif splits < self.MAX_SPLITS:
                splits += 1
                self.g.x.array[:] *= 0.5
                self.g.x.scatter_forward()
                tried *= 0.5
                continue
            else:
                why = f"even 1/{2 ** splits} of this step's displacement is too much for the remeshed mesh"
            self.stop_reason = (f"moving interface: the mesh would lose quality (smallest cell size ratio "
                                f"{ratio:.3g} < {self.min_quality:g}) after a displacement of {self.moved:.3g} m and "
                                f"{self.remeshes} remesh(es), and {why}; the run stops here with its results so far")
            return
        self._update_membrane(prob)

    def _move(self, prob, new):
        """Move the mesh nodes to ``new`` (the extension of g), with the surface bookkeeping."""
        d = self.d
        m = self._lumped_measure(prob)  # on the mesh that takes the move (the new one after a remesh)
        x = prob.mesh.geometry.x
        x[:, :d] = new[:, :d]
        # the plated charge stays where it is while the surface under it stretches: q per area scales by
        # m_before/m_after, so that the lumped charge sum_j q_j m_j is kept exactly
        q = self.history.q
        m_after = self._lumped_measure(prob)
        on = (m > 0) & (m_after > 0)
        q.x.array[on] *= m[on] / m_after[on]
        q.x.scatter_forward()
        self.area_ratio.x.array[on] *= m_after[on] / m[on]
        self.area_ratio.x.scatter_forward()
        n_own = self.history.V.dofmap.index_map.size_local
        prob.area_S = prob.comm.allreduce(float(m_after[:n_own].sum()), op=MPI.SUM)  # the moved surface's area
        prob.inv_area_S.value = 1.0 / prob.area_S  # the galvanostatic constraint: i_app A_footprint / A_S
        step = np.linalg.norm(self.u.x.array.reshape(-1, d), axis=1).max(initial=0.0)
        self.last_move = prob.comm.allreduce(float(step), op=MPI.MAX)
        self.last_edge_strain = self._edge_strain(prob)
        self.total.x.array[:] += self.u.x.array
        umax = float(np.linalg.norm(self.total.x.array.reshape(-1, d), axis=1).max(initial=0.0))
        self.moved = prob.comm.allreduce(umax, op=MPI.MAX)

    def reconcile(self, prob) -> bool:
        """After the last move: the fields were solved on the mesh before it, so the constraints (the applied
        current, the film balance) hold on the moved mesh only to O(δ_step κ). One Newton solve of a step of
        1e-9 × the last step (the salt and the surface state stay where they are) restores them on the moved
        mesh, as the consistent re-initialisation of a differential-algebraic system; nothing is accepted."""
        dt = float(self.history.dt.value)
        prob.set_time_step(1e-9 * dt, dt)
        ok, _ = prob.newton()
        return ok

    # ------------------------------------------------------------------ coating stretch
    def curvature(self, prob) -> np.ndarray:
        """Discrete curvature κ_j at the surface dofs of the concentration space (0 elsewhere) [1/m]."""
        forms = self._surface_forms(prob)
        d = self.d
        nu = self._assemble(forms["normal"]).reshape(-1, d)
        for axis, dofs in self.side_dofs.items():  # symmetry planes: the normal lies in the plane
            nu[dofs, axis] = 0.0
        norm = np.linalg.norm(nu, axis=1)
        nu = nu / np.where(norm > 0, norm, 1.0)[:, None]
        grad = self._assemble(forms["area_gradient"]).reshape(-1, d)
        m = self._assemble(forms["m"])
        return np.where(m > 0, np.einsum("ij,ij->i", grad, nu) / np.where(m > 0, m, 1.0), 0.0)

    def _update_membrane(self, prob):
        on = self.area_ratio.x.array > 0
        self.stretch.x.array[:] = 0.0
        self.stretch.x.array[on] = self.area_ratio.x.array[on] - 1.0
        self.stretch.x.scatter_forward()
        n_own = self.stretch.function_space.dofmap.index_map.size_local
        own = np.flatnonzero(on[:n_own])
        vals = self.stretch.x.array[own]
        self.extremes["stretch_max"] = max(self.extremes["stretch_max"],
                                           prob.comm.allreduce(float(vals.max(initial=-np.inf)), op=MPI.MAX))
        self.extremes["stretch_min"] = min(self.extremes["stretch_min"],
                                           prob.comm.allreduce(float(vals.min(initial=np.inf)), op=MPI.MIN))
        mem = self.membrane
        if mem is not None and mem.coupled:
            # curvature resolved down to radii of the interface spacing (a kink, e.g. the bump's foot, is capped)
            k_max = 1.0 / min(self.sizes[1].get(s, np.inf) for s in prob.surfaces)
            kappa = np.clip(self.curvature(prob), -k_max, k_max)
            a_t = 0.5 * (mem.molar_volume + mem.li_partial_molar_volume)
            self.dmu_membrane.x.array[:] = -a_t * mem.tension(self.stretch.x.array, self.d) * kappa
            self.dmu_membrane.x.scatter_forward()

    def coating_summary(self, prob) -> dict:
        """summary.json ``deposit`` keys of a moving interface: remeshes, and with a resolved coating its
        largest stretch ΔA/A₀ (ΔL/L₀ in 2D), strain and stress (tension positive) over the run."""
        out = {"remeshes": self.remeshes, "remesh_charge_correction_max": self.charge_correction}
        if not prob.tm.coating_layers():
            return out
        smax, smin = self.extremes["stretch_max"], self.extremes["stretch_min"]
        out.update(coating_stretch_max=smax, coating_stretch_min=smin)
        mem = self.membrane
        if mem is not None and mem.layers:
            emod = [mem.modulus(E, nu, self.d) for _, E, nu in mem.layers]
            out.update(coating_strain_max=mem.strain(smax, self.d), coating_strain_min=mem.strain(smin, self.d),
                       coating_stress_max_Pa=max(emod) * float(mem.carried_strain(smax, self.d)),
                       coating_stress_min_Pa=max(emod) * float(mem.carried_strain(smin, self.d)),
                       coating_strain_limit=mem.strain_limit,
                       coating_tension_max_N_m=float(mem.tension(smax, self.d)),
                       coating_stress_coupled=bool(mem.coupled))
        return out
