"""One run: case -> mesh -> problem -> solve -> results directory.

Results are written into ``<out>.partial`` and moved to ``<out>`` only when everything
succeeded, so a failed or invalid run leaves no half-written results behind.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import tomli_w

import licoat
from licoat.case import Case, resolved_dict
from licoat.failure import atomic_write
from licoat.materials import load_material

log = logging.getLogger("licoat")


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def setup_logging(comm, logfile: Path | None = None, verbose: bool = True) -> list[logging.Handler]:
    """Console and file logging on rank 0 only; other ranks stay silent."""
    log.setLevel(logging.DEBUG if os.environ.get("LICOAT_DEBUG") else logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    handlers: list[logging.Handler] = []
    if comm.rank == 0:
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
        if verbose:
            import sys

            if sys.stderr.isatty():  # colour and aligned columns for people, plain text for pipes
                from rich.logging import RichHandler

                console = RichHandler(show_path=False, log_time_format="%H:%M:%S")
                console.setFormatter(logging.Formatter("%(message)s"))
            else:
                console = logging.StreamHandler()
                console.setFormatter(fmt)
            handlers.append(console)
        if logfile is not None:
            handlers.append(logging.FileHandler(logfile, mode="w"))
            handlers[-1].setFormatter(fmt)
        for h in handlers:
            log.addHandler(h)
    else:
        log.addHandler(logging.NullHandler())
    return handlers


class Staging:
    """A results directory that appears only on success (rank 0 does the file-system moves)."""

    def __init__(self, comm, out: Path):
        self.comm, self.out = comm, Path(out)
        self.tmp = self.out.with_name(self.out.name + ".partial")
        err = None
        if comm.rank == 0:
            try:
                if self.tmp.exists():
                    shutil.rmtree(self.tmp)
                (self.tmp / "fields").mkdir(parents=True)
            except OSError as exc:
                err = f"cannot create the output directory {self.tmp}: {exc.strerror or exc}"
        err = comm.bcast(err, root=0)
        if err is not None:  # every rank: one line, exit 1
            from licoat.failure import OutputError

            raise OutputError(err)

    def commit(self):
        self.comm.barrier()
        if self.comm.rank == 0:
            if self.out.exists():
                shutil.rmtree(self.out)
            self.tmp.rename(self.out)
        self.comm.barrier()

    def discard(self):
        self.comm.barrier()
        if self.comm.rank == 0 and self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.comm.barrier()


@contextlib.contextmanager
def staged(comm, out: Path, verbose: bool = True):
    """A results directory with a rank-0 log that appears only if the block succeeds."""
    stage = Staging(comm, Path(out))
    handlers = setup_logging(comm, stage.tmp / "licoat.log", verbose)
    try:
        yield stage
    except BaseException as exc:
        for h in handlers:
            h.close()
        # no collective here: the other ranks may be anywhere. <out>.partial stays with FAILED
        # (invalid input: removed); licoat.failure.finish ends the job
        from licoat.failure import mark_failed

        mark_failed(stage.tmp, exc, comm.rank)
        raise
    for h in handlers:
        h.close()
    stage.commit()


class RunResult(dict):
    """The result of one solve: the mapping is exactly what summary.json holds; ``cell`` is the solved
    problem (for the field output) and ``series`` the transient time series (timeseries.csv)."""

    def __init__(self, summary: dict, cell=None, series=None):
        super().__init__(summary)
        self.cell, self.series = cell, series


def physics_warnings(case: Case, coating, electrolyte, metrics: dict) -> list[str]:
    warnings = []
    # the film carries the plating current per unit of *surface* (not footprint) area
    i = abs(metrics["plating"]["current_density_mean_A_m2"])
    if coating is not None and coating.ionic_conductivity > 0 and case.coating.defects is None:  # dense film
        drop = i * coating.area_specific_resistance
        if drop > 1.0:
            warnings.append(
                f"coating {coating.name} ({coating.thickness:.3g} m at {coating.ionic_conductivity:.3g} S/m) has an "
                f"area-specific resistance of {coating.area_specific_resistance:.3g} Ohm m^2: carrying "
                f"{i:.3g} A/m^2 needs {drop:.3g} V across the film (> 1 V). A dense continuous film cannot carry "
                "this current; Li+ must pass through defects, grain boundaries or lithiated paths."
            )
    if metrics.get("concentration_min_mol_m3", 1.0) <= 0.0:
        warnings.append(
            "salt concentration reached zero in the electrolyte: the applied current exceeds the transport-limited "
            "(limiting) current, and the steady state is not physical"
        )
    return warnings


def run_case(comm, case: Case, out: Path, case_path: str | None = None, verbose: bool = True,
             restart: Path | None = None) -> dict:
    """Run a validated case, write the results directory and return the summary dict.
    ``restart``: a run directory with a checkpoint (transient runs, solver/checkpoint.py)."""
    from licoat import setup

    if case.study.kind == "stability":
        from licoat.studies import run_stability

        return run_stability(comm, case, out, case_path, verbose)

    out = Path(out)
    ckpt = None
    if restart is not None:  # read before staging: the checkpoint may live in <out>.partial
        from licoat.solver import checkpoint

        ckpt = checkpoint.load(comm, Path(restart), case)
    with staged(comm, out, verbose) as stage:
        log.info("licoat %s on %d rank(s): case %s", licoat.__version__, comm.size, case_path or "<dict>")
        t0 = time.perf_counter()
        mesh_timing = {}
        tm, hit = setup.mesh(comm, case, timing=mesh_timing)
        mesh_s = time.perf_counter() - t0
        log.info("mesh: %s %dD, %d cells (%.2f s%s)", case.geometry.kind, tm.dim,
                 tm.mesh.topology.index_map(tm.dim).size_global, mesh_s, ", from cache" if hit else "")
        from licoat.solver.sanity import check_ranks

        check_ranks(comm, tm)  # every rank needs cells (exit 2)
        summary = solve_steady(comm, case, tm, fields_dir=stage.tmp / "fields", restart=ckpt,
                               checkpoint_dir=stage.tmp / "checkpoint", progress_bar=verbose)
        summary["timing"]["mesh_s"] = mesh_s
        summary["timing"]["mesh_io_s"] = mesh_timing.get("mesh_io_s", 0.0)
        summary["mesh_from_cache"] = hit
        summary["timing"]["peak_rss_MiB"] = _peak_rss_mib(comm)
        t1 = time.perf_counter()
        write_outputs(comm, case, stage.tmp, summary, case_path)
        summary["timing"]["output_s"] = time.perf_counter() - t1
        _write_json(comm, stage.tmp / "summary.json", summary)
        log.info("cell voltage %.6g V, plating cv %.4g, results in %s", summary["cell_voltage_V"],
                 summary["plating"]["cv"], out)
        for w in summary["warnings"]:
            log.warning(w)
    return summary


@dataclass
class CellInputs:
    """What the glue makes of a case for the electrochemical problem (SI objects), and a factory for it."""

    comm: object
    case: Case
    tm: object
    electrolyte: object
    coating: object
    kinetics: object
    counter_kinetics: object
    operation: object
    options: object
    footprint: float

    @classmethod
    def of(cls, comm, case: Case, tm) -> "CellInputs":
        from licoat import setup
        from licoat.solver.electrochemistry import SolverOptions

        s = case.solver
        # auto: MUMPS LU in 2D, GMRES + field split with algebraic multigrid in 3D
        linear = s.linear_solver if s.linear_solver != "auto" else ("iterative" if tm.dim == 3 else "direct")
        opts = SolverOptions(rtol=s.rtol, atol=s.atol, max_iterations=s.max_iterations, linear_solver=linear,
                             petsc_options=dict(s.petsc_options), reuse_jacobian=s.reuse_jacobian,
                             extrapolate=s.extrapolate)
        g = case.geometry
        coat = setup.coating(case)
        return cls(comm, case, tm, setup.electrolyte(case), coat, setup.kinetics(case, bare=coat is None),
                   setup.kinetics(case, bare=True), setup.operation(case), opts,
                   g.width if g.dim == 2 else g.width * (g.depth or g.width))

    def cell(self, coating="case", **kw):
        """The case's cell problem (``coating`` replaces the case's coating, e.g. for a reference run)."""
        from licoat import setup
        from licoat.solver.electrochemistry import SteadyCell

        coat = self.coating if coating == "case" else coating
        kin = self.kinetics if coating == "case" else setup.kinetics(self.case, bare=coat is None)
        kw.setdefault("metal_conductivity", setup.metal_conductivity(self.case, self.tm))
        return SteadyCell(self.comm, self.tm, self.electrolyte, kin, self.operation, coating=coat,
                          counter_kinetics=self.counter_kinetics, options=self.options, footprint_area=self.footprint,
                          length_scale=self.case.geometry.electrolyte_thickness,
                          surface_kinetics=setup.surface_kinetics(self.case, self.tm), **kw)


def solve_steady(comm, case: Case, tm, fields_dir: Path | None = None, restart: dict | None = None,
                 checkpoint_dir: Path | None = None, progress_bar: bool = False) -> RunResult:
    """Solve the case on ``tm`` (steady, or transient when a duration/capacity is given; transient
    runs write their field time series into ``fields_dir`` and, with ``[output] checkpoint_every``,
    checkpoints into ``checkpoint_dir``; ``restart`` is a loaded checkpoint). Returns the RunResult."""
    from licoat import protocol, setup
    from licoat.solver import sanity
    from licoat.solver.defect_metrics import check_film

    t0 = time.perf_counter()
    inputs = CellInputs.of(comm, case, tm)
    prot = protocol.steps(case)  # [[operation.step]] or the single-step [operation]; None: steady
    duration = sum(st.duration for st in prot) if prot else None
    transient = duration is not None
    sanity.check_limiting_current(case, transient)  # no steady state at or above the transport limit
    if not transient and (restart is not None or case.output.checkpoint_every is not None):
        raise ValueError("output.checkpoint_every and --restart need a transient run (operation.duration or "
                         "operation.capacity)")
    mechanical, mech_summary = mechanical_coupling(comm, case, tm)
    if mechanical is not None:  # the same case without the stress coupling, to report what it changes
        mech_summary["plating_without_coupling"] = inputs.cell().solve().metrics()["plating"]
    moving = transient and bool(getattr(case.operation, "moving_interface", False))
    cell = inputs.cell(transient=transient, mechanical_potential=mechanical,
                       surface_models=setup.surface_models(case, tm) if transient else None,
                       moving_interface=moving, coating_membrane=coating_membrane(case, tm, inputs) if moving else None)
    coat, op = inputs.coating, inputs.operation
    # a dense film that cannot carry the current: exit 2 (or warnings with coating.allow_impossible_film)
    check_film(case, coat, inputs.electrolyte.conductivity.at(inputs.electrolyte.concentration),
               op.current_density * cell.footprint / cell.area_S if op.current_density else 0.0)
    setup_s = time.perf_counter() - t0
    log.info("problem: %s, coating %s%s", ", ".join(cell.surfaces), "none" if coat is None else f"{coat.name} ({coat.model})",
             f", transient over {duration:.4g} s" if transient else ", steady")
    history = None
    if transient:
        history = run_transient(comm, case, cell, prot, duration, fields_dir, restart, checkpoint_dir, progress_bar)
    else:
        cell.solve()
    m = sanity.check_state(cell, case, coating=coat, transient=transient)  # physical state, else SolverError
    summary = summary_of(comm, case, inputs, cell, m, setup_s, history)
    add_physics_blocks(summary, inputs, cell, m, mech_summary, transient)
    add_warnings(summary, case, inputs, history)
    # transient runs with a fields directory have written their time series already
    return RunResult(summary, cell=None if (transient and fields_dir is not None) else cell,
                     series=history["series"] if history else None)


def coating_membrane(case: Case, tm, inputs: CellInputs):
    """The resolved coating layers as a membrane on a moving interface (solver/moving_mesh.py), or None."""
    coat = inputs.coating
    if coat is None or not coat.resolved_layers or not tm.coating_layers():
        return None
    from licoat import setup
    from licoat.solver.moving_mesh import CoatingMembrane
    from licoat.solver.surface_state import LI_MOLAR_VOLUME

    solids = setup.solids(case, tm)
    layers = tuple((layer.thickness, 2 * solids[v].G * (1 + solids[v].nu), solids[v].nu)
                   for v, layer in zip(tm.coating_layers(), coat.resolved_layers) if v in solids)
    extra = case.anode.model_extra or {}
    return CoatingMembrane(layers, molar_volume=extra.get("molar_volume", LI_MOLAR_VOLUME),
                           li_partial_molar_volume=solids[tm.coating_layers()[0]].V_plus,
                           coupled=case.mechanics.enabled and case.mechanics.stress_coupling == "monroe-newman")


def run_transient(comm, case: Case, cell, prot, duration, fields_dir, restart, checkpoint_dir,
                  progress_bar: bool = False) -> dict:
    """March the cell through the protocol: field time series, deposit statistics, checkpoints.
    Returns {"series", "depletion", "deposit"}."""
    from licoat import protocol
    from licoat.solver.deposit_metrics import DepositMetrics
    from licoat.solver.surface_state import of as surface_state
    from licoat.solver.transient import TransientOptions, integrate

    g = case.geometry
    history = surface_state(cell)  # q, delta, theta on the plating surfaces (solver/surface_state.py)
    deposit = DepositMetrics(cell, g.kind, g.host_thickness)
    writer, fields, dep_fields, write_fields = None, None, None, None
    if fields_dir is not None and case.output.fields:  # a field time series for ParaView
        from dolfinx.io import VTXWriter

        fields = cell.fields()
        dep_fields = history.output_fields()
        writer = VTXWriter(comm, str(fields_dir / "solution.bp"), list(fields.values()) + list(dep_fields.values()),
                           engine="BP4")
        writer.mesh = cell.mesh

        def write_fields(t):
            nonlocal writer, fields, dep_fields
            if writer.mesh is not cell.mesh:  # remeshed (solver/remesh.py): a new file from here on
                writer.close()
                fields, dep_fields = cell.fields(), history.output_fields()
                writer = VTXWriter(comm, str(fields_dir / f"solution_{moving_of(cell).remeshes}.bp"),
                                   list(fields.values()) + list(dep_fields.values()), engine="BP4")
                writer.mesh = cell.mesh
            cell.fields(fields)
            history.output_fields(dep_fields)
            writer.write(t)

    progress = protocol.Progress(comm, duration, cell.footprint, enabled=progress_bar)

    def on_step(t, record):
        record.update(deposit.step())  # deposit statistics per step (timeseries.csv)
        if write_fields is not None:
            write_fields(t)
        progress.update(t, record)

    start, saver = checkpointing(case, cell, restart, checkpoint_dir)  # the protocol position is in the loop state
    ref = case.operation.current_density if case.operation.mode == "galvanostatic" else case.operation.voltage

    def step_options(step_duration, t_end):
        return TransientOptions(duration=t_end, dt_initial=min(1e-2, step_duration / 100), dt_max=step_duration / 20,
                                dt_min=min(1e-9, step_duration * 1e-7),  # the step floor scales with a short run
                                extrapolate=case.solver.extrapolate)

    try:
        with progress:
            res = protocol.run(cell, prot, ref, integrate, step_options, on_step=on_step, log=log, start=start,
                               checkpoint=saver)
    finally:
        if writer is not None:
            writer.close()
    if moving_of(cell) is not None:
        moving_of(cell).reconcile(cell)  # the last state on the moved mesh (solver/moving_mesh.py)
    if fields is not None:  # the final plating distribution, for pictures (plating.png)
        from licoat.plots import write_plating_surface

        write_plating_surface(comm, cell, cell.fields(fields if writer.mesh is cell.mesh else None),
                              fields_dir / "plating_surface.npz")
    cell.solve_s = res.solve_s
    pictures = deposit_pictures(comm, case, cell, fields_dir, res.series[-1]["time_s"] if res.series else 0.0)
    summary = deposit.summary(res.series)
    if moving_of(cell) is not None:  # remeshes; a resolved coating's stretch and stress
        summary.update(moving_of(cell).coating_summary(cell))
    return {"series": res.series, "depletion": res.depletion_time_s, "deposit": summary,
            "stop_reason": res.stop_reason, "pictures": pictures}


def moving_of(cell):
    """The cell's MovingInterface component, or None."""
    return next((c for c in cell.components if type(c).__name__ == "MovingInterface"), None)


def deposit_pictures(comm, case: Case, cell, fields_dir, t: float) -> list[str]:
    """``deposit_thickness.png``: the deposit thickness over the plating surface at the end of a transient run
    (licoat/plots.py; with [output] fields, where pyvista is installed). Returns the names written."""
    from licoat.solver.surface_state import of as surface_state

    state = surface_state(cell)
    if fields_dir is None or not case.output.fields or state is None:
        return []
    from licoat.plots import write_deposit_picture

    name = write_deposit_picture(comm, cell, state.output_fields()["deposit_thickness"], Path(fields_dir).parent,
                                 title=f"deposit thickness at t = {t:.4g} s")
    return [name] if name else []


def checkpointing(case: Case, cell, restart, checkpoint_dir):
    """(start state from ``restart`` or None, checkpoint writer or None) — solver/checkpoint.py."""
    start, saver = None, None
    if restart is None and case.output.checkpoint_every is None:
        return start, saver
    from licoat.solver import checkpoint

    if restart is not None:
        start = checkpoint.restore(cell, restart)
        log.info("restart from %s at t = %.6g s, step %d (written on %d rank(s))", restart["path"],
                 start["t"], start["steps"], restart["ranks"])
    if case.output.checkpoint_every is not None and checkpoint_dir is not None:
        saver = checkpoint.Checkpointer(cell, case, checkpoint_dir, case.output.checkpoint_every, log)
        if start is not None:
            saver.start_after(start)
    return start, saver


def summary_of(comm, case: Case, inputs: CellInputs, cell, m: dict, setup_s: float, history: dict | None) -> dict:
    """The summary.json keys every run has (and the transient ones)."""
    from mpi4py import MPI

    coat = inputs.coating
    applied = case.operation.current_density
    if applied is not None and history is not None:  # the current of the last protocol step
        applied = applied * float(cell.load.value)
    holding = getattr(cell.control, "holding", False)  # a Cycler's voltage hold (solver/components.py)
    if applied is None or case.operation.mode == "potentiostatic" or holding:  # the current the voltage drew
        applied = m["plating"]["current_density_mean_A_m2"] * m["plating"]["area_m2"] / inputs.footprint
    summary = {
        "version": licoat.__version__,
        "ranks": comm.size,
        "dofs": m["dofs"],
        "cell_voltage_V": m["cell_voltage_V"],
        "applied_current_density_A_m2": applied,
        "plating": m["plating"],
        "overpotentials_V": m["overpotentials_V"],
        "surface_concentration_mean_mol_m3": m["surface_concentration_mean_mol_m3"],
        "concentration_min_mol_m3": m["concentration_min_mol_m3"],
        "coating_model": coat.model if coat else None,
        "coating_layers": [{"material": layer.name, "thickness_m": layer.thickness, "model": layer.model, "ohmic_V": drop}
                           for layer, drop in zip(coat.thin_layers + coat.resolved_layers, m["coating_layer_drops_V"])]
        if coat else [],
        "timing": {
            "mesh_s": 0.0,
            "mesh_io_s": 0.0,
            "setup_s": setup_s,
            "solve_s": cell.solve_s,
            "output_s": 0.0,
            "newton_iterations": m["newton_iterations"],
            "linear_iterations": m["linear_iterations"],
            "jacobians": m["jacobians"],  # Jacobian assemblies (a Jacobian serves several Newton iterations)
            # summed over Newton steps, max over ranks (PETSc log events)
            "assembly_s": comm.allreduce(cell.assembly_s, op=MPI.MAX),
            "linear_solve_s": comm.allreduce(cell.linear_solve_s, op=MPI.MAX),
        },
    }
    if history is not None:
        series = history["series"]
        summary["duration_s"] = series[-1]["time_s"] if series else 0.0
        summary["depletion_time_s"] = history["depletion"]
        summary["time_steps"] = len(series)
        summary["deposit"] = history["deposit"]  # plating history (solver/deposit_metrics.py)
        summary["pictures"] = history.get("pictures", [])  # e.g. deposit_thickness.png (licoat/plots.py)
    return summary


def add_physics_blocks(summary: dict, inputs: CellInputs, cell, m: dict, mech_summary, transient: bool):
    """The blocks that depend on the physics present: mechanics, host profile, coating defects."""
    from licoat import setup
    from licoat.solver.defect_metrics import defects_block

    case, tm = inputs.case, inputs.tm
    if mech_summary is not None:
        summary["overpotentials_V"]["mechanical"] = mech_summary["delta_mu_mean_J_per_mol"] / 96485.33212
        if "plating_without_coupling" in mech_summary:
            p0, p1 = mech_summary["plating_without_coupling"], m["plating"]
            mech_summary["cv_change"] = p1["cv"] - p0["cv"]
            mech_summary["max_over_mean_change"] = p1["max_over_mean"] - p0["max_over_mean"]
        summary["mechanics"] = mech_summary
    if "host" in tm.groups or "collector" in tm.groups:
        from licoat.solver.host_metrics import host_uniformity

        summary["host"] = host_uniformity(cell, host_thickness=case.geometry.host_thickness)
    if case.coating.defects is not None:  # current focusing at pinholes / cracks (solver/defect_metrics.py)
        def reference(c):  # the same cell with another coating (the film replaced by electrolyte)
            return inputs.cell(coating=c, metal_conductivity=None)

        summary["defects"] = defects_block(case, cell, inputs.electrolyte, inputs.coating,
                                           summary["applied_current_density_A_m2"], setup.surface_kinetics(case, tm),
                                           None if transient else reference)


def add_warnings(summary: dict, case: Case, inputs: CellInputs, history: dict | None):
    summary["warnings"] = physics_warnings(case, inputs.coating, inputs.electrolyte, summary)
    if history is None:
        return
    deposit_block = history["deposit"]
    if "hydraulic_diameter_m" in deposit_block:  # the fixed-surface deposit model's limit
        d_h, d_max = deposit_block["hydraulic_diameter_m"], deposit_block["thickness_mean_m"] * (
            deposit_block["thickness_max_over_mean"] or 0.0)
        if d_max > 0.25 * d_h:
            summary["warnings"].append(
                f"the deposit reaches {d_max:.3g} m, more than a quarter of the host's hydraulic pore diameter "
                f"{d_h:.3g} m (4 x pore volume / surface): the deposit is tracked on the fixed host surface, and the "
                "pores it narrows are not resolved beyond this point")
    if history.get("stop_reason"):  # e.g. the moving mesh reached its quality limit: the results so far
        summary["warnings"].append(history["stop_reason"])
    if history["depletion"] is not None:
        summary["warnings"].append(
            f"the surface salt concentration reached zero at t = {history['depletion']:.4g} s (depletion, Sand's "
            "time): the run ended there; beyond it plating is transport-limited and dendritic growth is expected"
        )


def mechanical_coupling(comm, case: Case, tm):
    """Elastic stress in the solids and the Monroe–Newman interface potential on the Li surfaces.

    Returns (hook for SteadyCell or None, summary dict or None)."""
    mech = case.mechanics
    if not mech.enabled:
        return None, None
    from licoat import setup
    from licoat.solver import mechanics as mm

    t0 = time.perf_counter()
    state = mm.solve_elasticity(comm, tm, setup.solids(case, tm), mech.stack_pressure)
    li = load_material(case.anode.material)
    extra = case.anode.model_extra or {}
    V_M = extra.get("molar_volume", li.value("molar_volume"))
    gamma = extra.get("surface_tension", li.value("surface_tension"))
    coat = setup.coating(case)
    if coat is not None and coat.model == "resolved":
        v_plus = setup.solids(case, tm)["coating"].V_plus
    elif coat is not None:  # thin film: Li+ comes from the film, whose stress is not modelled
        v_plus = load_material(case.coating.layer_sections()[0].material).get("li_partial_molar_volume", 0.0) or 0.0
    else:
        v_plus = mech.electrolyte_partial_molar_volume
    curvature = setup.interface_curvature(case)
    from licoat.solver.electrochemistry import plating_surfaces

    # every plating surface: Li on Li (anode) or Li on a host/collector (the metal's own stress)
    surfaces = [s for s in plating_surfaces(tm) if tm.has(s)]
    dmu, means, areas = {}, {}, {}
    for s in surfaces:
        kw = dict(V_M=V_M, V_plus=v_plus, gamma=gamma, curvature=curvature)
        dmu[s] = mm.interface_potential(state, s, **kw)
        means[s] = mm.mean_delta_mu(state, s, **kw)
    mean = sum(means.values()) / max(len(means), 1)
    summary = {"stack_pressure_Pa": mech.stack_pressure, "stress_coupling": mech.stress_coupling,
               "delta_mu_mean_J_per_mol": mean, "li_partial_molar_volume_above_m3_mol": v_plus,
               "elasticity_dofs": state.dofs, "elasticity_s": time.perf_counter() - t0}
    log.info("mechanics: stack pressure %.3g Pa, mean interface dmu/F = %.4g mV", mech.stack_pressure, mean / 96.48533212)
    hook = mm.mechanical_potential_hook(dmu) if mech.stress_coupling == "monroe-newman" else None
    return hook, summary


def write_outputs(comm, case: Case, directory: Path, summary: dict, case_path: str | None):
    cell = getattr(summary, "cell", None)
    series = getattr(summary, "series", None)
    if series and comm.rank == 0:
        import csv
        import io

        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=list(series[0]))
        w.writeheader()
        w.writerows(series)
        atomic_write(directory / "timeseries.csv", buf.getvalue())
    if cell is not None and case.output.fields:
        from dolfinx.io import VTXWriter

        fields = cell.fields()
        with VTXWriter(comm, str(directory / "fields" / "solution.bp"), list(fields.values()), engine="BP4") as vtx:
            vtx.write(0.0)
        from licoat.plots import write_plating_surface  # plating facets + i_n for pictures (plating.png)

        write_plating_surface(comm, cell, fields, directory / "fields" / "plating_surface.npz")
    if comm.rank == 0:
        resolved = resolved_dict(case)
        resolved["licoat"] = {"version": licoat.__version__, "git_revision": git_revision(),
                              "case_file": str(case_path) if case_path else "", "units": "SI"}
        atomic_write(directory / "case.toml",
                     "# Fully resolved licoat case: every value in SI units, defaults filled in.\n" + tomli_w.dumps(resolved))


def _peak_rss_mib(comm) -> float:
    """Largest peak resident set size of any rank so far, MiB (getrusage; KiB on Linux). Collective."""
    import resource

    from mpi4py import MPI

    return comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, op=MPI.MAX)


def _write_json(comm, path: Path, data: dict):
    if comm.rank == 0:  # temporary name, then rename: a reader never sees a partial file
        atomic_write(path, json.dumps(data, indent=2, default=float) + "\n")
