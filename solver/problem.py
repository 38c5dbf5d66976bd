"""A cell problem: the sum of its physics components on the ion-conducting part of a tagged mesh.

``CellProblem(comm, tm, components, ...)`` restricts the mesh to the volumes where the unknowns
live (electrolyte, resolved coating layers, electronically resolved metals), lets every component
declare its fields (one :class:`~licoat.solver.fields.FieldRegistry`), collects their residual
terms, applies a time transform (BDF2) to the storage term when transient, and solves with SNES
Newton plus an adaptive load continuation. Metrics are objects in :mod:`licoat.solver.cell_metrics`.

Fields where they mean something: every field is a P1 function on the whole ionic submesh and is
pinned (zero Dirichlet rows) where it has no meaning — ĉ outside the electrolyte, φ̂ in resolved
metals, ψ̂ off the plating facets. Restricting ψ̂ to a facet submesh (and ĉ to an electrolyte
submesh) needs mixed-domain forms coupled across interior facets of a submesh. A submesh made by
``create_submesh`` carries no shared-facet ghost layer, and interior-facet integrals without one are
undefined across process boundaries in DOLFINx 0.11 (FEniCS/dolfinx#2556; the assembler only
detects it since FEniCS/dolfinx#3439); that is why every facet integral here is one-sided (see
solver/submesh.py), and why the fields stay on the ionic submesh with pinned dofs. The pinned rows
are identity rows, kept in their own field-split block (film: block Jacobi), so they cost the
preconditioner nothing. The Newton system assembles ĉ and φ̂ as the two components of one
vector-valued P1 unknown (one kernel for all four block pairs; :meth:`CellProblem._vector_system`,
``fields.VECTOR``), the other fields as their own blocks; the per-field functions stay the state
that everything else reads and writes; ``dofs`` in the summary counts the real unknowns (pinned dofs excluded), and
the 1 vs 2 rank tests keep this honest.
"""

from __future__ import annotations

import logging
import time
import weakref

import numpy as np

from licoat import import_stack

import_stack()
import ufl  # noqa: E402
from dolfinx import fem  # noqa: E402
from dolfinx.fem.petsc import NonlinearProblem  # noqa: E402
from mpi4py import MPI  # noqa: E402

from licoat.solver import components as C  # noqa: E402
from licoat.solver import jit as _jit  # noqa: E402,F401 - sets the compile-lock timeout for every form
from licoat.solver.fields import SPLIT_PC, FieldRegistry  # noqa: E402
from licoat.solver.submesh import one_sided_entities, restrict  # noqa: E402


log = logging.getLogger("licoat.solver")  # rank 0 only (licoat.run.setup_logging); LICOAT_DEBUG=1: per-solve detail


class SolverError(RuntimeError):
    """Nonlinear solve failed; the message names the field and the reason."""


SNES_REASONS = {
    -1: "function domain error",
    -2: "function count exceeded",
    -3: "linear solve failed",
    -4: "residual became NaN/Inf",
    -5: "maximum Newton iterations reached",
    -6: "line search failed",
    -8: "Jacobian domain error",
    -9: "trust region / divergence tolerance",
}

DIRECT = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}


_EVENTS = ("SNESFunctionEval", "SNESJacobianEval", "KSPSolve")


def _event_times() -> list[float]:
    """Cumulative times of PETSc's residual, Jacobian and linear-solve log events on this rank [s]."""
    from petsc4py import PETSc

    if not getattr(_event_times, "started", False):
        PETSc.Log.begin()  # cheap; needed for the event timers
        _event_times.started = True
    return [PETSc.Log.Event(name).getPerfInfo()["time"] for name in _EVENTS]


def _weak(method):
    """A callback for a PETSc object that calls ``method`` without keeping its owner alive."""
    ref, name = weakref.WeakMethod(method), method.__qualname__  # the closure must not hold the method

    def call(*args, **kwargs):
        bound = ref()
        if bound is None:  # never skip a Jacobian silently: a solve without its problem is a bug
            raise RuntimeError(f"{name}: its problem was freed while its solver was still in use")
        return bound(*args, **kwargs)

    return call


def _residual_without_lifting(snes, x, b, u, residual, bcs, _blocks=None):
    """``dolfinx.fem.petsc.assemble_residual`` less the lifting of the Dirichlet rows: every iterate
    already holds the Dirichlet values (CellProblem.newton sets them before SNES starts, and a
    Newton update is zero on those rows), so the lifting term J (g - x) is identically zero. It is
    not free: with fields pinned on most of the mesh it would recompute the element Jacobian of
    nearly every cell at every residual."""
    from dolfinx.fem import petsc as fp
    from dolfinx.la import petsc as lp
    from petsc4py import PETSc

    lp._ghost_update(x, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
    fp.assign(x, u)
    b.setAttr("_blocks", _blocks)
    x.setAttr("_blocks", _blocks)
    lp._zero_vector(b)
    fp.assemble_vector(b, residual)
    lp._ghost_update(b, PETSc.InsertMode.ADD, PETSc.ScatterMode.REVERSE)
    fp.set_bc(b, fp._bcs_by_block(fp._extract_function_spaces(residual), bcs), x0=x, alpha=-1.0)
    lp._ghost_update(b, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)


def pin_cover(V, cells: np.ndarray) -> np.ndarray:
    """Vertex-integral entities (cell, local vertex 0) of a small set of the given cells that contains
    every dof of theirs: for each dof the first of the cells holding it (about one cell per vertex of
    the region in 3D P1, against 5-6 cells per vertex in the region). Only the cells matter: a vertex
    integral's sparsity is its cell's dof block, and the pin's integrand is zero."""
    if cells.size == 0:
        return np.zeros(0, dtype=np.int32)
    dofs = V.dofmap.list[cells]
    _, first = np.unique(dofs.ravel(), return_index=True)
    cover = np.unique(cells[first // dofs.shape[1]])
    return np.column_stack([cover, np.zeros_like(cover)]).astype(np.int32).ravel()


def volume_quadrature_degree(degree: int) -> int:
    """Quadrature degree of every volume integral for P_degree fields (see CellProblem.__init__)."""
    return 2 * degree


class Context:
    """The fields a residual is written in (the unknowns, or exact fields), their test functions, the
    residual being collected per field, and expressions the components publish for each other."""

    def __init__(self, prob, overrides: dict | None = None):
        self.prob = prob
        self.overrides = overrides or {}
        self.residual: dict[str, object] = {}
        self.expr: dict = {"i_n": {}, "eta": {}, "i_kin": {}, "i_leak": {}}

    def u(self, name):
        return self.overrides.get(name, self.prob.registry[name].function)

    def v(self, name):
        return ufl.TestFunction(self.prob.registry[name].function.function_space)

    def add(self, name, form):
        self.residual[name] = self.residual[name] + form if name in self.residual else form

    def with_fields(self, overrides: dict) -> "Context":
        return Context(self.prob, overrides)


class CellProblem:
    """Steady or transient (``time_scheme=BDF2``) electrochemical cell assembled from components."""

    def __init__(self, comm, tm, components: list, *, electrolyte, kinetics, options, volumes: list[str],
                 surfaces: list[str], kin_of: dict, length_scale: float, i_scale: float, footprint_area=None,
                 thermal_voltage: float, transient: bool = False, degree: int = 1, stack_asr: float = 0.0):
        t0 = time.perf_counter()
        self.comm, self.components, self.opts = comm, list(components), options
        self.el, self.kin, self.kin_of, self.degree = electrolyte, kinetics, kin_of, degree
        self.stack_asr = stack_asr  # uniform series ASR of the coating (initial guess only)
        self.electrolyte = next(c for c in self.components if isinstance(c, C.ConcentratedElectrolyte))
        self.control = next(c for c in self.components if isinstance(c, (C.Galvanostatic, C.Potentiostatic)))
        self.iterative = options.linear_solver != "direct" and not any(c.needs_direct_solver for c in self.components)
        self.parent_tm = tm
        self.tm, _ = restrict(tm, volumes)
        self.mesh = msh = self.tm.mesh
        self.dim = d = msh.topology.dim
        self.ionic_volumes = [v for v in volumes if tm.role(v) != "metal"]
        self.metal_volumes = [v for v in volumes if tm.role(v) == "metal"]
        self.surfaces = list(surfaces)
        # surfaces where the salt meets the electrolyte (top of a resolved stack, else the plating surfaces)
        top_of_stack = tm.interfaces_between("coating", "electrolyte")
        self.electrolyte_surfaces = top_of_stack if self.tm.coating_layers() else list(self.surfaces)

        # Scales: residuals O(1) in every field (physics.md §10 on tiny SI residuals)
        self.c0 = electrolyte.concentration
        self.Vt = thermal_voltage
        kappa0 = electrolyte.conductivity.at(self.c0)
        D0 = electrolyte.diffusivity.at(self.c0)
        self.ell = ell = length_scale
        self.s_c = 1.0 / (D0 * self.c0 * ell ** (d - 2))
        self.s_phi = 1.0 / (kappa0 * self.Vt * ell ** (d - 2))
        self.s_v = 1.0 / (i_scale * ell ** (d - 1))

        # One fixed quadrature degree for every volume integral: the salt and charge residuals share
        # the term i_e (with grad(c)/c), and only an identical rule keeps the discrete identity
        # "salt flux = (1 - t+) i_n / F at the surface" exact (UFL would estimate different degrees).
        # Degree 2k for P_k: the integrands are smooth properties of c times products of gradients
        # (degree 2k - 2), so the rule integrates their quadratic Taylor part exactly and the quadrature
        # error is O(h^2) relative, below P_k's own error (Ciarlet, Thm 4.1.6: exactness for P_{2k-2}
        # keeps the energy-norm rate); the manufactured-solution rates test it. In 3D P1 this is 4
        # points per cell instead of 14 at degree 2k + 2: the Jacobian assembles 2.5x faster
        # (benchmarks/results/quadrature_degree.json).
        self.dx = ufl.Measure("dx", domain=msh, subdomain_data=self.tm.cell_tags,
                              metadata={"quadrature_degree": volume_quadrature_degree(degree)})
        # Facet integrals over custom (owned cell, local facet) entities: every facet group is
        # integrated once, from one side (see facet_entities), whether it bounds the unknowns' mesh or
        # lies inside it: a submesh has no shared-facet ghost layer, so dS would fail in parallel.
        self.ds = ufl.Measure("ds", domain=msh, subdomain_data=self._facet_entities(), metadata={"quadrature_degree": 4})
        self.sm = {n: self.ds(self.tm.tag(n)) for n in self.surfaces}
        self.load = fem.Constant(msh, 1.0)  # continuation parameter on the applied current/voltage
        self.time = fem.Constant(msh, 0.0)  # t at the new time level [s]
        self._one = fem.Constant(msh, 1.0)

        self.registry = FieldRegistry()
        self.electrode_potential = None
        for comp in self.components:
            comp.declare(self)
        self.P1 = self.registry["concentration"].function.function_space
        self.area_S = sum(self._integrate(self._one * self.sm[n]) for n in self.surfaces)
        self.inv_area_S = fem.Constant(msh, 1.0 / self.area_S)  # in forms; a moving surface updates it
        self.footprint = footprint_area if footprint_area is not None else self._integrate(self._one * self.ds(self.tm.tag("top")))

        # time discretisation as a transform of the electrolyte's storage term
        self.time_scheme = C.BDF2(self) if transient else None
        ctx = Context(self)
        for comp in self.components:
            comp.contribute(ctx)
        if self.time_scheme is not None:
            c = self.registry["concentration"].function
            ctx.add("concentration", self.time_scheme.discretise(lambda u: self.electrolyte.storage(self, u), c))
        self.ctx = ctx
        self.expr = ctx.expr
        residual = self._pin(ctx.residual)
        self.forms = [residual[f.name] for f in self.registry.ordered()]
        self.unknowns = self.registry.functions
        self.bcs = [bc for comp in self.components for bc in comp.bcs(self)] + self._pin_bcs()

        self._vector_system()

        self.S_dofs = fem.locate_dofs_topological(self.P1, d - 1, self.tm.facets(*self.surfaces))
        self.setup_s = time.perf_counter() - t0
        self._problem = None
        self.newton_iterations = 0
        self.linear_iterations = 0
        self.solve_s = 0.0
        self.assembly_s = 0.0  # residual + Jacobian assembly, summed over Newton steps [s]
        self.linear_solve_s = 0.0  # KSP solves, summed [s]
        self.jacobians = 0  # Jacobian assemblies (fewer than Newton iterations when one is reused)
        #: reuse a Jacobian across Newton iterations (and time steps) while the iteration converges fast
        #: (see JACOBIAN_RATE); off: a new Jacobian at every Newton iteration. Steady solves too: measured
        #: on the 3D fibre host (138 k DOFs), 10 iterations with 3 Jacobians instead of 6 with 6, the solve
        #: 1.47x faster (foam 1.42x), the cell voltage equal to 2e-12
        #: (benchmarks/results/steady_jacobian_reuse.json); a solve that fails with a reused Jacobian is
        #: repeated as full Newton (``newton``)
        self.reuse_jacobian = getattr(options, "reuse_jacobian", True)
        self._solve_count, self._jacobian_at, self._jacobian_key, self._fnorm_prev = 0, None, None, np.inf
        self._want_jacobian = True
        self.predictor_levels: list = []  # solver/transient.py: the last accepted levels of the unknowns

    # -------------------------------------------------------------- published physics
    @property
    def i_n(self):
        return self.expr["i_n"]

    @property
    def eta(self):
        return self.expr["eta"]

    @property
    def i_e(self):
        return self.expr["i_e"]

    @property
    def kappa(self):
        return self.expr["kappa"]

    @property
    def i_leak(self):
        return self.expr["i_leak"]

    @property
    def i_counter(self):
        return self.expr.get("i_counter")

    @property
    def plating_current(self):
        """Plating current density per surface [A/m^2], plating positive."""
        return {n: -i for n, i in self.expr["i_n"].items()}

    @property
    def transient(self) -> bool:
        return self.time_scheme is not None

    @property
    def c_n(self):
        return self.time_scheme.u_n

    @property
    def c_nm1(self):
        return self.time_scheme.u_nm1

    @property
    def bdf(self):
        return self.time_scheme.b

    def _field(self, name):
        return self.registry[name].function if name in self.registry else None

    c_hat = property(lambda self: self._field("concentration"))
    phi_hat = property(lambda self: self._field("potential"))
    psi_hat = property(lambda self: self._field("film_potential"))
    phis_hat = property(lambda self: self._field("metal_potential"))
    lam = property(lambda self: self._field("salt_multiplier"))
    thin = property(lambda self: "film_potential" in self.registry)
    resolved = property(lambda self: bool(self.tm.coating_layers()))
    conducting = property(lambda self: "metal_potential" in self.registry)
    galvanostatic = property(lambda self: isinstance(self.control, C.Galvanostatic))
    lithium_counter = property(lambda self: any(isinstance(c, C.LithiumCounter) for c in self.components))

    @property
    def V_hat(self):
        return self.electrode_potential

    # -------------------------------------------------------------- assembly helpers
    def _facet_entities(self) -> list:
        """(tag, entities) per facet group: an interface from its upper side when that side is in the
        problem's mesh (the ionic side of a metal surface, the outer layer of a layer|layer or
        layer|electrolyte interface), else from its lower side; an outer face from the ionic cells,
        or from the metal cells where no ionic cell touches it (e.g. ``bottom`` of a conductor)."""
        d = self.tm.mesh.topology.dim
        ionic = self.tm.cells(*self.ionic_volumes)
        present = set(self.ionic_volumes) | set(self.metal_volumes)
        out = []
        for name, (dim, tag) in self.tm.groups.items():
            if dim != d - 1:
                continue
            lo, up = self.tm.sides(name)
            if up is not None:
                side = self.tm.cells(up) if up in present else self.tm.cells(lo)
            else:
                side = ionic
            ents = one_sided_entities(self.tm, side, [tag])
            if up is None and self.comm.allreduce(ents.size, op=MPI.SUM) == 0 and self.metal_volumes:
                ents = one_sided_entities(self.tm, self.tm.cells(*self.metal_volumes), [tag])
            out.append((tag, ents))
        return out

    def _pin(self, residual: dict) -> dict:
        """Pinned dofs (a field outside where it lives) need a diagonal in the sparsity pattern for their
        Dirichlet rows: a symbolic zero mass term provides it. As a vertex integral on a cover of the
        pinned dofs (one owned cell per dof, ``pin_cover``), not a cell integral over the whole pinned
        region: the sparsity of a cell integral is every cell's dof block, so a surface field (the film
        potential) carried the full volume pattern, and its zero kernel ran on every cell of the mesh at
        every assembly (on the 3D fibre host, 353 k cells: 2 % of the nonzeros, the Jacobian 1.04x;
        benchmarks/results/pin_cover.json)."""
        self._zero = zero = fem.Constant(self.mesh, 0.0)
        all_volumes = self.ionic_volumes + self.metal_volumes
        n_own = self.mesh.topology.index_map(self.dim).size_local
        owned = np.arange(n_own, dtype=np.int32)
        groups, data = [], []
        for f in self.registry.ordered():
            if f.volumes is not None:
                cells = self.tm.cells(*[vol for vol in all_volumes if vol not in f.volumes])
                cells = cells[cells < n_own]
            elif f.facets is not None:
                cells = owned
            else:
                continue
            if self.comm.allreduce(cells.size, op=MPI.SUM) == 0:
                continue
            data.append((len(data), pin_cover(f.function.function_space, cells)))
            groups.append(f)
        out = dict(residual)
        if data:
            dP = ufl.Measure("dP", domain=self.mesh, subdomain_data=data)
            for k, f in enumerate(groups):
                u = f.function
                out[f.name] = out[f.name] + zero * u * ufl.TestFunction(u.function_space) * dP(k)
        return out

    def _vector_system(self):
        """The Newton system: the transport fields as the components of ONE vector-valued P1 unknown
        ``U`` (``fields.VECTOR``; block size = their number), so that one kernel per cell assembles
        the element matrix of all their block pairs, sharing the geometry, the field values and the
        properties of c (κ(c), D(c), their derivatives) instead of recomputing them per block; the
        other fields (real-valued unknowns, fields outside ``VECTOR``) stay their own blocks.

        The components keep writing residuals in the per-field functions (``ctx.u``, ``ctx.v``): the
        vector forms are those residuals with each field replaced by its component of ``U`` and each
        test function by the component of the vector test function. The per-field functions stay the
        state everyone reads and writes (output, metrics, checkpoints, initial guesses, published
        expressions); ``U`` is the solver's copy, filled before every Newton solve and copied back
        after it. A Dirichlet condition (or pin) of a component acts on its sub-space."""
        vec, others = self.registry.vector(), self.registry.blocks()
        self.block_size = bs = len(vec)
        self.W = W = fem.functionspace(self.mesh, ("Lagrange", self.degree, (bs,)))
        self.U = U = fem.Function(W, name="state")
        vW = ufl.TestFunction(W)
        # local dof of each per-field space -> local node of W (the same numbering in practice; mapped
        # through the cell dofmaps so that nothing depends on it)
        self._node = []
        for f in vec:
            V = f.function.function_space
            im = V.dofmap.index_map
            m = np.empty(im.size_local + im.num_ghosts, dtype=np.int32)
            m[V.dofmap.list.ravel()] = W.dofmap.list.ravel()
            self._node.append(m)
        coef = {f.function: U[i] for i, f in enumerate(vec)}
        forms = dict(zip(self.registry.names, self.forms))
        F_U = None
        for i, f in enumerate(vec):
            Fi = ufl.replace(forms[f.name], {forms[f.name].arguments()[0]: vW[i], **coef})
            F_U = Fi if F_U is None else F_U + Fi
        self.solver_forms = [F_U] + [ufl.replace(forms[f.name], coef) for f in others]
        self.solver_unknowns = [U] + [f.function for f in others]
        # Dirichlet rows: a condition of a component on its sub-space (the same value object, so a
        # load-scaled Constant keeps acting); the others' conditions as they are. ``self.bcs`` may
        # change between solves (a Cycler's voltage hold): the solver's list follows it in place.
        self.solver_bcs, self._bc_target, self._bc_cache = [], [], {}
        self._sync_bcs()

    def _solver_bc(self, bc):
        """(condition in the Newton system's layout, the function whose array it acts on) of one of
        ``self.bcs``."""
        from dolfinx import cpp as _cpp

        vec = self.registry.vector()
        i = next((k for k, f in enumerate(vec) if f.function.function_space._cpp_object == bc.function_space), None)
        if i is None:
            u = next(f.function for f in self.registry.blocks()
                     if f.function.function_space._cpp_object == bc.function_space)
            return bc, u
        if not isinstance(bc.g, _cpp.fem.Constant_float64):
            raise TypeError("a Dirichlet value of a vector component must be a Constant")
        dofs, _ = bc.dof_indices()
        wdofs = (self._node[i][dofs] * self.block_size + i).astype(np.int32)
        sub = self.W.sub(i)._cpp_object
        return fem.DirichletBC(_cpp.fem.DirichletBC_float64(bc.g, wdofs, sub)), self.U

    def _sync_bcs(self):
        pairs = []
        for bc in self.bcs:
            if id(bc) not in self._bc_cache:
                self._bc_cache[id(bc)] = (bc, self._solver_bc(bc))  # bc kept alive: ids stay unique
            pairs.append(self._bc_cache[id(bc)][1])
        self.solver_bcs[:] = [b for b, _ in pairs]  # in place: the nonlinear solver holds this list
        self._bc_target[:] = [u for _, u in pairs]

    def _to_solver(self):
        """Per-field functions -> the vector unknown, on the Dirichlet values (before a Newton solve:
        every iterate then keeps them, so the residual needs no lifting)."""
        self._sync_bcs()
        a = self.U.x.array.reshape(-1, self.block_size)
        for i, f in enumerate(self.registry.vector()):
            a[self._node[i], i] = f.function.x.array
        for bc, u in zip(self.solver_bcs, self._bc_target):
            bc.set(u.x.array)

    def _from_solver(self):
        """The vector unknown -> per-field functions (after a Newton solve)."""
        self.U.x.scatter_forward()
        a = self.U.x.array.reshape(-1, self.block_size)
        for i, f in enumerate(self.registry.vector()):
            f.function.x.array[:] = a[self._node[i], i]

    def _pin_bcs(self) -> list:
        fdim = self.dim - 1
        bcs = []
        zero = fem.Constant(self.mesh, 0.0)
        pinned_owned = 0
        for f in self.registry.ordered():
            V = f.function.function_space
            n = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
            all_dofs = np.arange(n, dtype=np.int32)
            if f.volumes is not None and set(f.volumes) != set(self.ionic_volumes + self.metal_volumes):
                # with remote dofs: a dof on a rank boundary is inside if a cell of the field's volumes holds
                # it on ANY rank, so that every rank pins the same dofs (a rank seeing only outside cells
                # around it pinned it alone before; harmless, as those cells add nothing to the field)
                self.mesh.topology.create_connectivity(self.dim, self.dim)
                inside = fem.locate_dofs_topological(V, self.dim, self.tm.cells(*f.volumes))
                value = fem.Constant(self.mesh, 1.0) if f.name == "concentration" else zero
                off = np.setdiff1d(all_dofs, inside).astype(np.int32)
                bcs.append(fem.dirichletbc(value, off, V))
            elif f.facets is not None:
                on = fem.locate_dofs_topological(V, fdim, self.tm.facets(*f.facets))
                off = np.setdiff1d(all_dofs, on).astype(np.int32)
                bcs.append(fem.dirichletbc(zero, off, V))
            else:
                continue
            pinned_owned += int(np.count_nonzero(off < V.dofmap.index_map.size_local))
        #: unknowns that mean something: every dof of the fields minus the pinned ones
        self.dofs = self.registry.dofs() - self.comm.allreduce(pinned_owned, op=MPI.SUM)
        return bcs

    def _integrate(self, form) -> float:
        return self.comm.allreduce(fem.assemble_scalar(fem.form(form)), op=MPI.SUM)

    def surface_mean(self, expr, names) -> float:
        """Area mean of an expression over facet groups."""
        ds = self.ds(tuple(self.tm.tag(n) for n in names))
        return self._integrate(expr * ds) / self._integrate(self._one * ds)


    # -------------------------------------------------------------- solver
    def petsc_options(self) -> dict:
        opts = {
            "snes_type": "newtonls",
            "snes_linesearch_type": "basic",  # full Newton steps; load continuation is the safeguard
            # a steady chord iteration converges linearly and stops just below the tolerance, where full
            # Newton's quadratic last step lands far below it (constraints such as the applied current are
            # met to ~1e-12 instead of ~1e-9): it is held to a 100x tighter one, one or two cheap steps more
            "snes_rtol": self.opts.rtol * (1e-2 if self.reuse_jacobian and not self.transient else 1.0),
            "snes_atol": self.opts.atol,
            "snes_stol": 0.0,
            "snes_max_it": self.opts.max_iterations,
            "snes_error_if_not_converged": False,
            "ksp_error_if_not_converged": False,
        }
        if not self.iterative:
            opts.update(DIRECT)
        else:
            # GMRES + multiplicative field split: algebraic multigrid on the PDE blocks, point Jacobi on
            # the global unknowns, block-Jacobi ILU on the film block (a surface mass-like matrix,
            # identity off the surface: as good as an exact solve at a fraction of its cost)
            opts.update({
                "ksp_type": "gmres", "ksp_rtol": 1e-8, "ksp_atol": 1e-14, "ksp_max_it": 1000,
                "ksp_gmres_restart": 200, "ksp_norm_type": "unpreconditioned",
                "pc_type": "fieldsplit", "pc_fieldsplit_type": "multiplicative",
            })
            if self.reuse_jacobian:
                # Eisenstat-Walker forcing with the chord iteration: each linear solve only as accurate as
                # the step it serves needs (the nonlinear tolerances decide the answer); measured on a 3D
                # fibre-host transient, 2.6x fewer Krylov iterations at the same iteration count (not with
                # full Newton: its inexact steps cost more Newton iterations, i.e. Jacobians).
                # First forcing term: 1e-2 in a time step (the default 0.3 was so loose that the first step
                # of every solve converged slower than JACOBIAN_RATE and the reused Jacobian was replaced at
                # every time step); 1e-6 in a steady solve, whose first step from the cold start is a full
                # Newton step that decides whether the chord iteration can follow (at 1e-2 the 3D foam took
                # 7 iterations and 3 Jacobians, at 1e-6 4 and 1; benchmarks/steady_jacobian_reuse.py)
                opts.update({"snes_ksp_ew": True, "snes_ksp_ew_rtol0": 1e-2 if self.transient else 1e-6})
            for f in self.registry.ordered():
                opts[f"fieldsplit_{f.split}_ksp_type"] = "preonly"
                opts[f"fieldsplit_{f.split}_pc_type"] = SPLIT_PC.get(f.split, "gamg")
        opts.update(self.opts.petsc_options)
        return opts

    def build(self):
        if self._problem is None:
            try:  # compiler options chosen by measurement (solver/jit.py)
                from licoat.solver.jit import JIT_OPTIONS
            except ImportError:
                JIT_OPTIONS = {}
            self._problem = NonlinearProblem(
                self.solver_forms, self.solver_unknowns, bcs=self.solver_bcs, petsc_options_prefix=f"licoat_cell_{id(self)}_",
                petsc_options=self.petsc_options(), kind="mpi", jit_options=JIT_OPTIONS,
            )
            p = self._problem
            p.solver.setFunction(_residual_without_lifting, p.b, kargs={
                "u": p.u, "residual": p.F, "bcs": self.solver_bcs, "_blocks": p.b.getAttr("_blocks")})
            # the SNES holds its callbacks from C, where Python's garbage collector cannot see them: a bound
            # method would make problem -> SNES -> method -> problem a cycle that is never freed, and every
            # leaked problem keeps its meshes' MPI communicators (MPICH has 2048: a long test session or
            # sweep then dies with MPI_ERR_OTHER). Weak references break the cycle.
            p.solver.setJacobian(_weak(self._assemble_jacobian), p.A, p.P_mat, kargs={
                "u": p.u, "jacobian": p.J, "preconditioner": p.preconditioner, "bcs": self.solver_bcs})
            p.solver.setMonitor(_weak(self._jacobian_monitor))
            self._jacobian_key = None  # no Jacobian yet: the first solve assembles one
            if self.iterative:
                self._set_field_split(self._problem)
        return self._problem


    # -------------------------------------------------------------- Jacobian reuse
    #: a stale Jacobian is replaced when an iteration reduces the residual norm by less than this factor;
    #: Newton with a fresh one converges quadratically, the chord iteration with a stale one linearly at a
    #: rate that grows with the change of the Jacobian (a new time step size, a moved state)
    JACOBIAN_RATE = 0.1

    def _assemble_jacobian(self, snes, x, J, P, **ctx):
        """DOLFINx's Jacobian assembly when a new Jacobian is wanted; otherwise J is left untouched, so
        its PETSc object state is unchanged and PCSetUp keeps the preconditioner too (the GAMG
        hierarchy, a factorisation): the iteration is then a chord step with the exact residual."""
        from dolfinx.fem.petsc import assemble_jacobian

        if self.reuse_jacobian and not self._want_jacobian and self._jacobian_key == self._bc_key():
            self._reused = True
            return
        assemble_jacobian(snes, x, J, P, **ctx)
        self._want_jacobian = False
        self._jacobian_at = (self._solve_count, snes.getIterationNumber())
        self._jacobian_key = self._bc_key()
        self.jacobians += 1

    def forget_solver_memory(self):
        """Drop what the next solve would inherit from earlier ones (the reused Jacobian, the predictor's
        levels): a checkpoint calls this, so that a run restarted from it takes the same path as the
        uninterrupted run, to round-off."""
        self._jacobian_key = None
        self.predictor_levels = []

    def _bc_key(self):
        """The Dirichlet rows a Jacobian was assembled for (a stale one with other rows is not reused)."""
        return tuple(id(b) for b in self.solver_bcs)

    def _jacobian_monitor(self, snes, it, fnorm):
        """Ask for a new Jacobian (and preconditioner) at the next iterate when the last iteration,
        made with a Jacobian from an earlier iterate, converged slower than ``JACOBIAN_RATE``."""
        if it > 0 and fnorm > self.JACOBIAN_RATE * self._fnorm_prev \
                and self._jacobian_at != (self._solve_count, it - 1):
            self._want_jacobian = True
        self._fnorm_prev = fnorm

    def _set_field_split(self, problem):
        from petsc4py import PETSc

        groups = self.registry.split_index_sets(problem.A.getOwnershipRange()[0], self.W.dofmap.index_map.size_local)
        sets = [(g, PETSc.IS().createGeneral(np.concatenate(idx).astype(PETSc.IntType), comm=self.comm))
                for g, idx in groups.items()]
        pc = problem.solver.getKSP().getPC()
        pc.setType("fieldsplit")
        pc.setFieldSplitIS(*sets)
        problem.solver.getKSP().setFromOptions()

    def initial_guess(self, load: float = 1.0):
        """Each component's start: c = c0, φ = 0, V (and the film drops) from the 1D estimate."""
        for comp in self.components:
            comp.initial_guess(self, load)
        for u in self.unknowns:
            u.x.scatter_forward()

    def scale_load(self, load: float):
        self.control.scale_load(self, load)


    def solve(self):
        """Newton solve; on failure, continuation in the load (current or voltage) from the trivial
        zero-load state with adaptive steps: a failed step is cut in half and retried from the last
        converged state. Raises SolverError with the field and the reason."""
        t0 = time.perf_counter()
        problem = self.build()
        self.initial_guess()
        ok, reason = self.newton(problem)
        if not ok:
            self._continuation(problem)
        self.solve_s = time.perf_counter() - t0
        return self

    def _continuation(self, problem):
        self.scale_load(0.0)
        self.initial_guess(0.0)
        saved = [u.x.array.copy() for u in self.unknowns]
        done, step = 0.0, 1.0 / self.opts.ramp_steps
        while done < 1.0:
            target = min(1.0, done + step)
            self.scale_load(target)
            ok, reason = self.newton(problem)
            if ok:
                done, step = target, step * 1.5
                saved = [u.x.array.copy() for u in self.unknowns]
                continue
            for u, a in zip(self.unknowns, saved):
                u.x.array[:] = a
            step /= 2
            if step < 1e-3:
                worst = self.worst_field()
                self.scale_load(1.0)
                raise SolverError(
                    f"steady Newton solve failed at {target:.1%} of the applied load "
                    f"(last converged {done:.1%}, step cut to {step:.1e}): {reason}; "
                    f"largest residual in field '{worst}'"
                )

    def newton(self, problem=None):
        """One SNES solve from the current state; returns (converged, reason).

        A failed solve can leave the linear solver in a failed state (e.g. a MUMPS factorisation of a
        non-finite matrix, error 101): the problem is then rebuilt before the next solve, so a
        continuation or a smaller time step really starts afresh."""
        start = [u.x.array.copy() for u in self.unknowns]
        ok, reason, reused = self._newton_once(reuse=self.reuse_jacobian)
        if not ok and reused:
            # the failure may be the reused Jacobian's: once more from the same start, as full Newton
            for u, a in zip(self.unknowns, start):
                u.x.array[:] = a
            ok, reason, _ = self._newton_once(reuse=False)
        return ok, reason

    def _newton_once(self, reuse: bool):
        """(converged, reason, whether an iteration reused a Jacobian from an earlier iterate)."""
        problem = self.build()
        before = _event_times()
        self._to_solver()
        snes = problem.solver
        self._solve_count += 1
        # reuse the last Jacobian (see _assemble_jacobian) unless reuse is off; a new one anyway when the
        # Dirichlet rows changed since it was assembled
        saved_reuse, self.reuse_jacobian = self.reuse_jacobian, reuse
        self._want_jacobian, self._reused = not reuse, False
        try:
            problem.solve()
        except Exception as exc:  # PETSc errors surface as exceptions in some configurations
            self._problem = None
            return False, f"exception {str(exc).splitlines()[0]}", self._reused
        finally:  # time in residual + Jacobian assembly and in the linear solves (PETSc log events)
            self.reuse_jacobian = saved_reuse
            self._from_solver()
            after = _event_times()
            self.assembly_s += (after[0] - before[0]) + (after[1] - before[1])
            self.linear_solve_s += after[2] - before[2]
        reason = snes.getConvergedReason()
        log.debug("Newton solve %d (load %.3g, reuse %s): reason %d after %d iterations, %d Krylov, "
                  "%d Jacobians in all", self._solve_count, float(self.load.value), reuse, reason,
                  snes.getIterationNumber(), snes.getLinearSolveIterations(), self.jacobians)
        self.newton_iterations += snes.getIterationNumber()
        self.linear_iterations += snes.getLinearSolveIterations()
        finite = all(np.isfinite(u.x.array).all() for u in self.unknowns)
        finite = self.comm.allreduce(finite, op=MPI.LAND)
        if reason > 0 and finite:
            return True, "", self._reused
        self._problem = None  # rebuilt by the next solve (see above)
        why = SNES_REASONS.get(reason, f"SNES reason {reason}") if finite else "non-finite solution"
        return False, why, self._reused


    def worst_field(self, problem=None) -> str:
        """Name of the field whose (scaled) residual block is largest at the last iterate."""
        norms = []
        for form in self.forms:
            b = fem.assemble_vector(fem.form(form))
            n_own = b.index_map.size_local * b.block_size
            norms.append(self.comm.allreduce(float(np.sum(b.array[:n_own] ** 2)), op=MPI.SUM))
        return self.registry.names[int(np.argmax(norms))]


    # -------------------------------------------------------------- time stepping
    def set_time_step(self, dt: float, dt_prev: float | None):
        self.time_scheme.set_step(dt, dt_prev)
        for comp in self.components:
            comp.set_time_step(self, dt, dt_prev)

    def accept_time_step(self):
        self.time_scheme.accept(self.c_hat)
        for comp in self.components:  # state kept between steps (plating history)
            comp.accept_time_step(self)

    def step_limit(self, dt: float) -> float:
        """Largest next time step the components allow after an accepted step of size dt [s]."""
        return min((comp.step_limit(self, dt) for comp in self.components), default=np.inf)

    def state(self) -> list[np.ndarray]:
        """The unknowns, the BDF history levels and the components' own state (plating history)."""
        extra = [self.c_n, self.c_nm1] if self.time_scheme is not None else []
        out = [u.x.array.copy() for u in self.unknowns + extra]
        for comp in self.components:
            out += [a.copy() for a in comp.state()]
        return out

    def restore(self, saved: list[np.ndarray]):
        extra = [self.c_n, self.c_nm1] if self.time_scheme is not None else []
        fields = self.unknowns + extra
        for u, a in zip(fields, saved):
            u.x.array[:] = a
        k = len(fields)
        for comp in self.components:
            n = len(comp.state())
            if n:
                comp.restore(saved[k:k + n])
                k += n

    # -------------------------------------------------------------- results
    @property
    def cell_voltage(self) -> float:
        """Plating-electrode potential minus the top boundary's (reservoir or Li counter at 0 V) [V]."""
        return self.control.cell_voltage(self)

    def fields(self, out: dict | None = None) -> dict:
        """Dimensional output fields (concentration, potential, plating current density), refreshed in
        place when ``out`` is a previous return value (for a writer's time series)."""
        from licoat.solver.cell_metrics import output_fields

        return output_fields(self, out)

    def plating_series(self) -> dict:
        from licoat.solver.cell_metrics import plating_series

        return plating_series(self)

    def metrics(self) -> dict:
        from licoat.solver.cell_metrics import summary_metrics

        return summary_metrics(self)
