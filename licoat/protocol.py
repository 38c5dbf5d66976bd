"""Operating protocols: ``[[operation.step]]`` tables run in order (issue 9).

A step is a current (``current_density``, plating positive, stripping negative, for a ``duration`` or a
``capacity``), a voltage (``voltage`` for a ``duration``) or a ``rest`` (zero current, for its duration).
The single-step ``[operation]`` (``current_density`` or ``voltage`` with ``duration`` or ``capacity``) is the
one-step protocol. One problem serves the whole protocol: the control is galvanostatic when any step is a
current or a rest, and every step scales the applied current (or voltage) through the load constant
(load = value / reference, the reference being the step of largest magnitude); a protocol cannot mix
current and voltage steps (a voltage step holds the electrode potential, whose unknown a galvanostatic
problem does not fix). Each step starts with BDF1 and a small time step (the load jumps).

Stripping: the Li inventory of the working electrode per footprint area is ``anode_thickness`` F / V_M for a
Li anode (planar, sinusoid, bump) and zero for a host or a foil; a protocol whose cumulative charge
(plated minus stripped) goes below minus the inventory is invalid input (exit 2 naming the step).
"""

from __future__ import annotations

from dataclasses import dataclass

from licoat.constants import FARADAY

LI_MOLAR_VOLUME = 1.30e-5  # m^3/mol


@dataclass(frozen=True)
class ProtocolStep:
    key: str  # the case key path, for messages: "operation.step[2]" or "operation"
    kind: str  # "current" | "voltage" | "rest"
    value: float  # A/m^2 (plating positive) or V; 0 for a rest
    duration: float  # s
    by: str = "duration"  # the key that set the duration: "duration" | "capacity" | "rest"


def reference_control(op) -> tuple[str, float | None, float | None]:
    """(mode, reference current density, reference voltage) of a stepped [operation] (a pydantic Operation)."""
    currents = [s.current_density for s in op.step if s.current_density is not None]
    voltages = [s.voltage for s in op.step if s.voltage is not None]
    rests = [s for s in op.step if s.rest is not None]
    if not op.step:
        raise ValueError("operation.step: an empty protocol (give at least one [[operation.step]])")
    if op.duration is not None or op.capacity is not None:
        raise ValueError("operation.duration / operation.capacity: give the durations in the [[operation.step]] tables, "
                         "not both")
    if voltages and (currents or rests):
        raise ValueError("operation.step: a protocol cannot mix voltage steps with current or rest steps "
                         "(use current steps and rests, or voltage steps only)")
    if currents:
        return "galvanostatic", max(currents, key=abs), None
    if voltages:
        v = max(voltages, key=abs)
        if v == 0:
            raise ValueError("operation.step: every voltage step is 0 V; give a non-zero voltage")
        return "potentiostatic", None, v
    raise ValueError("operation.step: only rests; give at least one current_density step")


def steps(case) -> list[ProtocolStep] | None:
    """The protocol in SI (None for a steady run: a single [operation] without duration or capacity)."""
    o = case.operation
    if o.step is None:
        if o.duration is None and o.capacity is None:
            return None
        if o.mode == "galvanostatic":
            dur = o.duration if o.duration is not None else o.capacity / abs(o.current_density)
            return [ProtocolStep("operation", "current", o.current_density, dur,
                                 "duration" if o.duration is not None else "capacity")]
        if o.capacity is not None:
            raise ValueError("operation.capacity needs operation.mode = 'galvanostatic' (use operation.duration)")
        return [ProtocolStep("operation", "voltage", o.voltage, o.duration)]
    out = []
    for k, s in enumerate(o.step):
        key = f"operation.step[{k}]"
        if s.rest is not None:
            out.append(ProtocolStep(key, "rest", 0.0, s.rest, "rest"))
        elif s.current_density is not None:
            dur = s.duration if s.duration is not None else s.capacity / abs(s.current_density)
            out.append(ProtocolStep(key, "current", s.current_density, dur,
                                    "duration" if s.duration is not None else "capacity"))
        else:
            out.append(ProtocolStep(key, "voltage", s.voltage, s.duration))
    return out


def li_inventory(case) -> float:
    """Li the working electrode holds before the run [C per m^2 of footprint]."""
    from licoat.materials import load_material

    g = case.geometry
    if g.kind in ("planar", "sinusoid", "bump") and load_material(case.anode.material).name == "Li":
        return g.anode_thickness * FARADAY / LI_MOLAR_VOLUME
    return 0.0


def check_protocol(case) -> None:
    """Stripping beyond the Li the electrode holds is invalid input: CaseError naming the step's key."""
    from licoat.case import CaseError

    try:
        prot = steps(case)
    except ValueError as exc:
        raise CaseError(f"invalid case:\n  {exc}") from None
    if getattr(case.operation, "moving_interface", False):
        g = case.geometry
        if g.kind not in ("planar", "sinusoid", "bump"):
            raise CaseError(f"invalid case:\n  operation.moving_interface = true: only for anode geometries (planar, "
                            f"sinusoid, bump), not geometry.kind = '{g.kind}' (in hosts the deposit is tracked on the "
                            "fixed host surface: leave moving_interface = false)")
        from licoat.setup import coating_model

        if coating_model(case) not in (None, "thin"):
            raise CaseError("invalid case:\n  operation.moving_interface = true: a resolved coating layer does not move "
                            "with the interface yet; use coating.model = 'thin' or a bare anode")
        if not prot:
            raise CaseError("invalid case:\n  operation.moving_interface = true: needs a transient run "
                            "(operation.duration or operation.capacity, or [[operation.step]])")
    if not prot:
        return
    inventory = li_inventory(case)
    held = inventory
    for s in prot:
        if s.kind != "current":
            continue
        held += s.value * s.duration
        if held < -1e-9 * max(inventory, 1.0):
            raise CaseError(
                f"invalid case:\n  {s.key}.{s.by}: strips {-s.value * s.duration / 3.6e4:.4g} mAh/cm^2 where the electrode "
                f"holds {(held - s.value * s.duration) / 3.6e4:.4g} mAh/cm^2 of Li at that point (initial inventory "
                f"{inventory / 3.6e4:.4g} mAh/cm^2: geometry.anode_thickness of a Li anode, nothing on a host or foil); "
                "strip at most what the electrode holds")


def run(cell, prot: list[ProtocolStep], reference: float, integrate, options, on_step=None, log=None,
        start=None, checkpoint=None):
    """Integrate ``cell`` through the protocol. ``options(duration_of_step, t_end)`` makes the step's
    TransientOptions (t_end: absolute end time). Returns the last TransientResult (series over the whole run)."""
    t0 = 0.0
    res = None
    loop = start
    for k, s in enumerate(prot):
        t_end = t0 + s.duration
        if loop is not None and loop["t"] >= t_end * (1 - 1e-12):  # restart past this step
            t0 = t_end
            continue
        cell.scale_load(s.value / reference if reference else 0.0)

        def step_on(t, record, _k=k):
            record["protocol_step"] = _k
            if on_step is not None:
                on_step(t, record)
        if log is not None and len(prot) > 1:
            log.info("protocol step %d/%d (%s): %s for %.4g s", k + 1, len(prot), s.key, _describe(s), s.duration)
        opts = options(s.duration, t_end)
        res = integrate(cell, opts, on_step=step_on, log=log, start=loop, checkpoint=checkpoint)
        if res.depletion_time_s is not None and opts.stop_at_depletion:
            break
        t = res.series[-1]["time_s"] if res.series else t_end
        loop = dict(t=t, dt=min(opts.dt_initial, (prot[k + 1].duration if k + 1 < len(prot) else 1.0) / 100),
                    dt_prev=None, prev=None, steps=res.steps, rejected_steps=res.rejected_steps,
                    series=res.series, depletion_time_s=None)
        t0 = t_end
    return res


def _describe(s: ProtocolStep) -> str:
    if s.kind == "rest":
        return "rest"
    if s.kind == "current":
        return f"{s.value / 10:.4g} mA/cm^2"
    return f"{s.value:.4g} V"


class Progress:
    """A rich progress bar on rank 0 for transient runs on a terminal: simulated time, plated capacity and
    step size (nothing when stderr is not a terminal, or on other ranks)."""

    def __init__(self, comm, duration: float, footprint: float):
        import sys

        self.duration, self.footprint = duration, footprint
        self.bar = None
        if comm.rank == 0 and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

            self.bar = RichProgress(TextColumn("[bold]transient"), BarColumn(), TextColumn("{task.description}"),
                                    TimeElapsedColumn(), transient=True)
            self.task = self.bar.add_task("", total=duration)

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False

    def update(self, t: float, record: dict):
        if self.bar is None:
            return
        cap = record.get("plated_capacity_C_m2")
        text = f"t = {t:.4g} / {self.duration:.4g} s, dt = {record.get('dt_s', 0):.3g} s"
        if cap is not None:
            text += f", plated {cap / 3.6e4:.4g} mAh/cm^2"
        self.bar.update(self.task, completed=t, description=text)
