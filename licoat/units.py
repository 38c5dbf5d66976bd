"""Units at the edges: pint parses case-file strings ("8 nm", "2 mA/cm^2", "25 degC") into SI floats."""

from __future__ import annotations

import pint

from licoat.materials import unit_registry


def registry() -> pint.UnitRegistry:
    """The process's pint registry (shared with the materials loader: one costs ~0.9 s to build)."""
    return unit_registry()


EXAMPLES = {
    "m": "8 nm",
    "A/m^2": "2 mA/cm^2",
    "V": "-50 mV",
    "K": "25 degC",
    "s": "1 h",
    "S/m": "1e-6 S/cm",
    "m^2/s": "3e-10 m^2/s",
    "mol/m^3": "1 mol/L",
    "Pa": "4.25 GPa",
    "m^3/mol": "13 cm^3/mol",
    "J/m^2": "0.556 J/m^2",
    "C/m^2": "1 mAh/cm^2",
    "dimensionless": "0.3",
}


def to_si(value, unit: str) -> float:
    """Convert a string with units (or a bare number, taken as SI) to a float in ``unit``.

    Raises ValueError with the expected unit and an example when the value cannot be converted.
    """
    example = EXAMPLES.get(unit, f"a value in {unit}")
    if isinstance(value, bool):
        raise ValueError(f"expected a number or a string with units convertible to {unit}, e.g. '{example}'")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a number or a string with units convertible to {unit}, e.g. '{example}'")
    ureg = registry()
    try:
        q = ureg.Quantity(value.strip())
    except Exception:
        raise ValueError(f"cannot parse as a quantity; expected units convertible to {unit}, e.g. '{example}'") from None
    target = ureg.dimensionless if unit == "dimensionless" else ureg.Unit(unit)
    try:
        return float(q.to(target).magnitude)
    except pint.DimensionalityError:
        raise ValueError(f"wrong unit '{q.units:~}': expected units convertible to {unit}, e.g. '{example}'") from None


def format_si(value: float, unit: str) -> str:
    return f"{value:.6g} {unit}"
