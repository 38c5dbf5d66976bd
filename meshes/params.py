"""Geometry parameters as a typed object: every field is a case key (SI units).

The ``[geometry]`` keys of a case, plus what the mesher needs from ``[coating]`` (the resolved
layers' thicknesses, the coating model, cells across each resolved layer, defects) and ``[host]``
(its material). Generators read fields by name (``p.get("pitch")``, ``p["dim"]``); a name that is
not a field raises, so no generator can depend on a key that no case file can set. Tuning constants
of the generators (attempt counts, jitter, sample sizes) are module constants next to their use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from licoat.meshes.common import GeometryError


@dataclass(frozen=True)
class GeometryParams:
    kind: str = "planar"
    dim: int = 2
    width: float | None = None
    depth: float | None = None
    electrolyte_thickness: float | None = None
    mesh_size: float | None = None
    interface_mesh_size: float | None = None
    anode_thickness: float | None = None
    periodic: bool = False
    # perturbed planar anodes
    amplitude: float | None = None
    wavelength: float | None = None
    bump_radius: float | None = None
    # 3D hosts
    pillar_diameter: float | None = None
    pillar_height: float | None = None
    pitch: float | None = None
    lattice: str = "square"
    fiber_diameter: float | None = None
    fiber_volume_fraction: float | None = None
    fiber_min_gap: float | None = None
    host_thickness: float | None = None
    orientation: str = "aligned"
    fiber_max_inclination: float | None = None  # random3d networks: largest fibre inclination [rad]
    seed: int = 0
    pore_size: float | None = None
    strut_diameter: float | None = None
    porosity: float | None = None
    collector_thickness: float | None = None
    mesh_algorithm3d: int | None = None  # Gmsh 3D algorithm (1 Delaunay, 10 HXT); None: generator's choice
    # from [coating] and [host]
    coating_thickness: float = 0.0  # total of the resolved layers (resolved) or of the thin ones (thin)
    coating_model: str = "resolved"
    coating_stack: tuple | None = None  # resolved layer thicknesses from the metal outwards (a stack)
    coating_cells: int = 2  # cells across each resolved layer ([coating] layers)
    defects: object = None  # defect layout of the coating (meshes/defects.py)
    host_material: str = "Cu"

    @classmethod
    def from_dict(cls, p: dict) -> "GeometryParams":
        if isinstance(p, GeometryParams):
            return p
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(p) - names)
        if unknown:
            raise GeometryError(f"geometry parameter(s) {', '.join(unknown)} are not case keys (known: {', '.join(sorted(names))})")
        q = {k: v for k, v in p.items() if v is not None}
        if "coating_stack" in q:
            q["coating_stack"] = tuple(q["coating_stack"])
        return cls(**q)

    def get(self, key: str, default=None):
        if key not in self.__dataclass_fields__:
            raise KeyError(f"'{key}' is not a geometry parameter (a case key)")
        value = getattr(self, key)
        return default if value is None else value

    def __getitem__(self, key: str):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return key in self.__dataclass_fields__ and getattr(self, key) is not None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}
