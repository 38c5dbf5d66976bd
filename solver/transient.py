"""Transient transport: variable-step BDF2 in time with adaptive steps and cut-back on failure.

The salt balance gains ∂c/∂t (SteadyCell(..., transient=True)); charge conservation stays
quasi-static (electroneutrality). Each step is a Newton solve of the coupled system. Step
control: a step whose Newton solve fails is retried with half the step (from the saved state);
accepted steps grow by at most ``growth`` and are limited so that the minimum surface
concentration falls by at most ``max_surface_drop``·c0 per step, which resolves the approach
to depletion (Sand's time) without a user-tuned schedule.

Depletion: the first time the surface concentration reaches zero anywhere. Near it the
concentration falls like c0 (1 - sqrt(t/t_s)); once c_min < ``depletion_fraction``·c0 the run
extrapolates c_min(t) linearly to zero from the last two accepted steps and stops there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from mpi4py import MPI

from licoat.solver.electrochemistry import SolverError, SteadyCell


@dataclass
class TransientOptions:
    duration: float  # s
    dt_initial: float = 1e-2  # s
    dt_max: float | None = None  # s (default duration / 20)
    dt_min: float = 1e-9  # s
    growth: float = 1.5
    max_surface_drop: float = 0.05  # of c0 per step
    depletion_fraction: float = 0.01  # extrapolate to zero below this c/c0
    stop_at_depletion: bool = True
    max_steps: int = 20_000  # accepted steps (bounded work: issue 13)
    max_rejected: int = 2_000  # rejected (cut-back) steps
    extrapolate: bool = False  # Newton starts from the unknowns extrapolated from the last two steps (predict)
    # a run that ends on a quantity rather than a time (a voltage hold ending on its charge): called after each
    # accepted step, returns the estimated time left (<= 0: done); the next step is not longer than that
    time_left: object = None


@dataclass
class TransientResult:
    series: list[dict] = field(default_factory=list)
    depletion_time_s: float | None = None
    stop_reason: str | None = None  # a component ended the run early (e.g. the moving mesh's quality)
    steps: int = 0
    rejected_steps: int = 0
    solve_s: float = 0.0


def surface_concentration_min(cell: SteadyCell) -> float:
    """Minimum nodal salt concentration [mol/m^3] on the electrolyte side of the plating surfaces."""
    owned = getattr(cell, "_surface_c_dofs", None)
    if owned is None:  # located once per problem
        from dolfinx import fem

        names = cell.electrolyte_surfaces
        V = cell.c_hat.function_space
        dofs = fem.locate_dofs_topological(V, cell.dim - 1, cell.tm.facets(*names))
        owned = cell._surface_c_dofs = dofs[dofs < V.dofmap.index_map.size_local]
    local = float(cell.c_hat.x.array[owned].min()) if owned.size else np.inf
    return cell.comm.allreduce(local, op=MPI.MIN) * cell.c0


def predict(cell: SteadyCell, history: list, ratio: float):
    """Initial guess of a step's Newton solve: every unknown extrapolated linearly in time from the
    last two accepted levels, u* = u_n + r (u_n - u_{n-1}), r = dt/dt_prev. Its error is O(dt^2 u'')
    instead of O(dt u') for the previous level, so Newton starts closer (fewer iterations); the
    solution is the same (the residual decides). The concentration (c/c0) is kept above half its
    last value so that the guess never crosses zero near depletion."""
    for u, prev, last in zip(cell.unknowns, *history):
        guess = last + ratio * (last - prev)
        if u is cell.c_hat:
            guess = np.maximum(guess, 0.5 * last)
        u.x.array[:] = guess


def integrate(cell: SteadyCell, opts: TransientOptions, on_step=None, log=None, start: dict | None = None,
              checkpoint=None) -> TransientResult:
    """March ``cell`` (built with transient=True) from c = c0 over ``opts.duration``.

    Restart (solver/checkpoint.py): ``start`` is the loop state of a checkpoint whose fields are
    already in ``cell``; ``checkpoint(loop_state)`` is called after every accepted step."""
    if not cell.transient:
        raise ValueError("integrate() needs SteadyCell(..., transient=True)")
    t_start = time.perf_counter()
    problem = cell.build()
    if start is None:
        cell.initial_guess()
        cell.c_n.x.array[:] = 1.0
        cell.c_nm1.x.array[:] = 1.0
    res = TransientResult()
    dt_max = opts.dt_max or opts.duration / 20
    t, dt, dt_prev = 0.0, min(opts.dt_initial, dt_max), None
    prev = None  # (t, c_min) of the previous accepted step
    cell.predictor_levels = []  # (mesh, unknowns) at the last two accepted steps (see predict)
    # --- restart (issue 13): continue from a checkpoint's loop state --------------------------
    if start is not None:
        t, dt, dt_prev, prev = start["t"], start["dt"], start["dt_prev"], start["prev"]
        res.steps, res.rejected_steps = start["steps"], start["rejected_steps"]
        res.series, res.depletion_time_s = list(start["series"]), start["depletion_time_s"]
    # ------------------------------------------------------------------------------------------
    while t < opts.duration * (1 - 1e-12):
        dt = min(dt, opts.duration - t)
        saved = cell.state()
        cell.set_time_step(dt, dt_prev)
        cell.time.value = t + dt
        levels = cell.predictor_levels
        if opts.extrapolate and len(levels) == 2 and all(h[0] is cell.mesh for h in levels):  # not across a remesh
            predict(cell, [h[1] for h in levels], dt / dt_prev)
        ok, reason = cell.newton(problem)
        c_min = surface_concentration_min(cell) if ok else -np.inf
        if not ok or c_min < -1e-6 * cell.c0:
            # cut back: retry the step with half the size from the saved state
            cell.restore(saved)
            res.rejected_steps += 1
            if prev is not None and c_min != -np.inf and c_min < 0 and prev[1] > 0:
                # the step crossed depletion: locate it by linear interpolation in time
                res.depletion_time_s = prev[0] + dt * prev[1] / (prev[1] - c_min)
            dt /= 2
            if res.rejected_steps > opts.max_rejected:
                raise SolverError(
                    f"transient run gave up after {res.rejected_steps} rejected steps (t = {t:.6g} s of "
                    f"operation.duration = {opts.duration:.6g} s): {reason or 'negative concentration'}")
            if dt < opts.dt_min:
                worst = cell.worst_field()
                raise SolverError(
                    f"transient Newton solve failed at t = {t:.6g} s (step {res.steps + 1}); step cut to "
                    f"{dt:.3g} s < dt_min = {opts.dt_min:.3g} s: {reason or 'negative concentration'}; "
                    f"largest residual in field '{worst}'"
                )
            if res.depletion_time_s is not None and opts.stop_at_depletion:
                break
            continue
        # accept
        t += dt
        res.steps += 1
        if res.steps > opts.max_steps:
            raise SolverError(
                f"transient run needs more than {opts.max_steps} time steps (t = {t:.6g} s of operation.duration = "
                f"{opts.duration:.6g} s, dt = {dt:.3g} s): shorten operation.duration or lower the current")
        cell.accept_time_step()
        cell.predictor_levels = (cell.predictor_levels + [(cell.mesh, [u.x.array.copy() for u in cell.unknowns])])[-2:]
        stop = next((c.stop_reason for c in getattr(cell, "components", []) if getattr(c, "stop_reason", None)), None)
        record = {"time_s": t, "dt_s": dt, "surface_concentration_min_mol_m3": c_min}
        record.update(cell.plating_series())
        res.series.append(record)
        if on_step is not None:
            on_step(t, record)
        if log is not None:
            log.info("t = %.4g s (dt %.3g s): V = %.5g V, c_surface,min = %.4g mol/m3, cv = %.3g",
                     t, dt, record["cell_voltage_V"], c_min, record["cv"])
        if stop is not None:  # results so far are kept
            res.stop_reason = stop
            break
        if c_min < opts.depletion_fraction * cell.c0 and prev is not None:
            slope = (c_min - prev[1]) / (t - prev[0])
            if slope < 0:
                res.depletion_time_s = t + c_min / -slope
                if opts.stop_at_depletion:
                    break
        # next step size: growth limit and surface-concentration change limit
        drop = (prev[1] - c_min) if prev is not None else (cell.c0 - c_min)
        limit = opts.max_surface_drop * cell.c0 / drop * dt if drop > 0 else np.inf
        prev = (t, c_min)
        dt_prev = dt
        dt = min(dt * opts.growth, limit, dt_max, cell.step_limit(dt_prev))  # components' limits (surface state)
        left = opts.time_left() if opts.time_left is not None else np.inf
        if left > 0:
            dt = min(dt, max(left, opts.dt_min))
        if checkpoint is not None:  # restartable loop state after this accepted step (issue 13)
            checkpoint(dict(t=t, dt=dt, dt_prev=dt_prev, prev=prev, steps=res.steps, rejected_steps=res.rejected_steps,
                            series=res.series, depletion_time_s=res.depletion_time_s))
        if left <= 0:  # the quantity that ends this run is reached
            break
    res.solve_s = time.perf_counter() - t_start
    return res
