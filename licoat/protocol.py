"""Operating protocols: ``[[operation.step]]`` tables run in order (issue 9).

A step is a current (``current_density``, plating positive, stripping negative, for a ``duration`` or a
``capacity``), a voltage hold (``voltage`` for a ``duration``; a ``capacity`` ends it as soon as that charge
has passed) or a ``rest`` (zero current, for its duration). The single-step ``[operation]``
(``current_density`` or ``voltage`` with ``duration`` or ``capacity``) is the one-step protocol.

One problem serves the whole protocol, so every field, the BDF history and the surface state (plated
charge, coverage, conversion) carry over from step to step:

* current steps and rests only: galvanostatic control; each step scales the applied current through the
  load constant (load = value / reference, the reference being the current of largest magnitude);
* voltage steps only: potentiostatic control, scaled the same way;
* voltage steps mixed with current steps or rests: a :class:`~licoat.solver.components.Cycler` control
  (a battery cycler's constant current / constant voltage), whose electrode potential is the galvanostatic
  unknown in current steps and is held in voltage steps.

Each step starts with BDF1 and a small time step (the load jumps). A restart from a checkpoint resumes in
the step it was written in, at that step's start time and the charge it had passed (``loop["protocol"]``).

Stripping: the Li inventory of the working electrode per footprint area is ``anode_thickness`` F / V_M for a
Li anode (planar, sinusoid, bump) and zero for a host or a foil; a protocol whose cumulative charge
(plated minus stripped) in its current steps goes below minus the inventory is invalid input (exit 2 naming
the step). The charge of a voltage hold is not known before the run.
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
    capacity: float | None = None  # C/m^2 of footprint: the charge that ends a voltage hold before its duration


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
    if voltages and (currents or rests):  # a cycler: the current steps' reference (0 with rests only)
        return "galvanostatic", max(currents, key=abs) if currents else 0.0, max(voltages, key=abs)
    if currents:
        return "galvanostatic", max(currents, key=abs), None
    if voltages:
        v = max(voltages, key=abs)
        if v == 0:
            raise ValueError("operation.step: every voltage step is 0 V; give a non-zero voltage")
        return "potentiostatic", None, v
    raise ValueError("operation.step: only rests; give at least one current_density step")


def holds_voltage(case) -> bool:
    """True for a protocol that mixes voltage holds with current steps or rests (a Cycler control)."""
    st = case.operation.step
    if not st:
        return False
    return any(s.voltage is not None for s in st) and any(s.voltage is None for s in st)


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
            out.append(ProtocolStep(key, "voltage", s.voltage, s.duration, capacity=s.capacity))
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
        if not prot:
            raise CaseError("invalid case:\n  operation.moving_interface = true: needs a transient run "
                            "(operation.duration or operation.capacity, or [[operation.step]])")
        if case.output.checkpoint_every is not None:  # checkpoints hold fields by the initial node coordinates
            raise CaseError("invalid case:\n  output.checkpoint_every with operation.moving_interface = true: checkpoints "
                            "store the fields on the initial mesh and do not follow a moving or remeshed one yet; "
                            "leave checkpoint_every unset for moving-interface runs")
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


def apply(cell, step: ProtocolStep, reference: float) -> None:
    """Set the cell's control for ``step``: a Cycler's current or hold, else the load (value / reference)."""
    control = cell.control
    if hasattr(control, "constant_voltage"):  # Cycler (components.py)
        if step.kind == "voltage":
            control.constant_voltage(cell, step.value)
        else:
            control.constant_current(cell, step.value)
        return
    cell.scale_load(step.value / reference if reference else 0.0)


def _position(prot: list[ProtocolStep], loop: dict | None) -> dict:
    """Where a run (re)starts: {"step", "t_start", "charge"} from a checkpoint's loop state (older checkpoints
    without it: the step whose nominal interval holds the loop's time)."""
    if loop is None:
        return {"step": 0, "t_start": 0.0, "charge": 0.0}
    if loop.get("protocol") is not None:
        return dict(loop["protocol"])
    t0 = 0.0
    for k, s in enumerate(prot):
        if loop["t"] < (t0 + s.duration) * (1 - 1e-12) or k == len(prot) - 1:
            return {"step": k, "t_start": t0, "charge": 0.0}
        t0 += s.duration


def run(cell, prot: list[ProtocolStep], reference: float, integrate, options, on_step=None, log=None,
        start=None, checkpoint=None):
    """Integrate ``cell`` through the protocol. ``options(duration_of_step, t_end)`` makes the step's
    TransientOptions (t_end: absolute end time). ``start``: a checkpoint's loop state (fields already
    restored). Returns the last TransientResult (series over the whole run)."""
    from licoat.solver.transient import TransientResult

    pos = _position(prot, start)
    t0, loop, res = pos["t_start"], start, None
    for k in range(pos["step"], len(prot)):
        s = prot[k]
        apply(cell, s, reference)
        passed = {"charge": pos["charge"] if k == pos["step"] else 0.0, "current": None}  # C/m^2, A/m^2 (footprint)

        def step_on(t, record, _k=k, _passed=passed):
            record["protocol_step"] = _k
            i = record["current_density_mean_A_m2"] * cell.area_S / cell.footprint
            _passed["charge"] += i * record["dt_s"]
            _passed["current"] = i
            if on_step is not None:
                on_step(t, record)

        def time_left(_s=s, _passed=passed):  # a voltage hold that ends on its charge
            left = _s.capacity - abs(_passed["charge"])
            if left <= 1e-6 * _s.capacity:
                return 0.0
            i = abs(_passed["current"] or 0.0)
            return left / i if i > 0 else float("inf")

        def save(state, _k=k, _t0=t0, _passed=passed):
            state["protocol"] = {"step": _k, "t_start": _t0, "charge": _passed["charge"]}
            checkpoint(state)

        if log is not None and len(prot) > 1:
            log.info("protocol step %d/%d (%s): %s for %.4g s%s", k + 1, len(prot), s.key, _describe(s), s.duration,
                     f" or {s.capacity / 3.6e4:.4g} mAh/cm^2" if s.capacity is not None and s.kind == "voltage" else "")
        opts = options(s.duration, t0 + s.duration)
        if s.kind == "voltage" and s.capacity is not None:
            opts.time_left = time_left
        if loop is not None and opts.time_left is not None and time_left() <= 0:  # restarted after its end
            res = TransientResult(series=list(loop["series"]), steps=loop["steps"], rejected_steps=loop["rejected_steps"])
        else:
            res = integrate(cell, opts, on_step=step_on, log=log, start=loop,
                            checkpoint=save if checkpoint is not None else None)
        if res.depletion_time_s is not None and opts.stop_at_depletion:
            break
        if res.stop_reason is not None:
            break
        t = res.series[-1]["time_s"] if res.series else t0 + s.duration
        loop = dict(t=t, dt=min(opts.dt_initial, (prot[k + 1].duration if k + 1 < len(prot) else 1.0) / 100),
                    dt_prev=None, prev=None, steps=res.steps, rejected_steps=res.rejected_steps,
                    series=res.series, depletion_time_s=None)
        t0 = t
    return res


def _describe(s: ProtocolStep) -> str:
    if s.kind == "rest":
        return "rest"
    if s.kind == "current":
        return f"{s.value / 10:.4g} mA/cm^2"
    return f"{s.value:.4g} V"


class Progress:
    """A rich progress bar on rank 0 for transient runs on a terminal: simulated time, plated capacity and
    step size. Nothing when not ``enabled`` (``--quiet``), on other ranks, or when the console (stderr by
    default) is not a terminal."""

    def __init__(self, comm, duration: float, footprint: float, enabled: bool = True, console=None):
        self.duration, self.footprint = duration, footprint
        self.bar = None
        if not enabled or comm.rank != 0:
            return
        from rich.console import Console

        console = console or Console(stderr=True)
        if not console.is_terminal:
            return
        from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

        self.bar = RichProgress(TextColumn("[bold]transient"), BarColumn(), TextColumn("{task.description}"),
                                TimeElapsedColumn(), transient=True, console=console)
        self.task = self.bar.add_task("", total=duration)

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False

    @staticmethod
    def text(t: float, duration: float, record: dict) -> str:
        """The bar's description: simulated time, step size and plated capacity."""
        cap = record.get("plated_capacity_C_m2")
        text = f"t = {t:.4g} / {duration:.4g} s, dt = {record.get('dt_s', 0):.3g} s"
        if cap is not None:
            text += f", plated {cap / 3.6e4:.4g} mAh/cm^2"
        return text

    def update(self, t: float, record: dict):
        if self.bar is None:
            return
        self.bar.update(self.task, completed=t, description=self.text(t, self.duration, record))
