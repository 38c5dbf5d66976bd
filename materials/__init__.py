"""Cited materials database for licoat (``licoat.materials``).

One TOML file per material lives in ``materials/data/<name>.toml``::

    name = "LiF"
    kind = "coating"                 # coating | electrolyte | metal | host
    description = "..."
    [properties.ionic_conductivity]
    value = 1e-14
    unit = "S/cm"                    # any pint-parsable unit, converted to SI on load
    source = "..."                   # always required

A property may give ``expression`` (a function of ``c``, the salt concentration in
mol/L, whose result is in ``unit``) instead of ``value``; electrolytes use this for
concentration-dependent fits.

Every file is validated on load: unknown property names, units that do not convert
to :data:`PROPERTY_UNITS`, missing/empty sources, a ``name`` that does not match the
file name, or an expression that uses anything but ``c``, numbers, arithmetic and
``exp/log/log10/sqrt`` raise :class:`MaterialError` naming the file and the key.

This module has no DOLFINx dependency; solvers turn properties into UFL through
:meth:`Property.expression_si`.
"""

from __future__ import annotations

import ast
import math
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pint

__all__ = [
    "DATA_DIR",
    "KINDS",
    "PROPERTY_UNITS",
    "Material",
    "MaterialError",
    "Property",
    "VALIDITY_UNITS",
    "ValidityRange",
    "format_material",
    "format_table",
    "list_materials",
    "load_file",
    "load_material",
    "material_names",
]

DATA_DIR = Path(__file__).resolve().parent / "data"

KINDS: tuple[str, ...] = ("coating", "electrolyte", "metal", "host")

#: Canonical property names and the SI unit every value is converted to.
PROPERTY_UNITS: dict[str, str] = {
    "ionic_conductivity": "S/m",  # Li+ conductivity of a solid (single-ion conductor)
    "electronic_conductivity": "S/m",
    "shear_modulus": "Pa",
    "youngs_modulus": "Pa",
    "poisson_ratio": "dimensionless",
    "li_partial_molar_volume": "m^3/mol",  # V_+ of Li+ in the solid (mechanics.md)
    "molar_volume": "m^3/mol",
    "density": "kg/m^3",
    "surface_tension": "J/m^2",
    "exchange_current_density": "A/m^2",
    "nucleation_overpotential": "V",
    "alpha_a": "dimensionless",
    "alpha_c": "dimensionless",
    "conductivity": "S/m",  # liquid electrolyte conductivity kappa(c)
    "diffusivity": "m^2/s",  # salt diffusivity D(c)
    "transference_number": "dimensionless",
    "thermodynamic_factor": "dimensionless",
    "concentration": "mol/m^3",
    "typical_thickness": "m",
    "growth_per_cycle": "m",
    # plating history (solver/surface_state.py): conversion/alloying of a lithiophilic film, nucleation
    "conversion_capacity": "C/m^3",  # Li charge the film takes up per film volume before Li metal plates
    "conversion_potential_high": "V",  # vs Li, where the conversion starts
    "conversion_potential_low": "V",  # vs Li, where it ends
    "conversion_exchange_current_density": "A/m^2",
    "nucleation_rate": "1/s",  # nu0: J0 = nu0 N_ref nuclei/(m^2 s) well past the nucleation overpotential
    "nucleation_barrier": "dimensionless",  # classical barrier at the nucleation overpotential, in kT
    "coalescence_thickness": "m",  # Li deposit that covers a surface of N_ref = 4/(9 pi delta_c^2) nuclei
}

@lru_cache(maxsize=1)
def unit_registry() -> pint.UnitRegistry:
    """The one pint registry of the process (building one costs ~0.9 s; the case glue uses it too)."""
    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    ureg.define("molar = mol / L = M")
    return ureg

_TOP_KEYS = {"name", "kind", "description", "properties", "validity"}

#: Quantities a material's ``[validity.<quantity>]`` range may bound, and their SI units.
VALIDITY_UNITS: dict[str, str] = {"temperature": "K", "concentration": "mol/m^3"}
_PROP_KEYS = {"value", "expression", "unit", "source", "note", "low", "high", "range_source"}

_EXPR_FUNCS = {"exp": math.exp, "log": math.log, "log10": math.log10, "sqrt": math.sqrt}
_EXPR_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Call,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
    ast.UAdd,
)


class MaterialError(KeyError):
    """Unknown material/property, or an invalid materials file."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def _unit_factor(unit: str, si_unit: str, where: str) -> float:
    """Factor f such that value[unit] * f = value[si_unit]."""
    u = unit.strip() or "dimensionless"
    try:
        q = unit_registry().Quantity(1.0, u)
        return float(q.to(si_unit).magnitude)
    except pint.DimensionalityError as exc:
        raise MaterialError(f"{where}: unit {unit!r} does not convert to {si_unit!r}") from exc
    except Exception as exc:  # undefined unit, parse error
        raise MaterialError(f"{where}: cannot parse unit {unit!r} ({exc})") from exc


def _compile_expression(expr: str, where: str):
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise MaterialError(f"{where}: invalid expression {expr!r} ({exc.msg})") from exc
    for node in ast.walk(tree):
        if not isinstance(node, _EXPR_NODES):
            raise MaterialError(f"{where}: expression {expr!r} uses {type(node).__name__}")
        if isinstance(node, ast.Name) and node.id != "c" and node.id not in _EXPR_FUNCS:
            raise MaterialError(
                f"{where}: expression {expr!r} uses unknown name {node.id!r} "
                f"(allowed: c, {', '.join(_EXPR_FUNCS)})"
            )
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _EXPR_FUNCS
        ):
            raise MaterialError(f"{where}: expression {expr!r} calls an unknown function")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise MaterialError(f"{where}: expression {expr!r} has a non-numeric constant")
    return compile(tree, f"<{where}>", "eval")


@dataclass(frozen=True)
class Property:
    """One cited property. ``value`` is SI; ``unit`` is the unit as written in the file."""

    name: str
    value: float | None
    expression: str | None
    unit: str
    source: str
    si_unit: str
    factor: float = 1.0  # unit -> SI
    note: str = ""
    _code: object = field(default=None, repr=False, compare=False)
    #: uncertainty range of an estimated value (SI; file: ``low``/``high`` in ``unit``, ``range_source``)
    low: float | None = None
    high: float | None = None
    range_source: str = ""

    @property
    def raw_value(self) -> float | None:
        """The value in the unit as written (None for expressions)."""
        return None if self.value is None else self.value / self.factor

    def at(self, c_mol_per_m3: float | None = None) -> float:
        """SI value; expressions are evaluated at ``c`` given in mol/m^3."""
        if self.expression is None:
            return float(self.value)  # type: ignore[arg-type]
        if c_mol_per_m3 is None:
            raise MaterialError(
                f"property {self.name!r} is a function of concentration ({self.expression}); "
                "give c in mol/m^3"
            )
        c_mol_per_l = float(c_mol_per_m3) / 1000.0
        raw = eval(self._code, {"__builtins__": {}, **_EXPR_FUNCS}, {"c": c_mol_per_l})  # noqa: S307
        return float(raw) * self.factor

    def expression_si(self) -> tuple[str, float] | None:
        """``(expr, factor)``: SI value = factor * expr(c) with c in mol/L; None for constants."""
        if self.expression is None:
            return None
        return self.expression, self.factor

    @property
    def is_function(self) -> bool:
        return self.expression is not None


@dataclass(frozen=True)
class ValidityRange:
    """Range [min, max] (SI) over which a material's property data hold, with its source.

    File form: ``[validity.temperature] min = 15, max = 35, unit = "degC", source = "..."``."""

    quantity: str
    min: float | None
    max: float | None
    unit: str
    source: str

    def contains(self, x: float) -> bool:
        return (self.min is None or x >= self.min * (1 - 1e-12)) and (self.max is None or x <= self.max * (1 + 1e-12))

    def describe(self) -> str:
        u = VALIDITY_UNITS[self.quantity]
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "inf" if self.max is None else f"{self.max:g}"
        return f"[{lo}, {hi}] {u}"


def _parse_validity(raw, where: str) -> dict[str, ValidityRange]:
    if not isinstance(raw, dict):
        raise MaterialError(f"{where}: 'validity' must be a table")
    out = {}
    for q, entry in raw.items():
        if q not in VALIDITY_UNITS:
            raise MaterialError(f"{where}: validity.{q}: unknown quantity (known: {', '.join(VALIDITY_UNITS)})")
        if not isinstance(entry, dict) or set(entry) - {"min", "max", "unit", "source", "note"}:
            raise MaterialError(f"{where}: validity.{q} must be a table of min, max, unit, source")
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise MaterialError(f"{where}: validity.{q} has no source")
        unit = entry.get("unit")
        if not isinstance(unit, str):
            raise MaterialError(f"{where}: validity.{q} has no unit")
        bounds = {}
        for b in ("min", "max"):
            v = entry.get(b)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise MaterialError(f"{where}: validity.{q}.{b} = {v!r} is not a finite number")
            try:
                bounds[b] = None if v is None else float(unit_registry().Quantity(float(v), unit).to(VALIDITY_UNITS[q]).magnitude)
            except Exception as exc:
                raise MaterialError(f"{where}: validity.{q}: unit {unit!r} does not convert to {VALIDITY_UNITS[q]!r} ({exc})") from exc
        if bounds["min"] is None and bounds["max"] is None:
            raise MaterialError(f"{where}: validity.{q} needs min and/or max")
        out[q] = ValidityRange(q, bounds["min"], bounds["max"], unit, source.strip())
    return out


@dataclass(frozen=True)
class Material:
    name: str
    kind: str
    description: str
    properties: dict[str, Property]
    path: Path | None = None
    #: ranges of temperature / concentration over which the property data hold (with sources)
    validity: dict[str, ValidityRange] = field(default_factory=dict)

    def has(self, prop: str) -> bool:
        return prop in self.properties

    def property(self, prop: str) -> Property:
        try:
            return self.properties[prop]
        except KeyError:
            raise MaterialError(
                f"material {self.name!r} has no property {prop!r} "
                f"(available: {', '.join(sorted(self.properties))})"
            ) from None

    def value(self, prop: str, c: float | None = None) -> float:
        """SI value of ``prop``. For concentration fits, ``c`` is in mol/m^3 and defaults to
        the material's own ``concentration`` property."""
        p = self.property(prop)
        if p.expression is not None and c is None and "concentration" in self.properties:
            c = self.properties["concentration"].at()
        return p.at(c)

    def get(self, prop: str, default=None, c: float | None = None):
        """SI value of ``prop`` or ``default`` when the material does not list it."""
        if prop not in self.properties:
            return default
        return self.value(prop, c)

    def source(self, prop: str) -> str:
        return self.property(prop).source


def _parse_range(entry: dict, value: float, pname: str, where: str):
    """``low``/``high`` (in the property's unit, low <= value <= high) and ``range_source`` (the reasoning)."""
    if not ({"low", "high", "range_source"} & set(entry)):
        return None, None, ""
    lo, hi, why = entry.get("low"), entry.get("high"), entry.get("range_source")
    for k, v in (("low", lo), ("high", hi)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise MaterialError(f"{where}: property {pname!r} {k} = {v!r}: expected a finite number in its unit")
    if not lo <= value <= hi:
        raise MaterialError(f"{where}: property {pname!r}: needs low <= value <= high (got {lo!r}, {value!r}, {hi!r})")
    if not isinstance(why, str) or not why.strip():
        raise MaterialError(f"{where}: property {pname!r} has low/high but no range_source (the reasoning)")
    return float(lo), float(hi), why.strip()


def _parse_property(pname: str, entry, where: str) -> Property:
    if pname not in PROPERTY_UNITS:
        raise MaterialError(
            f"{where}: unknown property {pname!r} (known: {', '.join(sorted(PROPERTY_UNITS))})"
        )
    if not isinstance(entry, dict):
        raise MaterialError(f"{where}: property {pname!r} must be a table")
    extra = set(entry) - _PROP_KEYS
    if extra:
        raise MaterialError(f"{where}: property {pname!r} has unknown keys {sorted(extra)}")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise MaterialError(f"{where}: property {pname!r} has no source")
    if "unit" not in entry or not isinstance(entry["unit"], str):
        raise MaterialError(f"{where}: property {pname!r} has no unit")
    has_v, has_e = "value" in entry, "expression" in entry
    if has_v == has_e:
        raise MaterialError(f"{where}: property {pname!r} needs exactly one of value / expression")
    si_unit = PROPERTY_UNITS[pname]
    factor = _unit_factor(entry["unit"], si_unit, f"{where}: property {pname!r}")
    note = str(entry.get("note", ""))
    if has_v:
        v = entry["value"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise MaterialError(f"{where}: property {pname!r} value {v!r} is not a finite number")
        low, high, why = _parse_range(entry, float(v), pname, where)
        return Property(pname, float(v) * factor, None, entry["unit"], source.strip(), si_unit,
                        factor, note, low=None if low is None else low * factor,
                        high=None if high is None else high * factor, range_source=why)
    expr = entry["expression"]
    if not isinstance(expr, str) or not expr.strip():
        raise MaterialError(f"{where}: property {pname!r} expression must be a string")
    code = _compile_expression(expr, f"{where}: property {pname!r}")
    prop = Property(pname, None, expr, entry["unit"], source.strip(), si_unit, factor, note, code)
    try:
        test = prop.at(1000.0)
    except Exception as exc:
        raise MaterialError(f"{where}: property {pname!r} expression fails at c = 1 M ({exc})") from exc
    if not math.isfinite(test):
        raise MaterialError(f"{where}: property {pname!r} expression is not finite at c = 1 M")
    return prop


def load_file(path: str | Path) -> Material:
    """Load and validate one materials TOML file."""
    path = Path(path)
    where = str(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise MaterialError(f"{where}: invalid TOML ({exc})") from exc
    extra = set(data) - _TOP_KEYS
    if extra:
        raise MaterialError(f"{where}: unknown top-level keys {sorted(extra)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise MaterialError(f"{where}: missing 'name'")
    if name != path.stem:
        raise MaterialError(f"{where}: 'name' = {name!r} does not match the file name {path.stem!r}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise MaterialError(f"{where}: 'kind' = {kind!r} is not one of {', '.join(KINDS)}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise MaterialError(f"{where}: 'description' must be a string")
    props_raw = data.get("properties", {})
    if not isinstance(props_raw, dict):
        raise MaterialError(f"{where}: 'properties' must be a table")
    props = {k: _parse_property(k, v, where) for k, v in props_raw.items()}
    validity = _parse_validity(data.get("validity", {}), where)
    return Material(name=name, kind=kind, description=description, properties=props, path=path, validity=validity)


@lru_cache(maxsize=16)
def _load_dir(directory: str) -> tuple[Material, ...]:
    d = Path(directory)
    if not d.is_dir():
        raise MaterialError(f"materials directory {directory!r} does not exist")
    mats = [load_file(p) for p in sorted(d.glob("*.toml"))]
    order = {k: i for i, k in enumerate(KINDS)}
    return tuple(sorted(mats, key=lambda m: (order[m.kind], m.name.lower())))


def _dir(directory: str | Path | None) -> str:
    return str(Path(directory).resolve()) if directory is not None else str(DATA_DIR)


def list_materials(directory: str | Path | None = None) -> list[Material]:
    """All materials, sorted by kind (coating, electrolyte, metal, host) then name."""
    return list(_load_dir(_dir(directory)))


def material_names(directory: str | Path | None = None) -> list[str]:
    return [m.name for m in list_materials(directory)]


def load_material(name: str, directory: str | Path | None = None) -> Material:
    """Material by name, case-insensitive."""
    mats = list_materials(directory)
    for m in mats:
        if m.name.lower() == str(name).lower():
            return m
    raise MaterialError(
        f"unknown material {name!r} (available: {', '.join(sorted(m.name for m in mats))})"
    )


def clear_cache() -> None:
    """Forget loaded directories (after editing files in a running session)."""
    _load_dir.cache_clear()


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _short(p: Property) -> str:
    if p.expression is not None:
        return f"f(c) [{p.unit}]"
    return f"{_fmt(p.raw_value)} {p.unit}".strip()


_TABLE_PROPS = (
    ("ionic_conductivity", "Li+ cond."),
    ("conductivity", "Li+ cond."),
    ("shear_modulus", "G"),
    ("typical_thickness", "thickness"),
)


def format_table(materials=None) -> str:
    """Plain-text overview (one line per material) for ``licoat materials``."""
    if materials is None:
        materials = list_materials()
    rows = [("name", "kind", "Li+ conductivity", "G", "thickness", "description")]
    for m in materials:
        cond = m.properties.get("ionic_conductivity") or m.properties.get("conductivity")
        g = m.properties.get("shear_modulus")
        t = m.properties.get("typical_thickness")
        desc = m.description if len(m.description) <= 60 else m.description[:57] + "..."
        rows.append((
            m.name,
            m.kind,
            _short(cond) if cond else "-",
            _short(g) if g else "-",
            _short(t) if t else "-",
            desc,
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for j, r in enumerate(rows):
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5])
        if j == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 11)
    return "\n".join(line.rstrip() for line in lines)


def format_material(material: Material | str) -> str:
    """Every property: value with unit as written, SI value, and source."""
    m = load_material(material) if isinstance(material, str) else material
    out = [f"{m.name} ({m.kind})"]
    if m.description:
        out.append(f"  {m.description}")
    for pname in sorted(m.properties):
        p = m.properties[pname]
        if p.expression is not None:
            line = f"  {pname}: {p.expression}  [{p.unit}, c in mol/L]"
            if "concentration" in m.properties:
                line += f"  = {_fmt(m.value(pname))} {p.si_unit} at c0"
        else:
            si = "" if p.si_unit == "dimensionless" else f" {p.si_unit}"
            line = f"  {pname}: {_fmt(p.raw_value)} {p.unit}  (SI: {_fmt(p.value)}{si})"
        out.append(line)
        out.append(f"      source: {p.source}")
        if p.note:
            out.append(f"      note: {p.note}")
        if p.low is not None:
            out.append(f"      range: {_fmt(p.low / p.factor)} to {_fmt(p.high / p.factor)} {p.unit}: {p.range_source}")
    for q, r in sorted(m.validity.items()):  # where the property data hold
        out.append(f"  valid for {q} in {r.describe()}")
        out.append(f"      source: {r.source}")
    return "\n".join(out)
