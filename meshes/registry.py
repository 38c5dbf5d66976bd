"""Dispatch from ``[geometry] kind`` to a generator."""

from __future__ import annotations

from licoat.meshes import bump, planar, sinusoid
from licoat.meshes.common import GeometryError, TaggedMesh

GENERATORS = {"planar": planar.build, "sinusoid": sinusoid.build, "bump": bump.build}

try:  # 3D hosts
    from licoat.meshes import pillars

    GENERATORS["pillars"] = pillars.build
except ImportError:  # pragma: no cover - during development
    pass
try:
    from licoat.meshes import fibers

    GENERATORS["fibers"] = fibers.build
except ImportError:  # pragma: no cover
    pass
try:
    from licoat.meshes import foam

    GENERATORS["foam"] = foam.build
except ImportError:  # pragma: no cover
    pass


def build_mesh(comm, params: dict) -> TaggedMesh:
    """Build the mesh for ``params['kind']``; ``params`` holds SI floats."""
    kind = params["kind"]
    try:
        gen = GENERATORS[kind]
    except KeyError:
        raise GeometryError(f"geometry.kind = '{kind}' is not available (choose one of {sorted(GENERATORS)})") from None
    return gen(comm, params)
