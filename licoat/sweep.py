"""Parameter sweeps: many runs of one base case, locally in parallel or as a Slurm job array.

Two forms::

    licoat sweep CASE.toml --out DIR --vary coating.thickness="10 nm,50 nm" --vary coating.material=LiF,LiPON
    licoat sweep SWEEP.toml [--out DIR] [--jobs J] [--ranks R] [--bands] [--slurm [--submit]]

A *sweep file* is TOML with a base case and the keys to vary::

    base = "../default.toml"            # a case file (relative to this file), or an inline case:
                                        # [base.geometry] kind = "planar" ...
    ranks = 1                           # MPI ranks per point (--ranks overrides)
    [set]                               # fixed overrides of the base case
    "geometry.mesh_size" = "2 um"
    [vary]                              # Cartesian product of these lists
    "coating.thickness" = ["10 nm", "50 nm", "200 nm"]
    "operation.current_density" = { start = "1 mA/cm^2", stop = "5 mA/cm^2", num = 3 }  # a range
    [zip]                               # advanced together (equal lengths): one more product axis
    "coating.material" = ["LiF", "Al2O3"]
    "coating.thickness" = ["8 nm", "10 nm"]

Ranges: ``{start, stop, num}`` (both ends included; ``scale = "log"`` for geometric spacing) or
``{start, stop, step}``; ``start``/``stop`` carry units (``stop`` is converted to ``start``'s unit).
Nested tables (``[vary.coating] thickness = [...]``) are the same as dotted keys.

Every point is validated before anything runs (exit 2 names the point, key and value). The sweep
directory holds ``sweep.json`` (the manifest), ``cases/<point>.toml`` (each point's case),
``<point>/`` (an ordinary ``licoat run`` results directory), ``logs/<point>.log`` and
``status/<point>.rc`` (the exit code). A point is *finished* when ``<point>/summary.json``
exists and its case is unchanged, so rerunning a sweep runs only unfinished or failed points.
Points run as their own processes, ``mpiexec -n RANKS python -m licoat.cli run ...``, at most
``--jobs`` at a time; ``--slurm`` writes ``slurm/sweep.sbatch``, an array whose tasks call
``srun -n RANKS ... licoat run`` (``--submit`` submits it), and ``licoat collect DIR`` gathers
the finished points into ``results.csv``/``results.json``, ``bands.csv`` and plots.

``--bands``: for every estimated material property the case depends on (those with ``low`` and
``high`` in ``materials/data``), each point is also run at the low and at the high value (one
property at a time, the others nominal); every metric is then reported as the nominal value with
the range [min, max] over these runs (``bands.csv``, shaded bands in the plots).

The ``--vary`` form runs the points one after the other in this process (on its MPI ranks),
unless ``--jobs``, ``--ranks`` or ``--slurm`` asks for the runner above.
"""

from __future__ import annotations

import copy
import csv
import itertools
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from licoat.case import CaseError, apply_overrides, parse_override, read_toml, validate

EXIT_OK, EXIT_INPUT, EXIT_SOLVER = 0, 2, 3

#: The main metrics (column name, path in summary.json), printed and plotted by default.
MAIN_METRICS = [
    ("cell_voltage_V", "cell_voltage_V"),
    ("plating_cv", "plating.cv"),
    ("plating_max_over_mean", "plating.max_over_mean"),
    ("plating_uniform_fraction", "plating.uniform_fraction"),
    ("overpotential_kinetic_V", "overpotentials_V.kinetic"),
    ("overpotential_coating_ohmic_V", "overpotentials_V.coating_ohmic"),
    ("depletion_time_s", "depletion_time_s"),
    ("host_top_to_bottom_ratio", "host.top_to_bottom_ratio"),
]
# the old sweep.csv names, kept
METRICS = [(name, (lambda p: (lambda s: flatten(s).get(p)))(path)) for name, path in MAIN_METRICS]

RANGE_KEYS = {"start", "stop", "num", "step", "scale"}


def log():
    import logging

    return logging.getLogger("licoat")


# ---------------------------------------------------------------------------------------------
# the sweep specification
@dataclass
class Point:
    name: str
    values: dict  # varied key -> value as written
    case: dict  # the raw case (units as strings)
    band: dict | None = None  # {"key", "level", "value"} for --bands runs
    group: str = ""  # the nominal point a band run belongs to

    def case_text(self) -> str:
        return "# licoat sweep point " + self.name + "\n" + tomli_w.dumps(self.case)


@dataclass
class Sweep:
    base: dict
    keys: list[str]
    points: list[Point]
    ranks: int = 1
    source: str = ""
    bands: list[dict] = field(default_factory=list)
    axes: list[list[str]] = field(default_factory=list)  # keys advanced together ([zip]) share an axis

    @property
    def nominal(self) -> list[Point]:
        return [p for p in self.points if p.band is None]


def is_sweep_file(path: str | Path) -> bool:
    """A sweep file has a top-level ``base``, ``vary`` or ``zip``; a case file has none of them."""
    try:
        raw = read_toml(path)
    except CaseError:
        return False
    return any(k in raw for k in ("base", "vary", "zip"))


def _flat_keys(table: dict, where: str, prefix: str = "") -> dict:
    """``{"coating": {"thickness": [...]}}`` and ``{"coating.thickness": [...]}`` -> dotted keys."""
    out = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and not (set(v) and set(v) <= RANGE_KEYS):
            out.update(_flat_keys(v, where, key + "."))
        else:
            if len(key.split(".")) < 2:
                raise CaseError(f"{where}.{key}: expected section.key (e.g. \"coating.thickness\")")
            out[key] = v
    return out


def expand_range(key: str, spec: dict) -> list:
    """``{start, stop, num[, scale]}`` or ``{start, stop, step}`` -> list of values (strings with
    the unit of ``start``, or floats when the ends are bare numbers)."""
    from licoat.units import registry

    where = f"vary.{key}"
    if "start" not in spec or "stop" not in spec or ("num" in spec) == ("step" in spec):
        raise CaseError(f"{where} = {spec!r}: a range needs start, stop and one of num or step")
    ureg = registry()

    def q(v, name):
        try:
            return ureg.Quantity(v) if isinstance(v, str) else ureg.Quantity(float(v))
        except Exception as exc:  # pint raises many kinds
            raise CaseError(f"{where}.{name} = {v!r}: not a number with units ({exc})") from None

    a, b = q(spec["start"], "start"), q(spec["stop"], "stop")
    try:
        b = b.to(a.units)
    except Exception:
        raise CaseError(f"{where}.stop = {spec['stop']!r}: unit does not convert to that of start ({a.units})") from None
    x0, x1 = float(a.magnitude), float(b.magnitude)
    scale = spec.get("scale", "linear")
    if scale not in ("linear", "log"):
        raise CaseError(f"{where}.scale = {scale!r}: expected 'linear' or 'log'")
    if "num" in spec:
        n = spec["num"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise CaseError(f"{where}.num = {n!r}: expected an integer >= 1")
        if scale == "log":
            if x0 <= 0 or x1 <= 0:
                raise CaseError(f"{where}: scale = 'log' needs start and stop > 0 (got {x0:g}, {x1:g})")
            xs = [x0 * (x1 / x0) ** (i / (n - 1)) if n > 1 else x0 for i in range(n)]
        else:
            xs = [x0 + (x1 - x0) * i / (n - 1) if n > 1 else x0 for i in range(n)]
    else:
        step = q(spec["step"], "step")
        try:
            h = float(step.to(a.units).magnitude)
        except Exception:
            raise CaseError(f"{where}.step = {spec['step']!r}: unit does not convert to that of start ({a.units})") from None
        if h == 0 or (x1 - x0) / h < 0:
            raise CaseError(f"{where}.step = {spec['step']!r}: must be non-zero and point from start to stop")
        n = int(math.floor((x1 - x0) / h + 1e-9)) + 1
        xs = [x0 + i * h for i in range(n)]
    unit = ""
    if isinstance(spec["start"], str):  # keep the unit as written in start ("1 um", not "1 μm")
        import re

        m = re.match(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*(.*?)\s*$", spec["start"])
        unit = m.group(1) if m and m.group(1) else ("" if a.dimensionless else f"{a.units}")
    return [float(f"{x:.12g}") for x in xs] if not unit else [f"{x:.12g} {unit}" for x in xs]


def _values(key: str, v, where: str) -> list:
    if isinstance(v, dict):
        return expand_range(key, v)
    if not isinstance(v, list) or not v:
        raise CaseError(f"{where}.{key} = {v!r}: expected a non-empty list of values or a range {{start, stop, num}}")
    return v


def set_key(raw: dict, key: str, value):
    node = raw
    parts = key.split(".")
    for k in parts[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise CaseError(f"{key}: '{k}' is not a section")
    node[parts[-1]] = copy.deepcopy(value)


def get_key(raw: dict, key: str, default=None):
    node = raw
    for k in key.split("."):
        if not isinstance(node, dict) or k not in node:
            return default
        node = node[k]
    return node


def _name(i: int) -> str:
    return f"run_{i:03d}"


def build_points(base: dict, axes: list[tuple[list[str], list[list]]], mode: str = "product") -> list[tuple[dict, dict]]:
    """Combine axes (each: keys advanced together, and their value lists) into (values, raw case) pairs."""
    keys = [k for ks, _ in axes for k in ks]
    out = []
    for combo in itertools.product(*[list(zip(*vals)) for _, vals in axes]):
        values = dict(zip(keys, [v for group in combo for v in group]))
        raw = copy.deepcopy(base)
        for k, v in values.items():
            set_key(raw, k, v)
        out.append((values, raw))
    return out


def _validate_points(pairs, where: str) -> None:
    for i, (values, raw) in enumerate(pairs):
        try:
            validate(raw)
        except CaseError as exc:
            desc = ", ".join(f"{k} = {v!r}" for k, v in values.items())
            raise CaseError(f"{where} point {_name(i)} ({desc}): {exc}") from None


def load_sweep(path: str | Path, overrides: list[str] | None = None, bands: bool = False) -> Sweep:
    """Read and validate a sweep file (every point); ``overrides`` (``--set``) apply to the base."""
    path = Path(path)
    raw = read_toml(path)
    allowed = {"base", "ranks", "set", "vary", "zip", "description"}
    extra = sorted(set(raw) - allowed)
    if extra:
        raise CaseError(f"sweep file '{path}': unknown top-level key(s) {extra} (allowed: {', '.join(sorted(allowed))})")
    b = raw.get("base")
    if isinstance(b, str):
        bp = (path.parent / b) if not Path(b).is_absolute() else Path(b)
        base, source = read_toml(bp), str(bp)
    elif isinstance(b, dict):
        base, source = copy.deepcopy(b), str(path)
    else:
        raise CaseError(f"sweep file '{path}': base = {b!r}: expected a case file path or an inline case table [base.geometry] ...")
    fixed = _flat_keys(raw.get("set", {}), "set")
    for k, v in fixed.items():
        set_key(base, k, v)
    base = apply_overrides(base, overrides)
    vary = {k: _values(k, v, "vary") for k, v in _flat_keys(raw.get("vary", {}), "vary").items()}
    zipped = {k: _values(k, v, "zip") for k, v in _flat_keys(raw.get("zip", {}), "zip").items()}
    if not vary and not zipped:
        raise CaseError(f"sweep file '{path}': nothing to vary (give [vary] or [zip] with lists of values)")
    lengths = {k: len(v) for k, v in zipped.items()}
    if len(set(lengths.values())) > 1:
        raise CaseError(f"sweep file '{path}': [zip] lists must have equal lengths (got {lengths})")
    dup = set(vary) & set(zipped)
    if dup:
        raise CaseError(f"sweep file '{path}': {sorted(dup)} both in [vary] and [zip]")
    axes = [([k], [v]) for k, v in vary.items()]
    if zipped:
        axes.append((list(zipped), list(zipped.values())))
    ranks = raw.get("ranks", 1)
    if not isinstance(ranks, int) or isinstance(ranks, bool) or ranks < 1:
        raise CaseError(f"sweep file '{path}': ranks = {ranks!r}: expected an integer >= 1")
    return _make(base, axes, source, ranks, bands, where=f"sweep file '{path}'")


def parse_vary(items: list[str]) -> list[tuple[str, list]]:
    """``key=v1,v2`` -> (key, [v1, v2]); each value is read as TOML, else kept as a string."""
    out = []
    for item in items:
        if "=" not in item:
            raise CaseError(f"--vary {item!r}: expected section.key=value1,value2,...")
        key, values = item.split("=", 1)
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise CaseError(f"--vary {item!r}: no values")
        out.append((key.strip(), [parse_override(f"{key.strip()}={v}")[1] for v in vals]))
    return out


def sweep_from_vary(case_path: str, overrides: list[str], vary_items: list[str], bands: bool = False) -> Sweep:
    base = apply_overrides(read_toml(case_path), overrides)
    axes = [([k], [v]) for k, v in parse_vary(vary_items)]
    return _make(base, axes, str(case_path), 1, bands, where="sweep")


def _make(base: dict, axes, source: str, ranks: int, bands: bool, where: str) -> Sweep:
    pairs = build_points(base, axes)
    _validate_points(pairs, where)
    keys = [k for ks, _ in axes for k in ks]
    pts = [Point(_name(i), values, raw, group=_name(i)) for i, (values, raw) in enumerate(pairs)]
    sweep = Sweep(base=base, keys=keys, points=pts, ranks=ranks, source=source, axes=[list(ks) for ks, _ in axes])
    if bands:
        add_bands(sweep)
    return sweep


# ---------------------------------------------------------------------------------------------
# uncertainty bands
def band_properties(raw: dict) -> list[dict]:
    """Estimated properties (with ``low``/``high`` in the materials database) that this case uses
    and does not set itself: ``[{"key", "low", "high", "nominal", "unit", "reason"}]`` (SI)."""
    from licoat.materials import load_material

    case = validate(raw)
    uses: list[tuple[str, str, str]] = []  # (section, material, property)
    coat = case.coating.material
    host_kind = case.geometry.kind in ("pillars", "fibers", "foam")
    if coat.lower() != "none":
        uses.append(("coating", coat, "ionic_conductivity"))
        if case.coating.model in ("thin", "auto"):
            uses.append(("coating", coat, "electronic_conductivity"))
        if host_kind:
            uses.append(("coating", coat, "nucleation_overpotential"))
        if case.mechanics.enabled:
            uses += [("coating", coat, p) for p in ("shear_modulus", "poisson_ratio", "li_partial_molar_volume")]
    uses += [("anode", case.anode.material, p) for p in ("exchange_current_density", "alpha_a", "alpha_c")]
    if host_kind:
        uses.append(("host", case.host.material, "nucleation_overpotential"))
        if not case.host.equipotential:
            uses.append(("host", case.host.material, "electronic_conductivity"))
    # constant electrolyte properties (concentration fits carry no single low/high)
    uses += [("electrolyte", case.electrolyte.material, p)
             for p in ("conductivity", "diffusivity", "transference_number", "thermodynamic_factor")]
    out = []
    for section, mat, prop in uses:
        m = load_material(mat)
        if not m.has(prop) or get_key(raw, f"{section}.{prop}") is not None:
            continue
        p = m.property(prop)
        lo, hi = getattr(p, "low", None), getattr(p, "high", None)
        if lo is None or hi is None or p.value is None or p.is_function:
            continue
        out.append({"key": f"{section}.{prop}", "material": m.name, "nominal": p.value, "low": lo, "high": hi,
                    "unit": p.si_unit, "reason": getattr(p, "range_source", "") or p.source})
    return out


def add_bands(sweep: Sweep) -> None:
    """Append, for every nominal point, one run per (estimated property, low/high)."""
    extra = []
    seen = {}
    for p in sweep.nominal:
        for prop in band_properties(p.case):
            seen[prop["key"] + "@" + prop["material"]] = prop
            for level in ("low", "high"):
                raw = copy.deepcopy(p.case)
                set_key(raw, prop["key"], prop[level])
                extra.append(Point(f"{p.name}_band_{prop['key']}_{level}", dict(p.values), raw,
                                   band={"key": prop["key"], "level": level, "value": prop[level]}, group=p.name))
    _validate_points([(b.values, b.case) for b in extra], "bands")
    sweep.points += extra
    sweep.bands = list(seen.values())


# ---------------------------------------------------------------------------------------------
# planning and running
def plan(sweep: Sweep, out: Path) -> list[Point]:
    """Write the manifest and the point cases; return the points still to run. A point whose case
    changed since an earlier sweep in ``out`` loses its old results."""
    out = Path(out)
    for d in ("cases", "logs", "status"):
        (out / d).mkdir(parents=True, exist_ok=True)
    todo = []
    for p in sweep.points:
        cf = out / "cases" / f"{p.name}.toml"
        text = p.case_text()
        if cf.exists() and cf.read_text() != text:
            shutil.rmtree(out / p.name, ignore_errors=True)
            (out / "status" / f"{p.name}.rc").unlink(missing_ok=True)
        cf.write_text(text)
        if not (out / p.name / "summary.json").exists():
            todo.append(p)
    manifest = {
        "source": sweep.source, "keys": sweep.keys, "axes": sweep.axes, "ranks": sweep.ranks, "bands": sweep.bands,
        "points": [{"name": p.name, "values": p.values, "band": p.band, "group": p.group} for p in sweep.points],
    }
    (out / "sweep.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return todo


def _child_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPIR_", "I_MPI_"))}
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def licoat_command() -> list[str]:
    return [sys.executable, "-m", "licoat.cli"]


def point_command(out: Path, p: Point, ranks: int, mpiexec: str | None = None) -> list[str]:
    cmd = licoat_command() + ["run", str(out / "cases" / f"{p.name}.toml"), "--out", str(out / p.name), "--quiet"]
    if ranks > 1:
        launcher = shlex.split(mpiexec) if mpiexec else [_mpiexec()]
        cmd = launcher + ["-n", str(ranks)] + cmd
    return cmd


def _mpiexec() -> str:
    cand = Path(sys.executable).parent / "mpiexec"
    return str(cand) if cand.exists() else (shutil.which("mpiexec") or "mpiexec")


def failure_reason(log_text: str, rc: int) -> str:
    """The ``licoat: ...`` message of a failed run (else its last line), or the signal that killed it."""
    if rc < 0:
        return f"killed by signal {-rc}"
    lines = [ln.strip() for ln in log_text.splitlines() if ln.strip()]
    msgs = [ln for ln in lines if ln.startswith("licoat:")]
    if msgs:
        i = lines.index(msgs[-1])
        return " ".join(lines[i:i + 6])[:2000]
    return lines[-1][:2000] if lines else f"exit code {rc}, no output"


def run_point(out: Path, p: Point, ranks: int, mpiexec: str | None = None) -> tuple[int, float]:
    """Run one point as its own process; write ``logs/<p>.log`` and ``status/<p>.rc``."""
    t0 = time.perf_counter()
    with open(out / "logs" / f"{p.name}.log", "w") as fh:
        rc = subprocess.run(point_command(out, p, ranks, mpiexec), stdout=fh, stderr=subprocess.STDOUT,
                            env=_child_env(), stdin=subprocess.DEVNULL).returncode
    (out / "status" / f"{p.name}.rc").write_text(f"{rc}\n")
    return rc, time.perf_counter() - t0


def run_local(sweep: Sweep, out: Path, jobs: int = 1, ranks: int | None = None, mpiexec: str | None = None,
              progress: bool | None = None) -> dict:
    """Run the unfinished points, ``jobs`` at a time; returns {"run", "skipped", "failed"}."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    out = Path(out)
    ranks = ranks or sweep.ranks
    todo = plan(sweep, out)
    skipped = len(sweep.points) - len(todo)
    failed = []
    say = _printer()
    say(f"sweep: {len(sweep.points)} points, {skipped} finished, {len(todo)} to run "
        f"({jobs} at a time, {ranks} rank(s) each) in {out}")
    use_bar = sys.stdout.isatty() if progress is None else progress
    bar = None
    if use_bar and todo:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("{task.description}"))
        bar.start()
        task = bar.add_task("", total=len(todo))
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futs = {pool.submit(run_point, out, p, ranks, mpiexec): p for p in todo}
            for fut in as_completed(futs):
                p = futs[fut]
                rc, dt = fut.result()
                msg = f"{p.name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {dt:.1f} s"
                if rc != 0:
                    failed.append(p.name)
                if bar is not None:
                    bar.update(task, advance=1, description=msg)
                else:
                    say(msg)
    finally:
        if bar is not None:
            bar.stop()
    return {"run": len(todo), "skipped": skipped, "failed": failed}


def _collective_gc(comm):
    """Free PETSc objects on every rank together: their destruction is collective, so garbage
    collected on rank 0 alone (during rank-0-only work such as plotting) would deadlock."""
    import gc

    gc.collect()
    comm.barrier()


def _rank0_only(comm, fn, *args):
    """``fn(*args)`` on rank 0 with the garbage collector paused, the result broadcast."""
    import gc

    _collective_gc(comm)
    res = None
    if comm.rank == 0:
        gc.disable()
        try:
            res = fn(*args)
        finally:
            gc.enable()
    return comm.bcast(res, root=0)


def run_inprocess(comm, sweep: Sweep, out: Path, verbose: bool = True) -> dict:
    """The ``--vary`` form: run the unfinished points here, one after the other, on ``comm``."""
    from licoat.run import run_case
    from licoat.solver.electrochemistry import SolverError

    out = Path(out)
    todo_names = _rank0_only(comm, lambda: [p.name for p in plan(sweep, out)])
    failed = []
    for p in sweep.points:
        if p.name not in todo_names:
            continue
        rc, reason = 0, ""
        try:
            run_case(comm, validate(p.case), out / p.name, str(out / "cases" / f"{p.name}.toml"), verbose=verbose)
        except SolverError as exc:
            rc, reason = EXIT_SOLVER, f"licoat: solver failed: {exc}"
        except (CaseError, ValueError) as exc:  # GeometryError is a ValueError
            rc, reason = EXIT_INPUT, f"licoat: invalid input: {exc}"
        def record(name=p.name, rc=rc, reason=reason):
            (out / "status" / f"{name}.rc").write_text(f"{rc}\n")
            if rc:
                (out / "logs" / f"{name}.log").write_text(reason + "\n")

        _rank0_only(comm, record)
        if rc:
            failed.append(p.name)
        log().info("sweep point %s %s: %s", p.name, p.values, "ok" if rc == 0 else reason)
    return {"run": len(todo_names), "skipped": len(sweep.points) - len(todo_names), "failed": failed}


# ---------------------------------------------------------------------------------------------
# Slurm
def slurm_script(sweep: Sweep, out: Path, todo: list[Point], ranks: int, jobs: int | None = None,
                 options: list[str] | None = None, srun: str = "srun") -> str:
    """An sbatch job array, one task per unfinished point: ``srun -n RANKS python -m licoat.cli run``."""
    out = Path(out).resolve()
    names = " ".join(p.name for p in todo)
    throttle = f"%{jobs}" if jobs else ""
    lic = " ".join(shlex.quote(c) for c in licoat_command())
    lines = [
        "#!/bin/bash",
        "# licoat sweep as a Slurm job array: one task per unfinished point (written by licoat sweep --slurm)",
        f"#SBATCH --job-name=licoat-{out.name}",
        f"#SBATCH --array=0-{len(todo) - 1}{throttle}",
        f"#SBATCH --ntasks={ranks}",
        f"#SBATCH --output={out}/logs/slurm-%A_%a.out",
        *[f"#SBATCH {o}" for o in (options or [])],
        "set -u",
        f"cd {shlex.quote(str(out))}",
        f"names=({names})",
        'name=${names[$SLURM_ARRAY_TASK_ID]}',
        'if [ -f "$name/summary.json" ]; then echo "$name: finished already"; exit 0; fi',
        "export OMP_NUM_THREADS=1",
        f'{srun} -n {ranks} {lic} run "cases/$name.toml" --out "$name" --quiet > "logs/$name.log" 2>&1',
        "rc=$?",
        'echo $rc > "status/$name.rc"',
        "exit $rc",
    ]
    return "\n".join(lines) + "\n"


def write_slurm(sweep: Sweep, out: Path, ranks: int | None = None, jobs: int | None = None,
                options: list[str] | None = None, submit: bool = False, srun: str = "srun") -> dict:
    out = Path(out)
    ranks = ranks or sweep.ranks
    todo = plan(sweep, out)
    (out / "slurm").mkdir(exist_ok=True)
    script = out / "slurm" / "sweep.sbatch"
    if not todo:
        return {"script": None, "points": 0, "job_id": None}
    script.write_text(slurm_script(sweep, out, todo, ranks, jobs, options, srun))
    script.chmod(0o755)
    job = None
    if submit:
        r = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"sbatch failed (exit {r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
        job = r.stdout.strip().split(";")[0]
        (out / "slurm" / "job_id").write_text(job + "\n")
    return {"script": str(script), "points": len(todo), "job_id": job}


# ---------------------------------------------------------------------------------------------
# collecting results
def flatten(d: dict, prefix: str = "") -> dict:
    """Nested summary dict -> {"plating.cv": ..., ...}; lists become JSON text, warnings are joined."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif k == "warnings" and isinstance(v, list):
            out[key] = " | ".join(str(w) for w in v)
        elif isinstance(v, list):
            out[key] = json.dumps(v)
        else:
            out[key] = v
    return out


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None and math.isfinite(v)


def collect(out: Path, plots: bool = True) -> dict:
    """Gather a sweep directory: ``results.csv``/``results.json`` (one row per nominal point: its
    inputs, status and every summary metric), ``bands.csv`` when band runs exist, and plots."""
    out = Path(out)
    mf = out / "sweep.json"
    if not mf.exists():
        raise CaseError(f"'{out}' is not a sweep directory (no sweep.json)")
    manifest = json.loads(mf.read_text())
    keys = manifest["keys"]
    rows, band_rows, records = [], [], {}
    for pt in manifest["points"]:
        name = pt["name"]
        sfile = out / name / "summary.json"
        rcf = out / "status" / f"{name}.rc"
        rc = int(rcf.read_text().strip()) if rcf.exists() else None
        rec = {"point": name, **{k: pt["values"].get(k) for k in keys}}
        if sfile.exists():
            rec.update(status="finished", exit_code=0, reason="")
            metrics = flatten(json.loads(sfile.read_text()))
        elif rc not in (None, 0):
            logf = out / "logs" / f"{name}.log"
            rec.update(status="failed", exit_code=rc, reason=failure_reason(logf.read_text() if logf.exists() else "", rc))
            metrics = {}
        else:
            rec.update(status="pending", exit_code="" if rc is None else rc, reason="")
            metrics = {}
        records[name] = (pt, rec, metrics)
    metric_names = []
    for _, _, m in records.values():
        metric_names += [k for k in m if k not in metric_names]
    for pt, rec, m in records.values():
        if pt.get("band"):
            continue
        rows.append({**rec, **{k: m.get(k, "") for k in metric_names}})
    # bands: per nominal point and numeric metric, min/max over the band runs and the nominal value
    groups: dict[str, list] = {}
    for pt, rec, m in records.values():
        if pt.get("band") and m:
            groups.setdefault(pt["group"], []).append((pt["band"], m))
    bands = {}
    for row in rows:
        runs = groups.get(row["point"])
        if not runs or row["status"] != "finished":
            continue
        nom = records[row["point"]][2]
        for k in metric_names:
            if not _is_num(nom.get(k)) or k.startswith(("timing.", "dofs", "ranks")):
                continue
            vals = [(nom[k], "nominal")] + [(m[k], f"{b['key']}={b['level']}") for b, m in runs if _is_num(m.get(k))]
            lo, hi = min(vals, key=lambda t: t[0]), max(vals, key=lambda t: t[0])
            band_rows.append({"point": row["point"], **{kk: row[kk] for kk in keys}, "metric": k, "nominal": nom[k],
                              "low": lo[0], "high": hi[0], "low_from": lo[1], "high_from": hi[1]})
            bands[(row["point"], k)] = (lo[0], hi[0])
    cols = ["point", *keys, "status", "exit_code", "reason", *metric_names]
    with open(out / "results.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    (out / "results.json").write_text(json.dumps({"keys": keys, "rows": rows, "bands": band_rows,
                                                  "band_properties": manifest.get("bands", [])},
                                                 indent=2, default=str) + "\n")
    if band_rows:
        with open(out / "bands.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(band_rows[0]))
            w.writeheader()
            w.writerows(band_rows)
    # the old table (sweep.csv) for the --vary form
    with open(out / "sweep.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["run", *keys, *[n for n, _ in MAIN_METRICS]])
        for r in rows:
            w.writerow([r["point"], *[r[k] for k in keys], *[r.get(p, "") for _, p in MAIN_METRICS]])
    figures = []
    if plots:
        from licoat import plots as pl

        figures = pl.sweep_plots(out, keys, rows, bands, axes=manifest.get("axes"))
        for r in rows:
            if r["status"] == "finished":
                png = pl.render_run(out / r["point"])
                if png:
                    figures.append(str(png))
    failed = [r for r in rows if r["status"] == "failed"] + [
        {"point": pt["name"], **rec} for pt, rec, _ in records.values() if pt.get("band") and rec["status"] == "failed"]
    band_status = {k: sum(1 for pt, rec, _ in records.values() if pt.get("band") and rec["status"] == k)
                   for k in ("finished", "failed", "pending")}
    return {"rows": rows, "bands": band_rows, "failed": failed, "band_runs": band_status,
            "pending": [r["point"] for r in rows if r["status"] == "pending"], "figures": figures}


def format_table(result: dict, keys: list[str]) -> str:
    """Plain text: one line per point with the main metrics (nominal [low, high] with bands)."""
    bands = {(b["point"], b["metric"]): (b["low"], b["high"]) for b in result["bands"]}
    cols = [("point", None)] + [(k, None) for k in keys] + [("status", None)] + [
        (n, p) for n, p in MAIN_METRICS if any(_is_num(r.get(p)) for r in result["rows"])]
    lines = ["  ".join(c for c, _ in cols)]
    for r in result["rows"]:
        cells = []
        for c, p in cols:
            v = r.get(p if p else c, "")
            s = f"{v:.4g}" if _is_num(v) else str(v)
            if p and (r["point"], p) in bands:
                lo, hi = bands[(r["point"], p)]
                s += f" [{lo:.4g}, {hi:.4g}]"
            cells.append(s)
        lines.append("  ".join(cells))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# command line (called from licoat.cli)
def _printer():
    def say(msg):
        print(msg, flush=True)

    return say


def run_sweep(comm, case_path: str, out: Path, overrides: list[str], vary_items: list[str], verbose=True) -> list[dict]:
    """The ``--vary`` form in this process (kept for scripts and the existing CLI)."""
    sweep = sweep_from_vary(case_path, overrides, vary_items)
    run_inprocess(comm, sweep, Path(out), verbose=verbose)
    return _rank0_only(comm, collect, Path(out))["rows"]


def main_sweep(args) -> int:
    """``licoat sweep``: a sweep file, or a case file with ``--vary``."""
    say = _printer()
    sweep_file = is_sweep_file(args.case)
    runner = sweep_file or args.jobs or args.ranks or args.slurm
    try:
        if sweep_file:
            if args.vary:
                raise CaseError("--vary is for a case file; a sweep file lists its keys in [vary] / [zip]")
            sweep = load_sweep(args.case, args.set, bands=args.bands)
        else:
            if not args.vary:
                raise CaseError(f"'{args.case}' is a case file: give --vary section.key=v1,v2 (or use a sweep file with [vary])")
            sweep = sweep_from_vary(args.case, args.set, args.vary, bands=args.bands)
    except CaseError as exc:
        say_err(f"licoat: {exc}")
        return EXIT_INPUT
    out = Path(args.out) if args.out else Path("results") / Path(args.case).stem
    if args.slurm:
        try:
            info = write_slurm(sweep, out, args.ranks, args.jobs, args.sbatch, args.submit, getattr(args, "srun", "srun"))
        except (RuntimeError, OSError) as exc:
            say_err(f"licoat: {exc}")
            return EXIT_SOLVER
        if info["script"] is None:
            say(f"every point in {out} is finished; nothing to submit (licoat collect {out})")
        else:
            say(f"Slurm array for {info['points']} point(s): {info['script']}"
                + (f" (submitted: job {info['job_id']})" if info["job_id"] else f" (submit: sbatch {info['script']})"))
            say(f"when it is done: licoat collect {out}")
        return EXIT_OK
    if runner:
        status = run_local(sweep, out, jobs=args.jobs or 1, ranks=args.ranks, mpiexec=args.mpiexec)
        res = collect(out)
    else:
        import licoat

        licoat.import_stack()
        from mpi4py import MPI

        from licoat.run import setup_logging

        comm = MPI.COMM_WORLD
        setup_logging(comm, None, verbose=not args.quiet)
        status = run_inprocess(comm, sweep, out, verbose=not args.quiet)
        res = _rank0_only(comm, collect, out)
        if comm.rank != 0:
            return EXIT_SOLVER if status["failed"] else EXIT_OK
    say(format_table(res, sweep.keys))
    return _finish(out, res, status)


def _finish(out: Path, res: dict, status: dict | None = None) -> int:
    say = _printer()
    for f in res["failed"]:
        say_err(f"licoat: point {f['point']} failed (exit {f['exit_code']}): {f['reason']}")
    if status is not None:
        say(f"sweep: ran {status['run']}, skipped {status['skipped']} finished, {len(status['failed'])} failed")
    say(f"results: {(out / 'results.csv').resolve()}")
    return EXIT_SOLVER if res["failed"] else EXIT_OK


def main_validate(args) -> int:
    """``licoat validate SWEEP.toml``: every point validated; prints the points and their varied values."""
    try:
        sw = load_sweep(args.case, args.set)
    except CaseError as exc:
        say_err(f"licoat: {exc}")
        return EXIT_INPUT
    lines = [f"# {args.case}: valid sweep, {len(sw.points)} point(s) over {', '.join(sw.keys)} (base: {sw.source})"]
    lines += [f"{p.name}: " + ", ".join(f"{k} = {v}" for k, v in p.values.items()) for p in sw.points]
    _printer()("\n".join(lines))
    return EXIT_OK


def main_collect(args) -> int:
    out = Path(args.dir)
    try:
        res = collect(out)
    except CaseError as exc:
        say_err(f"licoat: {exc}")
        return EXIT_INPUT
    keys = json.loads((out / "sweep.json").read_text())["keys"]
    _printer()(format_table(res, keys))
    if res["pending"]:
        _printer()(f"{len(res['pending'])} point(s) not finished yet: {', '.join(res['pending'])}")
    return _finish(out, res)


def say_err(msg: str):
    print(msg, file=sys.stderr, flush=True)
