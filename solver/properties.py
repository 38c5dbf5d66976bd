"""Resolved physical parameters (SI) that the forms consume: electrolyte, coating, kinetics, operation.

Built from the case file and the materials database by the CLI glue; the solver never reads
TOML. Concentration-dependent properties are kept as expressions in c [mol/L] (as the fits are
published) and turned into UFL or numbers on demand, so one definition serves forms and reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from licoat.constants import FARADAY, GAS_CONSTANT


@dataclass(frozen=True)
class Fit:
    """A property that is either a constant (SI) or an expression in c [mol/L] times ``factor`` to SI."""

    constant: float | None = None
    expression: str | None = None
    factor: float = 1.0

    def _eval(self, c_molL, sqrt, exp, log):
        ns = {"__builtins__": {}, "c": c_molL, "sqrt": sqrt, "exp": exp, "log": log,
              "log10": lambda x: log(x) / math.log(10.0)}
        return eval(self.expression, ns) * self.factor  # noqa: S307 - trusted package data

    def at(self, c: float) -> float:
        """Value (SI) at concentration c [mol/m^3]."""
        if self.expression is None:
            return float(self.constant)
        return float(self._eval(max(c, 0.0) / 1000.0, math.sqrt, math.exp, math.log))

    def ufl(self, c):
        """UFL expression at the concentration field c [mol/m^3] (clipped at 0 to keep fractional powers real)."""
        import ufl

        if self.expression is None:
            return self.constant
        c_pos = ufl.max_value(c, 0.0) / 1000.0
        return self._eval(c_pos, ufl.sqrt, ufl.exp, ufl.ln)


@dataclass(frozen=True)
class Electrolyte:
    """Binary salt in a solvent (concentrated-solution theory, Newman ch. 12)."""

    name: str
    concentration: float  # bulk c0, mol/m^3
    conductivity: Fit  # kappa(c), S/m
    diffusivity: Fit  # D(c), m^2/s
    transference_number: float  # t+, -
    thermodynamic_factor: float = 1.0  # 1 + dln f/dln c, -


@dataclass(frozen=True)
class Coating:
    """Single-ion (t+ = 1) conducting film of thickness ``thickness`` on a plating surface."""

    name: str
    thickness: float  # m
    ionic_conductivity: float  # S/m
    model: str = "resolved"  # "resolved" | "thin"
    electronic_conductivity: float = 0.0  # S/m
    # optional spatially varying ASR [Ohm m^2] of a thin film (e.g. defects): a callable taking the
    # ionic TaggedMesh the problem lives on and returning a UFL expression / Function on it
    asr_field: object = None

    @property
    def area_specific_resistance(self) -> float:
        """ASR = t / kappa_c [Ohm m^2]."""
        return self.thickness / self.ionic_conductivity


@dataclass(frozen=True)
class CoatingStack:
    """Coating layers from the metal outwards. Thin layers (model "thin") must come first: they sit on
    the metal surface as series area-specific resistances, under any resolved layers (mesh volumes)."""

    layers: tuple = ()

    @classmethod
    def of(cls, coating) -> "CoatingStack":
        if coating is None:
            return cls(())
        if isinstance(coating, CoatingStack):
            return coating
        return cls((coating,))

    def __post_init__(self):
        models = [layer.model for layer in self.layers]
        if "thin" in models and "resolved" in models[: len(models) - models[::-1].index("thin")]:
            k = models.index("resolved")
            raise ValueError(f"coating.stack[{k + models[k:].index('thin')}].model = 'thin': a thin layer above a "
                             "resolved one is not supported (thin layers must be next to the metal)")

    @property
    def thin_layers(self) -> list:
        return [layer for layer in self.layers if layer.model == "thin"]

    @property
    def resolved_layers(self) -> list:
        return [layer for layer in self.layers if layer.model != "thin"]

    @property
    def uniform_asr(self) -> float:
        """Σ t_k/κ_k over all layers [Ω m²]."""
        return float(sum(layer.area_specific_resistance for layer in self.layers))

    def __len__(self):
        return len(self.layers)

    # the stack seen as one film (reports and checks that need one number)
    @property
    def name(self) -> str:
        return "/".join(layer.name for layer in self.layers)

    @property
    def model(self) -> str:
        models = {layer.model for layer in self.layers}
        return models.pop() if len(models) == 1 else "mixed"

    @property
    def thickness(self) -> float:
        return float(sum(layer.thickness for layer in self.layers))

    @property
    def area_specific_resistance(self) -> float:
        return self.uniform_asr

    @property
    def ionic_conductivity(self) -> float:
        """Effective conductivity of the stack in series: Σt / Σ(t/κ) [S/m]."""
        return self.thickness / self.uniform_asr

    @property
    def electronic_conductivity(self) -> float:
        """Effective electronic conductivity in series (0 when any layer blocks electrons) [S/m]."""
        if any(layer.electronic_conductivity <= 0 for layer in self.layers):
            return 0.0
        return self.thickness / sum(layer.thickness / layer.electronic_conductivity for layer in self.layers)


@dataclass(frozen=True)
class Kinetics:
    """Butler–Volmer kinetics i_n = i0 (c/c0)^gamma [exp(alpha_a f eta) - exp(-alpha_c f eta)].

    ``concentration_exponent`` gamma is alpha_a at a Li|liquid electrolyte interface and 0 at a
    Li|solid (coating) interface, where the Li+ activity does not change.
    """

    exchange_current_density: float  # A/m^2
    alpha_a: float = 0.5
    alpha_c: float = 0.5
    concentration_exponent: float = 0.0
    nucleation_overpotential: float = 0.0  # V (magnitude); 0: Li already present
    nucleation_width: float = 5e-3  # V, width of the smooth activation
    active: bool = True  # False: a blocked surface (no reaction)
    form: str = "butler-volmer"  # "butler-volmer" | "linear" | "tafel" (cathodic branch only)

    def current(self, eta, f, exp, where=None):
        """Reaction current density i_n(eta) [A/m^2], anodic positive, without concentration factor."""
        i0 = self.exchange_current_density
        if self.form == "linear":  # i_n = i0 (alpha_a + alpha_c) f eta
            return i0 * (self.alpha_a + self.alpha_c) * f * eta
        if self.form == "tafel":  # i_n = -i0 exp(-alpha_c f eta)
            return butler_volmer(eta, i0, 0.0, self.alpha_c, f, exp, where) - i0
        return butler_volmer(eta, i0, self.alpha_a, self.alpha_c, f, exp, where)

    def activation(self, eta, exp):
        """Smooth nucleation switch a(eta) = 1 / (1 + exp((eta + eta_nuc)/w)) (plating: eta < 0).

        A surface without Li carries no current until the cathodic overpotential exceeds the
        nucleation overpotential eta_nuc (Pei et al., Nano Lett. 17 (2017) 1132; Oyakhire et al.,
        Adv. Energy Mater. 10 (2020) 2002736); the logistic keeps the Jacobian smooth for Newton.
        """
        if self.nucleation_overpotential <= 0:
            return 1.0
        return 1.0 / (1.0 + exp((eta + self.nucleation_overpotential) / self.nucleation_width))


@dataclass(frozen=True)
class Operation:
    mode: str  # "galvanostatic" | "potentiostatic"
    current_density: float | None  # A/m^2 of footprint, plating positive
    voltage: float | None  # V, plating electrode vs top
    temperature: float  # K
    counter: str = "reservoir"  # "reservoir" | "lithium"
    # a protocol that holds the voltage in some steps and sets the current in others: a Cycler control
    voltage_holds: bool = False

    @property
    def thermal_voltage(self) -> float:
        """RT/F [V]."""
        return GAS_CONSTANT * self.temperature / FARADAY


EXP_LINEAR_ABOVE = 50.0


def butler_volmer(eta, i0, alpha_a, alpha_c, f, exp, where=None):
    """i_n = i0 [exp(alpha_a f eta) - exp(-alpha_c f eta)], anodic positive [A/m^2].

    ``exp`` is numpy's or UFL's. With ``where(cond, a, b)`` given, exp(x) is continued linearly
    (C1) above x = 50 so that a far-off Newton iterate neither overflows nor loses its
    derivative (a hard clip would make the Jacobian vanish and stall Newton).
    """

    def e(x):
        if where is None:
            return exp(x)
        X = EXP_LINEAR_ABOVE
        return where(x < X, exp(x), exp(X) * (1.0 + x - X))

    return i0 * (e(alpha_a * f * eta) - e(-alpha_c * f * eta))
