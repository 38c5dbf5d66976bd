"""Case files: TOML with units, validated by pydantic into SI floats.

Every dimensional value is a string with units ("8 nm", "2 mA/cm^2", "25 degC") or a bare number
in SI. Unknown keys, wrong units and out-of-range values raise :class:`CaseError` whose message
names the key path, the value and what is expected. The key names are a public interface.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from licoat.units import to_si


class CaseError(ValueError):
    """Invalid case file; the message names the key path, the value and what is expected."""


def Q(unit: str, *, gt: float | None = None, ge: float | None = None, lt: float | None = None, le: float | None = None):
    """A float field given as a string with units (or a bare SI number), range-checked in SI."""

    def parse(v):
        x = to_si(v, unit)
        u = "" if unit == "dimensionless" else f" {unit}"
        if gt is not None and not x > gt:
            raise ValueError(f"must be > {gt:g}{u} (got {x:g}{u})")
        if ge is not None and not x >= ge:
            raise ValueError(f"must be >= {ge:g}{u} (got {x:g}{u})")
        if lt is not None and not x < lt:
            raise ValueError(f"must be < {lt:g}{u} (got {x:g}{u})")
        if le is not None and not x <= le:
            raise ValueError(f"must be <= {le:g}{u} (got {x:g}{u})")
        return x

    return Annotated[float, BeforeValidator(parse)]


Length = Q("m", gt=0)
Fraction = Q("dimensionless", gt=0, lt=1)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class MaterialSection(BaseModel):
    """A section whose extra keys override material properties by name (checked against the database)."""

    model_config = ConfigDict(extra="allow", validate_default=True)

    def overrides(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Geometry(Section):
    kind: Literal["planar", "sinusoid", "bump", "pillars", "fibers", "foam"] = "planar"
    dim: Literal[2, 3] = 2
    width: Length = 20e-6
    depth: Length | None = None
    electrolyte_thickness: Length = 50e-6
    mesh_size: Length = 2e-6
    interface_mesh_size: Length | None = None
    anode_thickness: Length = 10e-6
    periodic: bool = False
    # perturbed planar anodes
    amplitude: Q("m", ge=0) | None = None
    wavelength: Length | None = None
    bump_radius: Length | None = None
    # 3D hosts
    pillar_diameter: Length | None = None
    pillar_height: Length | None = None
    pitch: Length | None = None
    lattice: Literal["square", "hexagonal"] = "square"
    fiber_diameter: Length | None = None
    fiber_volume_fraction: Fraction | None = None
    fiber_min_gap: Length | None = None  # smallest electrolyte gap between fibres (default: set by the generator)
    host_thickness: Length | None = None
    orientation: Literal["aligned", "random-in-plane", "random3d"] = "aligned"
    # random3d fibre networks: largest inclination of a fibre above the collector plane (90 deg: isotropic)
    fiber_max_inclination: Q("rad", gt=0, le=1.5707963267948966 + 1e-12) | None = None
    seed: int = Field(0, ge=0)
    pore_size: Length | None = None
    strut_diameter: Length | None = None
    porosity: Fraction | None = None
    collector_thickness: Length = 5e-6
    mesh_algorithm3d: Literal[1, 10] | None = None  # Gmsh 3D algorithm: 1 Delaunay, 10 HXT (default per kind)
    cache: bool = True  # reuse meshes from the on-disk cache (keyed by these parameters)
    # uniform refinements in parallel after Gmsh (meshes/refine.py): Gmsh meshes at mesh_size x 2^levels and
    # DOLFINx refines to mesh_size, with fibre surfaces snapped onto the cylinders (3D fibre hosts, planar cells)
    refine_levels: int = Field(0, ge=0, le=3)

    @model_validator(mode="after")
    def _refinable(self):
        # the surfaces stay exact under refinement only where meshes/refine.py knows them (refinable())
        exact = self.kind == "planar" or (self.kind == "fibers" and self.dim == 3
                                          and self.orientation in ("aligned", "random-in-plane"))
        if self.refine_levels and not exact:
            raise ValueError(f"geometry.refine_levels = {self.refine_levels}: refinement that keeps the surfaces "
                             f"exact is available for kind = 'planar' and 3D 'fibers' hosts (aligned or "
                             f"random-in-plane), not kind = '{self.kind}' (dim {self.dim}); use refine_levels = 0")
        return self


class StackLayer(MaterialSection):
    """One layer of ``[[coating.stack]]`` (the first table is the layer next to the metal)."""

    material: str
    thickness: Q("m", gt=0)
    model: Literal["resolved", "thin", "auto"] = "resolved"


class Defects(Section):
    """``[coating.defects]``: pinholes or cracks in the coating (meshes/defects.py)."""

    kind: Literal["pinholes", "cracks"]
    radius: Length | None = None  # pinholes
    width: Length | None = None  # cracks
    spacing: Length | None = None
    # pinholes: holes per area (e.g. "1e8 1/cm^2"); cracks: crack length per area (e.g. "0.1 1/um")
    areal_density: str | float | None = None
    placement: Literal["lattice", "random"] = "lattice"
    seed: int = Field(0, ge=0)
    depth: Literal["through"] | Q("dimensionless", gt=0, le=1) = "through"
    cells: int = Field(6, ge=2, le=100)  # mesh cells across a defect's radius (pinholes) or width (cracks)

    @model_validator(mode="after")
    def _sizes(self):
        size = "radius" if self.kind == "pinholes" else "width"
        if getattr(self, size) is None:
            raise ValueError(f"coating.defects.{size} is required for kind = '{self.kind}' (a length, e.g. '50 nm')")
        if (self.spacing is None) == (self.areal_density is None):
            raise ValueError("coating.defects: give exactly one of spacing (a length) or areal_density")
        if self.areal_density is not None:
            unit = "1/m^2" if self.kind == "pinholes" else "1/m"
            try:
                x = to_si(self.areal_density, unit)
            except ValueError as exc:
                raise ValueError(f"coating.defects.areal_density = {self.areal_density!r}: {exc} "
                                 f"(expected {unit} for kind = '{self.kind}')") from None
            if not x > 0:
                raise ValueError(f"coating.defects.areal_density = {self.areal_density!r}: must be > 0 {unit}")
            self.areal_density = x
        return self


class Heterogeneity(Section):
    """``[coating.heterogeneity]``: a thin film whose conductivity is a log-normal random field."""

    kind: Literal["lognormal"] = "lognormal"
    sigma: Q("dimensionless", ge=0, le=5)  # standard deviation of ln(kappa)
    correlation_length: Length
    seed: int = Field(0, ge=0)
    modes: int = Field(256, ge=16, le=4096)  # random Fourier modes


class Coating(MaterialSection):
    material: str = "none"
    thickness: Q("m", ge=0) = 0.0
    model: Literal["resolved", "thin", "auto"] = "resolved"
    layers: int = Field(2, ge=1, le=50)  # cells across each resolved layer (every geometry)
    stack: list[StackLayer] | None = None
    defects: Defects | None = None
    heterogeneity: Heterogeneity | None = None
    # a dense film needing more than this to carry the current stops the run (exit 2, naming the layer
    # and what would carry the current) ...
    max_film_voltage: Q("V", gt=0) | None = 1.0
    # ... unless this is true (then a warning)
    allow_impossible_film: bool = False

    @model_validator(mode="after")
    def _defects_need_a_film(self):
        if self.heterogeneity is not None:
            if self.stack is not None or self.material.lower() == "none" or self.thickness <= 0:
                raise ValueError("coating.heterogeneity: needs a single-layer film (coating.material, coating.thickness > 0)")
            if self.model == "resolved":
                raise ValueError("coating.heterogeneity: thin films only (coating.model = 'thin' or 'auto')")
        if self.defects is not None:
            if self.stack is not None:
                raise ValueError("coating.defects: defects in a [[coating.stack]] are not supported; "
                                 "use a single layer (coating.material, coating.thickness)")
            if self.material.lower() == "none" or self.thickness <= 0:
                raise ValueError(f"coating.defects: defects on an uncoated surface (coating.material = "
                                 f"'{self.material}', coating.thickness = {self.thickness:g} m); give a film")
        return self

    @model_validator(mode="after")
    def _stack_or_single(self):
        if self.stack is None:
            return self
        if not self.stack:
            raise ValueError("coating.stack: needs at least one [[coating.stack]] table (material, thickness)")
        if self.material.lower() != "none" or self.thickness > 0:
            raise ValueError("coating.material / coating.thickness and [[coating.stack]] are exclusive: describe a "
                             "single layer with [coating] material and thickness, or every layer as a [[coating.stack]] table")
        return self

    def layer_sections(self) -> list:
        """The layers as sections (material, thickness, model, overrides): the stack, or the single layer."""
        if self.stack is not None:
            return list(self.stack)
        if self.material.lower() == "none" or self.thickness <= 0:
            return []
        return [self]


class Electrolyte(Section):
    material: str = "LiPF6_EC_EMC"
    concentration: Q("mol/m^3", gt=0) | None = None
    conductivity: Q("S/m", gt=0) | None = None
    diffusivity: Q("m^2/s", gt=0) | None = None
    transference_number: Q("dimensionless", ge=0, lt=1) | None = None
    thermodynamic_factor: Q("dimensionless", gt=0) | None = None


class Anode(MaterialSection):
    material: str = "Li"
    exchange_current_density: Q("A/m^2", gt=0) | None = None
    alpha_a: Q("dimensionless", gt=0, le=1) | None = None
    alpha_c: Q("dimensionless", gt=0, le=1) | None = None


class Host(MaterialSection):
    material: str = "Cu"
    # true: host and collector are equipotential (sigma >> kappa, e.g. Cu); false: electronic
    # conduction in them is solved with the materials' electronic_conductivity (e.g. carbon)
    equipotential: bool = True
    # real / smooth area of the host surfaces (e.g. struts carrying nanofibres): multiplies their kinetics
    surface_area_factor: Q("dimensionless", ge=1) = 1.0


class Step(Section):
    """One ``[[operation.step]]``: ``current_density`` (plating positive, stripping negative) for a ``duration``
    or a ``capacity``; ``voltage`` (a hold) for a ``duration``, ended sooner by a ``capacity`` of charge passed;
    or a ``rest`` (zero current) of a duration."""

    current_density: Q("A/m^2") | None = None
    voltage: Q("V") | None = None
    duration: Q("s", gt=0) | None = None
    capacity: Q("C/m^2", gt=0) | None = None
    rest: Q("s", gt=0) | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        if self.rest is not None:
            extra = [k for k in ("current_density", "voltage", "duration", "capacity") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"a rest step takes only rest (its duration, e.g. '10 min'); remove {', '.join(extra)}")
            return self
        if (self.current_density is None) == (self.voltage is None):
            raise ValueError("a step needs exactly one of current_density (e.g. '1 mA/cm^2'), voltage (e.g. '-50 mV') "
                             "or rest (e.g. '10 min')")
        if self.current_density == 0:
            raise ValueError("current_density = 0: use rest = '<duration>' for a rest")
        if self.voltage is not None:  # a hold: its duration, and optionally the charge that ends it sooner
            if self.duration is None:
                raise ValueError("a voltage step needs a duration (e.g. '10 min'; a capacity may end it sooner)")
            return self
        if (self.duration is None) == (self.capacity is None):
            raise ValueError("a step needs exactly one of duration (e.g. '1 h') or capacity (e.g. '1 mAh/cm^2'), "
                             f"got {'both' if self.duration is not None else 'neither'}")
        return self


class Operation(Section):
    mode: Literal["galvanostatic", "potentiostatic"] = "galvanostatic"
    current_density: Q("A/m^2") | None = None
    voltage: Q("V") | None = None
    temperature: Q("K", gt=0) = 298.15
    counter: Literal["reservoir", "lithium"] = "reservoir"
    duration: Q("s", gt=0) | None = None
    capacity: Q("C/m^2", gt=0) | None = None
    # a protocol: [[operation.step]] tables, run in order (licoat/protocol.py); the control (mode and the
    # reference current or voltage) is then taken from the steps
    step: list[Step] | None = None
    # anode geometries: the plating surface moves with the deposit, the mesh follows (solver/moving_mesh.py)
    moving_interface: bool = False

    @model_validator(mode="after")
    def _control(self):
        if self.step is not None:
            from licoat.protocol import reference_control

            self.mode, self.current_density, self.voltage = reference_control(self)
            return self
        if self.mode == "galvanostatic" and self.current_density is None:
            raise ValueError("operation.current_density is required when operation.mode = 'galvanostatic' (e.g. '2 mA/cm^2')")
        if self.mode == "galvanostatic" and self.current_density == 0:
            raise ValueError("operation.current_density must be non-zero (plating positive, e.g. '2 mA/cm^2')")
        if self.mode == "potentiostatic" and self.voltage is None:
            raise ValueError("operation.voltage is required when operation.mode = 'potentiostatic' (e.g. '-50 mV')")
        return self


class Solver(Section):
    rtol: Q("dimensionless", gt=0, lt=1) = 1e-10
    atol: Q("dimensionless", ge=0) = 1e-12
    max_iterations: int = Field(50, ge=1, le=1000)
    linear_solver: Literal["auto", "direct", "iterative"] = "auto"
    petsc_options: dict[str, str | int | float | bool] = {}
    # keep a Jacobian (and its preconditioner) across Newton iterations (and time steps) while the iteration
    # converges fast; transient runs: start each step from the unknowns extrapolated in time (README, Solver)
    reuse_jacobian: bool = True
    extrapolate: bool = False  # off by default: the predictor broke the coarse TiO2-on-Cu first plating (a linear solve failed at the nucleation jump)


def _steps_or_time(v):
    """An integer (accepted time steps, >= 1) or a time with units (simulated seconds, > 0)."""
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise ValueError(f"must be >= 1 time steps, or a time with units such as '10 s' (got {v})")
        return v
    if isinstance(v, str) or (isinstance(v, float) and not isinstance(v, bool)):
        x = to_si(v, "s")
        if not x > 0:
            raise ValueError(f"must be > 0 s (got {x:g} s)")
        return float(x)
    raise ValueError("expected an integer number of time steps or a time with units, e.g. 5 or '10 s'")


class Output(Section):
    directory: str | None = None
    fields: bool = True
    # transient runs: a restart checkpoint every N accepted steps (an integer) or every interval of
    # simulated time (a string with units, "10 s"); licoat run CASE --restart DIR continues from it
    checkpoint_every: Annotated[int | float | None, BeforeValidator(_steps_or_time)] = None


class Mechanics(Section):
    enabled: bool = False
    stress_coupling: Literal["none", "monroe-newman"] = "none"
    stack_pressure: Q("Pa", ge=0) = 0.0

    # Li+ partial molar volume on the liquid side of a bare (or thin-coated) Li surface
    electrolyte_partial_molar_volume: Q("m^3/mol", ge=0) = 0.0

    @model_validator(mode="after")
    def _coupling_needs_mechanics(self):
        if self.stress_coupling != "none" and not self.enabled:
            raise ValueError("mechanics.stress_coupling needs mechanics.enabled = true")
        return self


class Study(Section):
    kind: Literal["run", "stability"] = "run"
    wavelength: Length | None = None
    amplitude: Length | None = None
    cells_per_wavelength: int = Field(32, ge=4, le=512)
    half_space: bool = False  # true: the solid above Li is a half-space (closed-form set-up)


class Case(Section):
    geometry: Geometry = Geometry()
    coating: Coating = Coating()
    electrolyte: Electrolyte = Electrolyte()
    anode: Anode = Anode()
    host: Host = Host()
    operation: Operation = Operation(current_density=20.0)
    solver: Solver = Solver()
    output: Output = Output()
    mechanics: Mechanics = Mechanics()
    study: Study = Study()


# ---------------------------------------------------------------------------------------------
def _format_loc(loc) -> str:
    out = ""
    for p in loc:
        if str(p).startswith("function-"):
            continue
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _format_error(err: dict, raw: dict) -> str:
    loc = _format_loc(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        model_keys = _allowed_keys(err["loc"])
        return f"{loc} = {err['input']!r}: unknown key" + (f" (allowed: {', '.join(model_keys)})" if model_keys else "")
    if err["type"] == "literal_error":
        return f"{loc} = {err['input']!r}: {msg}"
    if "input" in err and not isinstance(err["input"], dict):
        return f"{loc} = {err['input']!r}: {msg}"
    return f"{loc}: {msg}" if loc else msg


def _allowed_keys(loc) -> list[str]:
    model = Case
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return []
        model = field.annotation
    return sorted(model.model_fields)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``section.key=value`` -> (["section", "key"], value); the value is read as TOML, else a string."""
    if "=" not in item:
        raise CaseError(f"--set {item!r}: expected section.key=value")
    key, value = item.split("=", 1)
    path = [k.strip() for k in key.strip().split(".") if k.strip()]
    if len(path) < 2:
        raise CaseError(f"--set {item!r}: the key must name a section and a key, e.g. coating.thickness=10nm")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return path, parsed


def apply_overrides(raw: dict, overrides: list[str] | None) -> dict:
    data = copy.deepcopy(raw)
    for item in overrides or []:
        path, value = parse_override(item)
        node = data
        for k in path[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise CaseError(f"--set {item!r}: '{k}' is not a section")
        node[path[-1]] = value
    return data


def read_toml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise CaseError(f"case file '{p}' not found")
    try:
        return tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"case file '{p}' is not valid TOML: {exc}") from None


def validate(raw: dict) -> Case:
    """Validate a raw case dict; raise CaseError listing every problem, one per line."""
    try:
        case = Case.model_validate(raw)
    except ValidationError as exc:
        lines = [_format_error(e, raw) for e in exc.errors()]
        raise CaseError("invalid case:\n  " + "\n  ".join(lines)) from None
    _check_materials(case)
    from licoat.protocol import check_protocol

    check_protocol(case)  # stripping within the anode's Li inventory (exit 2 naming the step)
    return case


def _check_materials(case: Case) -> None:
    """Material names exist; material-property overrides are known names with convertible units."""
    from licoat.materials import PROPERTY_UNITS, MaterialError, load_material

    problems = []
    sections = [("coating", case.coating), ("anode", case.anode), ("host", case.host), ("electrolyte", case.electrolyte)]
    sections += [(f"coating.stack[{i}]", layer) for i, layer in enumerate(case.coating.stack or [])]
    for section, sec in sections:
        name = sec.material
        if section == "coating" and name.lower() == "none":
            if case.coating.thickness > 0:
                problems.append(f"coating.thickness = {case.coating.thickness:g} m: must be 0 when coating.material = 'none'")
            continue
        try:
            load_material(name)
        except MaterialError as exc:
            problems.append(f"{section}.material = {name!r}: {exc.args[0] if exc.args else exc}")
            continue
        if isinstance(sec, MaterialSection):
            converted = {}
            for key, value in sec.overrides().items():
                if key not in PROPERTY_UNITS:
                    problems.append(f"{section}.{key} = {value!r}: unknown key (a material property: {', '.join(sorted(PROPERTY_UNITS))})")
                    continue
                try:
                    x = to_si(value, PROPERTY_UNITS[key])
                except ValueError as exc:
                    problems.append(f"{section}.{key} = {value!r}: {exc}")
                    continue
                if key == "poisson_ratio" and not -1 < x < 0.5:
                    problems.append(f"{section}.{key} = {value!r}: must be in (-1, 0.5)")
                elif key != "poisson_ratio" and key != "nucleation_overpotential" and x < 0:
                    problems.append(f"{section}.{key} = {value!r}: must be >= 0 {PROPERTY_UNITS[key]}")
                converted[key] = x
            for key, x in converted.items():
                setattr(sec, key, x)  # store SI
    if case.coating.material.lower() != "none" and case.coating.thickness <= 0:
        problems.append(f"coating.thickness = {case.coating.thickness!r}: must be > 0 m for coating.material = '{case.coating.material}' (e.g. '8 nm')")
    if case.coating.thickness >= case.geometry.electrolyte_thickness:
        problems.append(f"coating.thickness = {case.coating.thickness:g} m: must be smaller than geometry.electrolyte_thickness = {case.geometry.electrolyte_thickness:g} m")
    total = sum(layer.thickness for layer in case.coating.stack or [])
    if total >= case.geometry.electrolyte_thickness:
        problems.append(f"coating.stack: total thickness {total:g} m must be smaller than geometry.electrolyte_thickness = "
                        f"{case.geometry.electrolyte_thickness:g} m")
    models = [layer.model for layer in case.coating.stack or []]
    for i in range(1, len(models)):
        if models[i] == "thin" and "resolved" in models[:i]:
            problems.append(f"coating.stack[{i}].model = 'thin': a thin layer above a resolved one is not supported "
                            "(thin layers must come first, next to the metal; use model = 'resolved' for this layer)")
    for i, layer in enumerate(case.coating.stack or []):
        if layer.material.lower() == "none":
            problems.append(f"coating.stack[{i}].material = 'none': every stack layer needs a coating material")
    if not problems:  # temperature / concentration inside the materials' validity ranges (with sources)
        from licoat.solver.sanity import validity_problems

        problems += validity_problems(case)
    if problems:
        raise CaseError("invalid case:\n  " + "\n  ".join(problems))


def load_case(path: str | Path, overrides: list[str] | None = None) -> tuple[Case, dict]:
    """Read, override and validate a case file. Returns (Case, raw dict after overrides)."""
    raw = apply_overrides(read_toml(path), overrides)
    return validate(raw), raw


def resolved_dict(case: Case) -> dict:
    """The fully resolved case (defaults filled, SI floats), without None values (TOML has no null)."""

    def clean(d):
        if isinstance(d, dict):
            return {k: clean(v) for k, v in d.items() if v is not None}
        if isinstance(d, list):  # e.g. [[operation.step]] tables
            return [clean(v) for v in d]
        return d

    return clean(case.model_dump())
