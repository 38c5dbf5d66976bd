"""Elasticity of the solid part of a cell and the Monroe–Newman interface chemical potential Δμ.

References: ``/work/shared/reference/mechanics.md`` ("Elasticity", "Stress-coupled kinetics");
Monroe & Newman, J. Electrochem. Soc. 152 (2005) A396.

Elasticity (:func:`solve_elasticity`)
    Isotropic linear elasticity, ``sigma = 2 G eps + lambda tr(eps) I`` (plane strain in 2D), solved on the
    SOLID cells only — a submesh (:func:`licoat.solver.submesh.restrict`) of ``anode`` (Li), ``coating``
    (resolved model), ``host`` and ``collector``. The electrolyte is a liquid: it carries only its pressure.
    G and nu are DG0 fields, one value per region. Boundary conditions:

    * ``bottom``: vertical displacement 0;
    * lateral sides ``left``/``right`` (and ``front``/``back`` in 3D): zero normal displacement (symmetry
      planes; with the two bottom/side conditions no rigid mode is left). ``lateral="pressure"`` keeps
      ``left``/``front`` as symmetry planes and loads ``right``/``back`` with the stack pressure instead
      (the quarter block of a body under all-round pressure);
    * every solid face that touches the liquid (``*_electrolyte``, ``coating_electrolyte``, a thin-model
      ``*_coating`` with no coating volume) and any solid part of ``top``: traction ``-p n`` with p the
      stack pressure — the separator / liquid transmits the stack pressure as a hydrostatic load.

    Solved non-dimensionally (moduli and load divided by the largest G; the displacement is unchanged)
    by CG with a P2 -> P1 p-multigrid (GAMG with the rigid-body near-nullspace on P1; 3D, large 2D)
    or MUMPS LU (small 2D) (:func:`solve_linear_elasticity`); a non-converged or non-finite solve
    raises ``RuntimeError``.

Interface potential (:func:`interface_potential`, :func:`mean_delta_mu`)
    On the facet group ``surface`` (``"<metal>_<upper>"``, e.g. ``anode_coating``, ``anode_electrolyte``)::

        z Δμ = (V_M − V_+)/2 (p_e + p_s) + (V_M + V_+)/2 (τ_e − τ_s) − (V_M + V_+)/2 γ κ
        p = −(σ_tt + σ_nn)/2,  τ = (σ_nn − σ_tt)/2,  σ_nn = n·σ·n

    in the interface frame (n the interface normal; the sign of n does not matter). In 2D σ_tt is the
    in-plane tangential normal stress (``tr σ − σ_nn``, plane-strain σ_zz excluded, as mechanics.md
    requires); in 3D σ_tt is the mean of the two tangential normal stresses, ``(tr σ − σ_nn)/2``. ``e`` is
    the metal below (Li; for a host/collector surface its own stress), ``s`` the solid above when it is a
    resolved coating (one-sided limits: each facet is integrated once from the owned cell on each side via
    custom integration entities, so no interior-facet integral and no ghost layer is needed on the
    submesh); on a surface that faces the liquid (bare, or thin-model coating
    whose mechanics is not resolved) ``p_s`` = the liquid pressure (default: the stack pressure) and
    ``τ_s = 0``. ``κ`` defaults to 0 (no surface-tension term); it can be given as a callable of the
    coordinates (numpy, shape (3, n), e.g. ``κ = −h'' = A k² cos kx`` for ``h = A cos kx``) or as a UFL
    expression on ``state.mesh`` (use ``state.x``), and is interpolated into P2 on the solid submesh.
    Positive Δμ raises the Li+ / Li electrochemical potential of the metal side: in Butler–Volmer
    ``η = φ_s − φ_l − Δμ/F`` (and ``i0 → i0 exp((1 − α_a) Δμ / RT)``), so a region with higher Δμ plates
    more; a curved peak (γκ > 0) has lower Δμ and plates less.

    :func:`interface_potential` returns a P1 Function on the PARENT mesh ``tm.mesh`` whose values at the
    surface vertices are the lumped L2 projection of Δμ over the surface facets
    (``Σ ∫ Δμ φ_i / Σ ∫ φ_i``) and zero at every other vertex; :func:`to_submesh` moves it onto a space of
    another submesh (e.g. the electrochemistry's ionic submesh); :func:`mechanical_potential_hook` gives
    the callables that ``SteadyCell(mechanical_potential=...)`` accepts.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

import dolfinx  # noqa: E402
import dolfinx.fem  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402
import dolfinx.la  # noqa: E402
import ufl  # noqa: E402

from licoat.meshes.common import TaggedMesh  # noqa: E402
from licoat.solver import elasticity as el  # noqa: E402
from licoat.solver.jit import JIT_OPTIONS  # noqa: E402
from licoat.solver.submesh import cell_imbalance, one_sided_entities, rebalance, restrict  # noqa: E402

__all__ = [
    "Solid",
    "ElasticState",
    "SOLID_REGIONS",
    "solve_elasticity",
    "interface_potential",
    "mean_delta_mu",
    "interface_stress_means",
    "delta_mu_expression",
    "to_submesh",
    "mechanical_potential_hook",
]

#: Volumes that are solids (the electrolyte is a liquid).
SOLID_REGIONS = ("anode", "coating", "host", "collector")

_MUMPS = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
    "ksp_error_if_not_converged": True,
}

#: Relative tolerance of the iterative elasticity solve, on the UNPRECONDITIONED residual (so that it
#: means the same for every preconditioner and mesh). 1e-8 is the tolerance of the P1 Poisson reference
#: of the benchmarks; measured on the 3D coated-anode benchmark (benchmarks/bench_elasticity.py) it gives
#: displacements within 3e-10 and the Monroe–Newman interface means (p, τ, Δμ) within 4e-10 relative of
#: MUMPS, far below the 1e-6 they need: 1e-6 of Δμ ≈ 10 J/mol (1 MPa stack pressure) shifts the
#: overpotential η → η − Δμ/F by 1e-10 V, below 1e-8 of RT/F.
ITERATIVE_RTOL = 1e-8

_CG = {"ksp_type": "cg", "ksp_rtol": ITERATIVE_RTOL, "ksp_atol": 0.0, "ksp_max_it": 1000,
       "ksp_norm_type": "unpreconditioned"}

#: P1 displacements: CG + smoothed-aggregation AMG (PETSc GAMG) with Chebyshev/Jacobi smoothing, as in
#: DOLFINx's ``demo_elasticity.py``; the rigid-body modes are given as the near-nullspace.
GAMG_OPTIONS = {
    **_CG,
    "pc_type": "gamg",
    "pc_gamg_type": "agg",
    "pc_gamg_agg_nsmooths": 1,
    "pc_gamg_coarse_eq_limit": 1000,
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
    "matptap_via": "scalable",
}

#: P2 (and higher) displacements: CG + a two-level p-multigrid. Fine level: the P2 operator (BAIJ,
#: block size d), two Chebyshev/Jacobi smoothing steps before and after; coarse level: the P1 operator
#: (equal to the Galerkin ``Pᵀ A P``, P the P1 -> P2 interpolation on the same mesh, but assembled on
#: P1: :func:`_p1_coarse_level`), factorised by MUMPS up to :data:`COARSE_DIRECT_MAX_DOFS` P1 DOFs, else
#: approximated by one GAMG V-cycle with the P1 rigid-body modes as near-nullspace and four Chebyshev
#: steps per AMG level (a P1 product costs ~1/12 of a P2 one, so stronger smoothing there is cheap).
#: Why (measured, 29 k and 114 k DOFs): GAMG applied to P2 directly coarsens P2's dense graph either to
#: one 35x coarser level (aggressive coarsening: 88-130 CG iterations) or to dense Galerkin operators
#: (without: setup 3-10x slower); the p-multigrid needs 43 / 29 iterations with a GAMG coarse level, 35 /
#: 21 with the factorised one (benchmarks/results/elasticity_preconditioners.json; point-block Jacobi
#: smoothing saves 2-4 more iterations but not time); BAIJ makes the fine product 3x faster than AIJ.
PMG_OPTIONS = {
    **_CG,
    "pc_type": "mg",
    "pc_mg_levels": 2,
    "pc_mg_type": "multiplicative",
    "pc_mg_galerkin": "none",  # the coarse operator is set explicitly (with its near-nullspace)
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_ksp_max_it": 2,
    "mg_levels_pc_type": "jacobi",
    "mg_levels_esteig_ksp_type": "cg",
    "mg_coarse_ksp_type": "preonly",
    "mg_coarse_pc_type": "gamg",
    "mg_coarse_pc_gamg_type": "agg",
    "mg_coarse_pc_gamg_agg_nsmooths": 1,
    "mg_coarse_pc_gamg_coarse_eq_limit": 1000,
    "mg_coarse_mg_levels_ksp_type": "chebyshev",
    "mg_coarse_mg_levels_ksp_max_it": 4,
    "mg_coarse_mg_levels_pc_type": "jacobi",
}

#: The p-multigrid's P1 level is factorised (MUMPS LU, an exact coarse solve) up to this many DOFs. At
#: 3.6 k P1 DOFs (the 29 k-DOF benchmark) it saves 8 of 43 CG iterations, 15-17 % (1 rank) / 5-12 %
#: (2 ranks) of the solve; at 15 k it saves 8 of 29 iterations and 17-20 % on 1 rank, but its parallel
#: factorisation costs as much set-up as that saves on 2 ranks, and a 3D factorisation's fill grows
#: faster than the work it saves.
COARSE_DIRECT_MAX_DOFS = 10_000
PMG_DIRECT_COARSE = {"mg_coarse_pc_type": "lu", "mg_coarse_pc_factor_mat_solver_type": "mumps"}

#: ``linear_solver="auto"``: a direct (MUMPS) solve for 2D problems up to this many DOFs, else CG + GAMG.
DIRECT_MAX_DOFS_2D = 200_000


def rigid_body_modes(V) -> PETSc.NullSpace:
    """Near-nullspace of linear elasticity on the vector space ``V``: d translations and d(d-1)/2
    rotations (3 in 2D, 6 in 3D), orthonormalised; coordinates are centred and scaled by the
    extent so the rotations are O(1) (cf. DOLFINx ``demo_elasticity.py``, ``build_nullspace``)."""
    d = V.mesh.geometry.dim
    imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    n_local = imap.size_local
    nmodes = 3 if d == 2 else 6
    basis = [dolfinx.la.vector(imap, bs=bs, dtype=PETSc.ScalarType) for _ in range(nmodes)]
    b = [v.array for v in basis]
    x = V.tabulate_dof_coordinates()[:, :d]  # one row per block (node)
    lo = x.min(axis=0) if len(x) else np.full(d, np.inf)
    hi = x.max(axis=0) if len(x) else np.full(d, -np.inf)
    V.mesh.comm.Allreduce(MPI.IN_PLACE, lo, op=MPI.MIN)
    V.mesh.comm.Allreduce(MPI.IN_PLACE, hi, op=MPI.MAX)
    x = (x - 0.5 * (lo + hi)) / max(float(np.max(hi - lo)), 1e-300)
    for i in range(d):
        b[i][i::bs] = 1.0
    if d == 2:
        b[2][0::bs], b[2][1::bs] = -x[:, 1], x[:, 0]
    else:
        b[3][0::bs], b[3][1::bs] = -x[:, 1], x[:, 0]
        b[4][0::bs], b[4][2::bs] = x[:, 2], -x[:, 0]
        b[5][2::bs], b[5][1::bs] = x[:, 1], -x[:, 2]
    dolfinx.la.orthonormalize(basis)
    vecs = [PETSc.Vec().createWithArray(v[: bs * n_local], bsize=bs, comm=V.mesh.comm) for v in b]
    return PETSc.NullSpace().create(vectors=vecs, comm=V.mesh.comm)


def elasticity_method(linear_solver: str, dim: int, dofs: int) -> str:
    """'direct' or 'iterative' for ``linear_solver`` in ('auto', 'direct', 'iterative')."""
    if linear_solver not in ("auto", "direct", "iterative"):
        raise ValueError(f"linear_solver = '{linear_solver}' must be 'auto', 'direct' or 'iterative'")
    if linear_solver != "auto":
        return linear_solver
    return "direct" if dim == 2 and dofs <= DIRECT_MAX_DOFS_2D else "iterative"


def _dirichlet_diagonal(A, rows) -> float:
    """Set the diagonal of the Dirichlet ``rows`` (local, owned) of the assembled ``A`` to the mean
    diagonal of the other rows and return that value: Jacobi/Chebyshev smoothing and AMG then see one
    spectrum (a diagonal of 1 would be off by G h^(d-2), ~1e-7 in 3D at 0.1 um)."""
    comm = A.getComm().tompi4py()
    diag = A.getDiagonal()
    dvals = diag.getArray()
    free = np.ones(dvals.size, bool)
    free[rows] = False
    total = comm.allreduce(float(np.abs(dvals[free]).sum()), op=MPI.SUM)
    scale = total / max(comm.allreduce(int(free.sum()), op=MPI.SUM), 1) or 1.0
    dvals[rows] = scale
    diag.setArray(dvals)
    A.setDiagonal(diag, addv=PETSc.InsertMode.INSERT_VALUES)
    diag.destroy()
    return scale


def _p1_coarse_level(a, V, rows, jit_options=None):
    """The coarse level of the p-multigrid: ``(P, A1)``. P interpolates the vector P1 space V1 on
    ``V``'s mesh into ``V`` (P2); A1 is ``a`` assembled on V1 (AIJ), with the P1 rigid-body modes as
    near-nullspace.

    A1 IS the Galerkin operator Pᵀ A P on the free dofs (V1 ⊂ V on the same mesh, and the integrand
    with DG0 moduli is integrated exactly in both), without a triple product of the large P2 matrix
    (which PETSc does not offer for BAIJ anyway). The P1 dofs whose vertex carries a Dirichlet row of
    A (``rows``: local owned indices in V) are left out of the coarse space: their column of P is
    zeroed (so the restricted residual and the correction vanish there) and their row of A1 is a
    scaled identity. Every other column of P is zero on the Dirichlet rows of A (a P2 dof on a
    constrained facet lies between constrained vertices), so nothing else changes.
    """
    d = V.mesh.geometry.dim
    V1 = dolfinx.fem.functionspace(V.mesh, ("Lagrange", 1, (d,)))
    P = dolfinx.fem.petsc.interpolation_matrix(V1, V)
    P.assemble()
    keep, on_bc = P.createVecs()  # (P1 layout, P2 layout)
    on_bc.set(0.0)
    on_bc.getArray()[rows] = 1.0
    P.multTranspose(on_bc, keep)  # >= 1 at a constrained vertex (its own P2 dof), 0 at the others
    k = keep.getArray()
    c_rows = np.flatnonzero(k > 0.75).astype(np.int32)
    k[:] = 1.0
    k[c_rows] = 0.0
    P.diagonalScale(R=keep)
    test, trial = a.arguments()
    a1 = ufl.replace(a, {test: ufl.TestFunction(V1), trial: ufl.TrialFunction(V1)})
    A1 = dolfinx.fem.petsc.assemble_matrix(dolfinx.fem.form(a1, jit_options=jit_options))
    A1.assemble()
    A1.zeroRowsColumnsLocal(c_rows, diag=1.0)
    _dirichlet_diagonal(A1, c_rows)
    A1.setOption(PETSc.Mat.Option.SPD, True)
    A1.setNearNullSpace(rigid_body_modes(V1))
    for v in (on_bc, keep):
        v.destroy()
    return P, A1


def solve_linear_elasticity(a, L, bcs, V, *, linear_solver="auto", prefix="licoat_elast", rtol=None,
                            jit_options=None):
    """Solve the linear elasticity system a(u, w) = L(w) on ``V``; returns (u, info dict).

    ``iterative``: CG to the relative unpreconditioned residual ``rtol`` (default
    :data:`ITERATIVE_RTOL`) preconditioned by a P2 -> P1 p-multigrid with GAMG on the P1 level
    (:data:`PMG_OPTIONS`, degree >= 2; the matrix is BAIJ with block size d) or by GAMG with
    :func:`rigid_body_modes` as near-nullspace (:data:`GAMG_OPTIONS`, P1); ``direct``: MUMPS LU.
    ``auto`` picks by :func:`elasticity_method`; an ``auto`` iterative solve that does not converge is
    repeated with MUMPS. Raises RuntimeError if the final solve does not converge or gives non-finite
    values. ``info``: method, preconditioner, dofs, assembly_s, linear_solve_s (= pc_setup_s + KSP
    solve; the p-multigrid's coarse operator is in pc_setup_s), krylov_iterations.
    """
    comm = V.mesh.comm
    dofs = V.dofmap.index_map.size_global * V.dofmap.index_map_bs
    method = elasticity_method(linear_solver, V.mesh.topology.dim, dofs)
    pmg = method == "iterative" and V.element.basix_element.degree >= 2
    t0 = time.perf_counter()
    a_form = dolfinx.fem.form(a, jit_options=jit_options)
    L_form = dolfinx.fem.form(L, jit_options=jit_options)
    # BAIJ for the p-multigrid: MatMult (most of the solve) 3x faster than AIJ for P2 vectors, and
    # block insertion assembles 1.4x faster (measured, 29 k DOFs); GAMG and MUMPS get AIJ
    A = dolfinx.fem.petsc.assemble_matrix(a_form, bcs=bcs, kind="baij" if pmg else None)
    A.assemble()
    rows = [bc.dof_indices() for bc in bcs]
    rows = np.unique(np.concatenate([r[:n] for r, n in rows])) if rows else np.zeros(0, np.int32)
    scale = _dirichlet_diagonal(A, rows)
    A.setOption(PETSc.Mat.Option.SPD, True)
    b = dolfinx.fem.petsc.assemble_vector(L_form)
    dolfinx.fem.petsc.apply_lifting(b, [a_form], bcs=[bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    dolfinx.fem.petsc.set_bc(b, bcs, alpha=scale)
    assembly_s = time.perf_counter() - t0
    uh = dolfinx.fem.Function(V)
    info = {"method": method, "dofs": dofs, "assembly_s": assembly_s, "krylov_iterations": 0,
            "pc_setup_s": 0.0, "linear_solve_s": 0.0}

    def run(opts, coarse_level=None):
        ksp = PETSc.KSP().create(comm)
        pfx = f"{prefix}_{uuid.uuid4().hex[:12]}_"
        ksp.setOptionsPrefix(pfx)
        opt = PETSc.Options()
        for k, v in opts.items():
            opt[pfx + k] = v
        t1 = time.perf_counter()
        ksp.setOperators(A)
        ksp.setFromOptions()
        mats = coarse_level() if coarse_level is not None else ()
        if mats:
            pc = ksp.getPC()
            pc.setMGInterpolation(1, mats[0])
            pc.getMGCoarseSolve().setOperators(mats[1])
        t2 = None
        try:
            ksp.setUp()
            t2 = time.perf_counter()
            ksp.solve(b, uh.x.petsc_vec)
            reason = ksp.getConvergedReason()
        except PETSc.Error as exc:
            reason = -abs(getattr(exc, "ierr", 1)) or -1
        uh.x.scatter_forward()
        its = ksp.getIterationNumber()
        for k in opts:
            opt.delValue(pfx + k)
        ksp.destroy()
        for m in mats:
            m.destroy()
        t3 = time.perf_counter()
        info["pc_setup_s"] += (t2 or t3) - t1
        info["linear_solve_s"] += t3 - t1
        return reason, its

    if method == "iterative":
        opts = dict(PMG_OPTIONS if pmg else GAMG_OPTIONS)
        if rtol is not None:
            opts["ksp_rtol"] = rtol
        if pmg:
            p1_dofs = V.mesh.topology.index_map(0).size_global * V.dofmap.index_map_bs
            direct_coarse = p1_dofs <= COARSE_DIRECT_MAX_DOFS
            if direct_coarse:
                opts = {k: v for k, v in opts.items() if not k.startswith(("mg_coarse_pc_", "mg_coarse_mg_"))}
                opts.update(PMG_DIRECT_COARSE)
            info["preconditioner"] = (f"p-multigrid P{V.element.basix_element.degree} -> P1 (Galerkin), "
                                      f"{'MUMPS' if direct_coarse else 'GAMG'} on P1")
            reason, its = run(opts, lambda: _p1_coarse_level(a, V, rows, jit_options))
        else:
            info["preconditioner"] = "GAMG"
            A.setNearNullSpace(rigid_body_modes(V))
            reason, its = run(opts)
        info["krylov_iterations"] = its
        if reason <= 0 and linear_solver == "auto":
            info["fallback"] = f"CG did not converge (KSP reason {reason}, {its} its); MUMPS used"
            method = info["method"] = "direct"
            if A.getType().endswith("baij"):
                A.convert("aij")  # in place: MUMPS is set up for AIJ here
    if method == "direct":
        info["preconditioner"] = "MUMPS LU"
        reason, _ = run(dict(_MUMPS, ksp_error_if_not_converged=False))
    A.destroy()
    b.destroy()
    if reason <= 0:
        raise RuntimeError(f"elasticity solve did not converge ({method}, KSP reason {reason})")
    ok = bool(np.all(np.isfinite(uh.x.array)))
    if not comm.allreduce(ok, op=MPI.LAND):
        raise RuntimeError("elasticity solve gave non-finite displacements")
    return uh, info


@dataclass(frozen=True)
class Solid:
    """An isotropic solid: shear modulus G [Pa], Poisson ratio nu [-], Li+ partial molar volume V_plus
    [m^3/mol] in that solid (unused for Li itself)."""

    G: float
    nu: float
    V_plus: float = 0.0

    def __post_init__(self):
        if not self.G > 0:
            raise ValueError(f"shear modulus G = {self.G!r} Pa must be positive")
        if not -1.0 < self.nu < 0.5:
            raise ValueError(f"Poisson ratio nu = {self.nu!r} must lie in (-1, 0.5)")


@dataclass
class ElasticState:
    """Solution of :func:`solve_elasticity` (all fields live on the solid submesh ``tm.mesh``)."""

    comm: MPI.Comm
    parent: TaggedMesh  # the full tagged mesh
    tm: TaggedMesh  # the solid submesh
    cell_map: object  # EntityMap sub -> parent cells; None when the solid mesh was repartitioned
    u: dolfinx.fem.Function  # displacement [m]
    G: dolfinx.fem.Function  # DG0 shear modulus [Pa]
    nu: dolfinx.fem.Function  # DG0 Poisson ratio
    regions: list[str]
    solids: dict
    stack_pressure: float
    liquid_pressure: float
    degree: int
    lateral: str
    solve_s: float = 0.0
    solver_info: dict = field(default_factory=dict)  # method, dofs, krylov_iterations, assembly_s, linear_solve_s
    _ind: dict = field(default_factory=dict, repr=False)

    @property
    def mesh(self):
        return self.tm.mesh

    @property
    def x(self):
        """SpatialCoordinate of the solid submesh (for UFL curvature expressions)."""
        return ufl.SpatialCoordinate(self.mesh)

    @property
    def dim(self) -> int:
        return self.mesh.topology.dim

    @property
    def sigma(self):
        """Cauchy stress [Pa] (UFL, plane strain in 2D)."""
        return el.sigma(self.u, self.G, self.nu)

    @property
    def dofs(self) -> int:
        V = self.u.function_space
        return V.dofmap.index_map.size_global * V.dofmap.index_map_bs

    def indicator(self, region: str) -> dolfinx.fem.Function:
        """DG0 field = 1 on the cells of ``region`` (ghosts included), 0 elsewhere."""
        if region not in self._ind:
            self._ind[region] = el.dg0_field(self.mesh, [self.tm.cells(region)], [1.0], name=f"is_{region}")
        return self._ind[region]

    def integrate(self, form) -> float:
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(form)), op=MPI.SUM)


# ----------------------------------------------------------------------------------------------------
# Elasticity
# ----------------------------------------------------------------------------------------------------
def _loaded_groups(tm: TaggedMesh, regions: list[str]) -> list[str]:
    """Facet groups of solid faces that touch the liquid (plus ``top``)."""
    out = []
    for name, (d, _) in tm.groups.items():
        if d != tm.dim - 1:
            continue
        lower, upper = tm.sides(name)
        if upper is not None and lower in regions and tm.role(upper) == "electrolyte":
            out.append(name)
    if "top" in tm.groups:
        out.append("top")
    return sorted(set(out))


#: the solid submesh keeps the partition of the full mesh; when one rank owns more than this times the mean
#: number of its cells, it is repartitioned on its own (``submesh.rebalance``): a coated Li anode on 2 ranks had
#: 2.7-3x on one rank, and the elasticity solve gained little from the second
REBALANCE_ABOVE = 1.2


def solve_elasticity(
    comm,
    tm: TaggedMesh,
    solids: dict[str, Solid],
    stack_pressure: float,
    *,
    liquid_pressure: float | None = None,
    degree: int = 2,
    lateral: str = "symmetry",
    linear_solver: str = "auto",
    rtol: float | None = None,
) -> ElasticState:
    """Linear elasticity on the solid cells of ``tm`` under a stack pressure transmitted by the liquid.

    ``solids`` maps each solid volume present in ``tm`` (``anode``, resolved ``coating``, ``host``,
    ``collector``) to its :class:`Solid`. ``stack_pressure`` [Pa] (compressive positive) is applied as
    the traction ``-p n`` on every solid face that touches the liquid and on solid parts of ``top``.
    ``liquid_pressure`` [Pa] is the liquid's pressure used as p_s on bare surfaces in Δμ (default: the
    stack pressure). ``lateral``: ``"symmetry"`` (zero normal displacement on all lateral faces,
    i.e. laterally constrained) or ``"pressure"`` (``left``/``front`` symmetry, ``right``/``back`` loaded
    by the stack pressure). ``linear_solver``: "auto" (MUMPS for 2D up to :data:`DIRECT_MAX_DOFS_2D`
    DOFs, else CG with the p-multigrid / GAMG preconditioner of :func:`solve_linear_elasticity`),
    "direct" or "iterative"; ``rtol`` the CG tolerance on the unpreconditioned residual (default
    :data:`ITERATIVE_RTOL` = 1e-8). See the module docstring for the model.
    """
    t0 = time.perf_counter()
    if lateral not in ("symmetry", "pressure"):
        raise ValueError(f"lateral = '{lateral}' must be 'symmetry' or 'pressure'")
    # solids: metals and every resolved coating layer (from the mesh topology)
    solid_names = [r for r in SOLID_REGIONS if r != "coating"] + tm.coating_layers()
    regions = [r for r in solid_names if r in tm.groups and tm.groups[r][0] == tm.dim and tm.has(r)]
    if not regions:
        raise ValueError(f"mesh has no solid volume (one of {SOLID_REGIONS}); has {sorted(tm.groups)}")
    missing = [r for r in regions if r not in solids]
    if missing:
        raise KeyError(f"no Solid given for the solid volume(s) {missing} (given: {sorted(solids)})")
    sub, cell_map = restrict(tm, regions)
    if comm.size > 1 and cell_imbalance(sub) > REBALANCE_ABOVE:
        sub, cell_map = rebalance(sub), None  # the solid's own partition (see REBALANCE_ABOVE)
    msh = sub.mesh
    d = msh.topology.dim
    fdim = d - 1
    msh.topology.create_connectivity(fdim, d)

    G_ref = max(solids[r].G for r in regions)
    V0 = el.dg0_space(msh)
    cell_sets = [sub.cells(r) for r in regions]
    G = el.dg0_field(msh, cell_sets, [solids[r].G for r in regions], name="shear_modulus", space=V0)
    nu = el.dg0_field(msh, cell_sets, [solids[r].nu for r in regions], name="poisson_ratio", space=V0)
    G_hat = el.dg0_field(msh, cell_sets, [solids[r].G / G_ref for r in regions], name="G_hat", space=V0)
    # every solid cell must carry a material
    n_cells = msh.topology.index_map(d).size_local
    covered = np.zeros(msh.topology.index_map(d).size_local + msh.topology.index_map(d).num_ghosts, bool)
    for c in cell_sets:
        covered[c] = True
    if comm.allreduce(int(np.count_nonzero(~covered[:n_cells])), op=MPI.SUM):
        raise RuntimeError("some solid cells carry no region tag")

    V = dolfinx.fem.functionspace(msh, ("Lagrange", degree, (d,)))
    zero = PETSc.ScalarType(0)

    def count(name):
        return comm.allreduce(int(sub.facets(name).size), op=MPI.SUM) if name in sub.groups else 0

    bcs = []
    bottom = sub.facets("bottom")
    if count("bottom") == 0:
        raise ValueError("no solid facet on 'bottom': the vertical rigid mode cannot be removed")
    bcs.append(
        dolfinx.fem.dirichletbc(zero, dolfinx.fem.locate_dofs_topological(V.sub(d - 1), fdim, bottom), V.sub(d - 1))
    )
    pairs = [("left", "right", 0)] + ([("front", "back", 1)] if d == 3 else [])
    loaded_sides = []
    for lo, hi, axis in pairs:
        if count(lo) == 0:
            raise ValueError(f"no solid facet on '{lo}': the rigid mode along axis {axis} cannot be removed")
        names = [lo] if lateral == "pressure" else [lo, hi]
        if lateral == "pressure":
            loaded_sides.append(hi)
        for nm in names:
            facets = sub.facets(nm)
            dofs = dolfinx.fem.locate_dofs_topological(V.sub(axis), fdim, facets)
            bcs.append(dolfinx.fem.dirichletbc(zero, dofs, V.sub(axis)))

    loaded = _loaded_groups(sub, regions) + loaded_sides
    tags = [sub.tag(n) for n in loaded if n in sub.groups]
    all_cells = np.concatenate(cell_sets).astype(np.int32)
    ents = one_sided_entities(sub, np.unique(all_cells), tags)
    # all loaded facets are exterior to the solid: exactly one solid cell, counted once by its owner
    ds = ufl.Measure("ds", domain=msh, subdomain_data=[(1, ents)])
    has_load = comm.allreduce(int(ents.size), op=MPI.SUM) > 0
    u, w = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = ufl.inner(el.sigma(u, G_hat, nu), el.epsilon(w)) * ufl.dx
    p_hat = dolfinx.fem.Constant(msh, PETSc.ScalarType(stack_pressure / G_ref))
    nrm = ufl.FacetNormal(msh)
    if has_load:
        L = ufl.inner(-p_hat * nrm, w) * ds(1)
    else:
        L = ufl.inner(dolfinx.fem.Constant(msh, np.zeros(d, dtype=PETSc.ScalarType)), w) * ufl.dx
    uh, info = solve_linear_elasticity(a, L, bcs, V, linear_solver=linear_solver, prefix="licoat_mech", rtol=rtol,
                                       jit_options=JIT_OPTIONS)
    uh.name = "displacement"
    lp = float(stack_pressure if liquid_pressure is None else liquid_pressure)
    return ElasticState(
        comm=comm, parent=tm, tm=sub, cell_map=cell_map, u=uh, G=G, nu=nu, regions=regions, solids=dict(solids),
        stack_pressure=float(stack_pressure), liquid_pressure=lp, degree=degree, lateral=lateral,
        solve_s=time.perf_counter() - t0, solver_info=info,
    )


# ----------------------------------------------------------------------------------------------------
# Interface stresses and Δμ
# ----------------------------------------------------------------------------------------------------
def _frame(s, n, d):
    """(p, tau, snn, stt) of a stress tensor in the interface frame (see module docstring)."""
    snn = ufl.dot(n, ufl.dot(s, n))
    tr = ufl.tr(s)
    stt = tr - snn if d == 2 else (tr - snn) / 2.0
    return -(stt + snn) / 2.0, (snn - stt) / 2.0, snn, stt


def _split(surface: str, state: ElasticState) -> tuple[str, str | None]:
    e, s = state.parent.sides(surface) if surface in state.parent.groups else (None, None)
    if s is None:
        raise KeyError(f"'{surface}' is not an interface facet group of the mesh (has {sorted(state.parent.groups)})")
    if e not in state.regions:
        raise ValueError(f"surface '{surface}': '{e}' is not a solid volume of the mesh")
    return e, (s if s in state.regions else None)


def _curvature(state: ElasticState, curvature):
    if curvature is None:
        return None
    P2 = dolfinx.fem.functionspace(state.mesh, ("Lagrange", 2))
    k = dolfinx.fem.Function(P2, name="curvature")
    if isinstance(curvature, (int, float)):
        k.x.array[:] = float(curvature)
    elif isinstance(curvature, ufl.core.expr.Expr):
        k.interpolate(dolfinx.fem.Expression(curvature, P2.element.interpolation_points))
    elif callable(curvature):
        k.interpolate(curvature)
    else:
        raise TypeError("curvature must be None, a number, a UFL expression on state.mesh or a callable(x)")
    k.x.scatter_forward()
    return k


def delta_mu_expression(state: ElasticState, surface: str, *, V_M: float, V_plus: float, gamma: float = 0.0,
                        curvature=None, z: int = 1, parts: bool = False):
    """Δμ on ``surface`` split into one-sided pieces: ``[(expr, measure), ...]`` with
    ``∫_S Δμ = Σ ∫ expr measure`` (Δμ is linear in p_e, p_s, τ_e, τ_s, κ).

    The first piece is integrated from the metal (``e``) cells and holds the e-side terms, the surface
    term and, on a surface facing the liquid, the liquid terms (p_s = liquid pressure, τ_s = 0); the second
    piece (resolved solid above only) is integrated from the solid's cells and holds the s-side terms.
    Each facet is integrated once, from the owned cell on that side (custom exterior-facet integration
    entities; see :func:`_one_sided_entities`), so the stresses are one-sided limits whichever way the
    facet is oriented. The measure of the first piece also gives the surface area.
    With ``parts=True`` each expression is a dict with the pieces of p_e, p_s, tau_e, tau_s, snn_e, stt_e,
    snn_s, stt_s (Pa; their sums over pieces are surface integrals) and delta_mu (J/mol).
    """
    e, s = _split(surface, state)
    d = state.dim
    sub = state.tm
    if surface not in sub.groups:
        raise KeyError(f"surface '{surface}' is not on the solid submesh")
    tag = sub.tag(surface)
    msh = state.mesh
    ents = [(1, one_sided_entities(sub, sub.cells(e), [tag]))]
    if s is not None:
        ents.append((2, one_sided_entities(sub, sub.cells(s), [tag])))
    meas = ufl.Measure("ds", domain=msh, subdomain_data=ents, metadata={"quadrature_degree": 2 * state.degree + 2})
    sig = state.sigma
    n = ufl.FacetNormal(msh)
    kap = _curvature(state, curvature)
    a_p = (V_M - V_plus) / (2.0 * z)
    a_t = (V_M + V_plus) / (2.0 * z)
    zero = dolfinx.fem.Constant(msh, PETSc.ScalarType(0.0))
    p, tau, snn, stt = _frame(sig, n, d)
    surf_term = -a_t * gamma * kap if (kap is not None and gamma) else zero
    if s is None:  # metal | liquid
        p_l = dolfinx.fem.Constant(msh, PETSc.ScalarType(state.liquid_pressure))
        expr_e = a_p * (p + p_l) + a_t * tau + surf_term
        parts_e = dict(p_e=p, p_s=p_l, tau_e=tau, tau_s=zero, snn_e=snn, stt_e=stt, snn_s=-p_l, stt_s=-p_l,
                       delta_mu=expr_e)
        pieces = [(parts_e if parts else expr_e, meas(1))]
    else:  # metal | resolved solid
        expr_e = a_p * p + a_t * tau + surf_term
        expr_s = a_p * p - a_t * tau
        parts_e = dict(p_e=p, p_s=zero, tau_e=tau, tau_s=zero, snn_e=snn, stt_e=stt, snn_s=zero, stt_s=zero,
                       delta_mu=expr_e)
        parts_s = dict(p_e=zero, p_s=p, tau_e=zero, tau_s=tau, snn_e=zero, stt_e=zero, snn_s=snn, stt_s=stt,
                       delta_mu=expr_s)
        pieces = [(parts_e if parts else expr_e, meas(1)), (parts_s if parts else expr_s, meas(2))]
    return pieces


def _area(state: ElasticState, pieces, surface: str) -> float:
    one = dolfinx.fem.Constant(state.mesh, PETSc.ScalarType(1.0))
    area = state.integrate(one * pieces[0][1])
    if not area > 0:
        raise ValueError(f"surface '{surface}' has zero area on the solid submesh")
    return area


def interface_stress_means(state: ElasticState, surface: str, *, V_M: float = 0.0, V_plus: float = 0.0,
                           gamma: float = 0.0, curvature=None) -> dict:
    """Area averages over ``surface`` of p_e, p_s, tau_e, tau_s, snn_e, stt_e, snn_s, stt_s [Pa], the area
    and (with V_M, V_plus) delta_mu [J/mol]."""
    pieces = delta_mu_expression(state, surface, V_M=V_M, V_plus=V_plus, gamma=gamma, curvature=curvature,
                                 parts=True)
    area = _area(state, pieces, surface)
    keys = pieces[0][0].keys()
    out = {k: sum(state.integrate(pc[k] * m) for pc, m in pieces) / area for k in keys}
    out["area"] = area
    return out


def mean_delta_mu(state: ElasticState, surface: str, *, V_M: float, V_plus: float, gamma: float = 0.0,
                  curvature=None, z: int = 1) -> float:
    """Area-averaged Δμ [J/mol] over ``surface`` (exact integral of the FE stresses, not the projection)."""
    pieces = delta_mu_expression(state, surface, V_M=V_M, V_plus=V_plus, gamma=gamma, curvature=curvature, z=z)
    area = _area(state, pieces, surface)
    return state.integrate(sum(expr * m for expr, m in pieces)) / area


def interface_potential(state: ElasticState, surface: str, *, V_M: float, V_plus: float, gamma: float = 0.0,
                        curvature=None, z: int = 1) -> dolfinx.fem.Function:
    """Δμ [J/mol] on ``surface`` as a P1 Function on the PARENT mesh ``state.parent.mesh``.

    Values at the surface vertices are the lumped L2 projection of Δμ over the surface facets
    (``∫_S Δμ φ_i ds / ∫_S φ_i ds``), zero at all other vertices. See the module docstring for the
    formula, frame and sign convention.
    """
    pieces = delta_mu_expression(state, surface, V_M=V_M, V_plus=V_plus, gamma=gamma, curvature=curvature, z=z)
    msh = state.mesh
    P1 = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
    v = ufl.TestFunction(P1)
    b_form = sum(expr * v * m for expr, m in pieces)
    m_form = v * pieces[0][1]
    b = dolfinx.fem.assemble_vector(dolfinx.fem.form(b_form))
    mvec = dolfinx.fem.assemble_vector(dolfinx.fem.form(m_form))
    for vec in (b, mvec):
        vec.scatter_reverse(dolfinx.la.InsertMode.add)
        vec.scatter_forward()
    g = dolfinx.fem.Function(P1, name=f"delta_mu_{surface}")
    mask = mvec.array > 0
    g.x.array[:] = 0.0
    g.x.array[mask] = b.array[mask] / mvec.array[mask]
    g.x.scatter_forward()
    return _sub_to_parent(state, g)


def _sub_to_parent(state: ElasticState, g: dolfinx.fem.Function) -> dolfinx.fem.Function:
    """P1 on the solid submesh -> P1 on the parent (values at shared vertices; zero elsewhere).

    Each local (owned or ghost) submesh cell is matched to its parent cell and the cell's P1 dofs are paired
    by coordinates; the owners of the parent dofs get their values through ``_owners_average``.
    """
    parent = state.parent.mesh
    d = parent.topology.dim
    Vp = dolfinx.fem.functionspace(parent, ("Lagrange", 1))
    if state.cell_map is None:
        return _repartitioned_to_parent(state, g, Vp)
    Vs = g.function_space
    imap = state.mesh.topology.index_map(d)
    sub_cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    par_cells = state.cell_map.sub_topology_to_topology(sub_cells, inverse=False)
    if sub_cells.size:
        sd = Vs.dofmap.list[sub_cells]  # (nc, k)
        pd = Vp.dofmap.list[par_cells]
        xs = Vs.tabulate_dof_coordinates()[sd]  # (nc, k, 3)
        xp = Vp.tabulate_dof_coordinates()[pd]
        dist = np.linalg.norm(xs[:, :, None, :] - xp[:, None, :, :], axis=-1)  # (nc, k_s, k_p)
        j = np.argmin(dist, axis=2)
        rows = np.arange(sd.shape[0])[:, None]
        scale = np.max(np.abs(xp)) if xp.size else 1.0
        if np.max(dist[rows, np.arange(sd.shape[1])[None, :], j]) > 1e-9 * max(scale, 1e-300):
            raise RuntimeError("submesh and parent cell vertices do not match")
        pdofs = pd[rows, j].ravel()
        vals = g.x.array[sd].ravel()
        pdofs, first = np.unique(pdofs, return_index=True)
        return _owners_average(Vp, pdofs, vals[first], g.name)
    return _owners_average(Vp, np.zeros(0, np.int32), np.zeros(0), g.name)


def _owners_average(Vp, dofs: np.ndarray, values: np.ndarray, name: str) -> dolfinx.fem.Function:
    """A P1 Function on the parent with ``values`` at the local ``dofs`` (owned or ghost): every rank that sees
    a dof adds (value, 1) and a reverse scatter averages them on the owner (all contributions are equal), so
    owners that see none of the source cells are served too; zero at dofs nobody sets."""
    acc = dolfinx.la.vector(Vp.dofmap.index_map, Vp.dofmap.index_map_bs)
    cnt = dolfinx.la.vector(Vp.dofmap.index_map, Vp.dofmap.index_map_bs)
    acc.array[:] = 0.0
    cnt.array[:] = 0.0
    acc.array[dofs] = values
    cnt.array[dofs] = 1.0
    for vec in (acc, cnt):
        vec.scatter_reverse(dolfinx.la.InsertMode.add)
    f = dolfinx.fem.Function(Vp, name=name)
    n_own = Vp.dofmap.index_map.size_local
    c = cnt.array[:n_own]
    f.x.array[:] = 0.0
    f.x.array[:n_own] = np.where(c > 0, acc.array[:n_own] / np.maximum(c, 1.0), 0.0)
    f.x.scatter_forward()
    return f


def _point_padding(mesh) -> float:
    """Search tolerance for locating points in ``mesh`` (1e-10 of its extent): a vertex on a cell's
    boundary is found whichever side rounding puts it."""
    x = mesh.geometry.x
    extent = mesh.comm.allreduce(float(np.ptp(x, axis=0).max()) if x.size else 0.0, op=MPI.MAX)
    return 1e-10 * extent


def _repartitioned_to_parent(state: ElasticState, g: dolfinx.fem.Function, Vp) -> dolfinx.fem.Function:
    """P1 on a repartitioned solid mesh -> P1 on the parent: the parent's solid cells take the values at their
    vertices by point evaluation across ranks (exact for P1 at shared vertices); a dof owned by a rank on
    which none of its solid cells lives gets the value of a rank that has one (``_owners_average``); zero
    elsewhere."""
    parent = state.parent
    d = parent.mesh.topology.dim
    n_own_cells = parent.mesh.topology.index_map(d).size_local
    cells = parent.cells(*state.regions)
    cells = cells[cells < n_own_cells]
    h = dolfinx.fem.Function(Vp)
    data = dolfinx.fem.create_interpolation_data(Vp, g.function_space, cells, padding=_point_padding(parent.mesh))
    h.interpolate_nonmatching(g, cells, data)
    dofs = np.unique(Vp.dofmap.list[cells].ravel()) if cells.size else np.zeros(0, np.int32)
    return _owners_average(Vp, dofs, h.x.array[dofs], g.name)


# ----------------------------------------------------------------------------------------------------
# Transfer to another submesh (the electrochemistry's ionic submesh)
# ----------------------------------------------------------------------------------------------------
def to_submesh(f_parent: dolfinx.fem.Function, V_sub) -> dolfinx.fem.Function:
    """Interpolate a parent-mesh P1 function into ``V_sub`` (a Lagrange space on a submesh of the same
    parent), i.e. take its values at the shared vertices (and the P1 interpolant at higher-order nodes).

    Parallel-safe: uses ``interpolate_nonmatching`` with ``create_interpolation_data`` (points of V_sub are
    located in the parent mesh across ranks).
    """
    msh = V_sub.mesh
    d = msh.topology.dim
    imap = msh.topology.index_map(d)
    cells = np.arange(imap.size_local, dtype=np.int32)
    data = dolfinx.fem.create_interpolation_data(V_sub, f_parent.function_space, cells,
                                                 padding=_point_padding(f_parent.function_space.mesh))
    out = dolfinx.fem.Function(V_sub, name=f_parent.name)
    out.interpolate_nonmatching(f_parent, cells, data)
    out.x.scatter_forward()
    return out


def mechanical_potential_hook(dmu: dict[str, dolfinx.fem.Function]) -> dict:
    """``{surface: callable(cell)}`` for ``SteadyCell(mechanical_potential=...)``: each callable moves the
    parent-mesh Δμ onto the cell's ionic submesh (its P1 space ``cell.P1``)."""

    def make(f):
        return lambda cell: to_submesh(f, cell.P1)

    return {name: make(f) for name, f in dmu.items()}
