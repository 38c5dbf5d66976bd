"""Moving plating interface on anode geometries (issue 9, item 2): the mesh follows the deposit.

After each accepted step the plating surface moves by the deposit grown in the step, along its normal:
u_S = (V_M Δt/F) j_Li (−n) (n the outward normal of the electrolyte, i.e. into the metal; plating j_Li > 0
moves the surface into the electrolyte, stripping moves it back), as the lumped (nodal) projection
u_j = (V_M Δt/F) ∫_S j_Li (−n) φ_j dS / ∫_S φ_j dS, which moves the enclosed area (volume) by exactly the
plated volume to first order. The mesh follows by a harmonic extension, −Δu = 0 in the problem's mesh with
u = u_S on S, u = 0 on the top boundary and the normal component zero on the lateral symmetry sides (the
nodes slide along them), stiffened by the weight max|K|/|K| of the initial cells so that the small cells at the
surface move nearly rigidly and the large ones far from it take up the deformation. ``mesh.geometry.x`` is updated on all ranks (owned and ghost nodes), and compiled
forms stay valid (physics.md §14). Nodal values travel with the nodes: the mesh-velocity (ALE) term of the salt
balance is neglected, an error of order δ·∇c per step that is small while the deposit is thin compared with
the diffusion layer. A resolved coating is not in this model (bare or thin-film anodes only).

Quality: before moving, the signed area (volume) of every cell after the move is compared with its value in
the initial mesh; when the smallest ratio would fall below ``min_quality`` (or any cell would invert) the mesh
is not moved and the component sets ``stop_reason``: the transient loop ends there with the results so far
(remeshing — MMG through mmgpy or Gmsh from the current surface — is not implemented).
"""

from __future__ import annotations

import numpy as np

from licoat import import_stack

import_stack()
import ufl  # noqa: E402
from dolfinx import fem, la  # noqa: E402
from dolfinx.fem.petsc import LinearProblem  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.constants import FARADAY  # noqa: E402
from licoat.solver.components import Component  # noqa: E402

SIDES = {"left": 0, "right": 0, "front": 1, "back": 1}


def _signed_measure(x: np.ndarray, cells: np.ndarray, d: int) -> np.ndarray:
    """Signed area (2D triangles) or volume (3D tetrahedra) of each cell from its node coordinates."""
    p = x[cells][:, :, :d]
    e = p[:, 1:, :] - p[:, :1, :]
    return np.linalg.det(e) / (2.0 if d == 2 else 6.0)


class MovingInterface(Component):
    """Moves the plating surface with the deposit (see the module docstring). Needs a SurfaceState."""

    def __init__(self, state, min_quality: float = 0.2):
        self.history, self.min_quality = state, float(min_quality)
        self.stop_reason = None
        self.moved = 0.0  # largest displacement so far [m]

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
        S = prob.tm.facets(*prob.surfaces)
        bcs = [fem.dirichletbc(self.g, fem.locate_dofs_topological(W, fdim, S))]
        zero = fem.Function(W)
        bcs.append(fem.dirichletbc(zero, fem.locate_dofs_topological(W, fdim, prob.tm.facets("top"))))
        for name, axis in SIDES.items():
            if name in prob.tm.groups and axis < d:
                Wa, _ = W.sub(axis).collapse()
                za = fem.Function(Wa)
                dofs = fem.locate_dofs_topological((W.sub(axis), Wa), fdim, prob.tm.facets(name))
                bcs.append(fem.dirichletbc(za, dofs, W.sub(axis)))
        # stiffened Laplacian (weight 1/|K| of the initial cells): small cells near the surface move rigidly
        D0 = fem.functionspace(msh, ("DG", 0))
        stiff = fem.Function(D0)
        n_all = msh.topology.index_map(d).size_local + msh.topology.index_map(d).num_ghosts
        vol = np.abs(_signed_measure(msh.geometry.x, gdm[:n_all], d))
        stiff.x.array[D0.dofmap.list.ravel()] = (vol.max() / vol) if vol.size else 1.0
        U, V = ufl.TrialFunction(W), ufl.TestFunction(W)
        dx = ufl.dx(domain=msh)
        self.problem = LinearProblem(stiff * ufl.inner(ufl.grad(U), ufl.grad(V)) * dx, ufl.inner(zero, V) * dx, bcs=bcs,
                                     u=self.u, petsc_options_prefix=f"licoat_mesh_{id(self)}_",
                                     petsc_options={"ksp_type": "preonly", "pc_type": "lu",
                                                    "pc_factor_mat_solver_type": "mumps"})
        self._forms = None

    def _surface_forms(self, prob):
        if self._forms is None:
            v = ufl.TestFunction(self.W)
            n = ufl.FacetNormal(prob.mesh)
            conv = prob.expr.get("i_conv", {})
            js = {s: -(prob.i_n[s] - conv.get(s, 0.0)) for s in prob.surfaces}  # Li plating current, plating +
            q = ufl.TestFunction(self.history.V)
            self._forms = (fem.form(sum(js[s] * ufl.inner(-n, v) * prob.sm[s] for s in prob.surfaces)),
                           fem.form(sum(q * prob.sm[s] for s in prob.surfaces)))
        return self._forms

    def accept_time_step(self, prob):
        if self.stop_reason is not None:
            return
        dt = float(self.history.dt.value)
        f_b, f_m = self._surface_forms(prob)
        b = fem.assemble_vector(f_b)
        b.scatter_reverse(la.InsertMode.add)
        b.scatter_forward()
        m = fem.assemble_vector(f_m)
        m.scatter_reverse(la.InsertMode.add)
        m.scatter_forward()
        d = self.d
        bb = b.array.reshape(-1, d)
        scale = np.where(m.array > 0, self.history.molar_volume * dt / FARADAY / np.where(m.array > 0, m.array, 1.0), 0.0)
        self.g.x.array[:] = (bb * scale[:, None]).ravel()
        self.g.x.scatter_forward()
        self.problem.solve()
        u = self.u.x.array.reshape(-1, d)
        x = prob.mesh.geometry.x
        new = x.copy()
        new[self.node_of_dof, :d] += u
        meas = _signed_measure(new, self.cells[: self.n_cells_own], d)
        ratio = float((meas / self.measure0).min(initial=np.inf))
        ratio = prob.comm.allreduce(ratio, op=MPI.MIN)
        if ratio < self.min_quality:
            self.stop_reason = (f"moving interface: the mesh would lose quality (smallest cell size ratio to the initial "
                                f"mesh {ratio:.3g} < {self.min_quality:g}) after a displacement of {self.moved:.3g} m; "
                                "the run stops here with its results so far (remeshing is not implemented)")
            return
        x[:, :d] = new[:, :d]
        self.total.x.array[:] += self.u.x.array
        umax = float(np.linalg.norm(self.total.x.array.reshape(-1, d), axis=1).max(initial=0.0))
        self.moved = prob.comm.allreduce(umax, op=MPI.MAX)
