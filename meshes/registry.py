"""Dispatch from ``[geometry] kind`` to a generator."""

from __future__ import annotations

from licoat.meshes import bump, fibers, foam, pillars, planar, sinusoid
from licoat.meshes.common import GeometryError, TaggedMesh
from licoat.meshes.params import GeometryParams

GENERATORS = {"planar": planar.build, "sinusoid": sinusoid.build, "bump": bump.build, "pillars": pillars.build,
              "fibers": fibers.build, "foam": foam.build}


def build_mesh(comm, params: dict) -> TaggedMesh:
    """Build the mesh for ``params['kind']``; ``params`` holds SI floats."""
    kind = params["kind"]
    try:
        gen = GENERATORS[kind]
    except KeyError:
        raise GeometryError(f"geometry.kind = '{kind}' is not available (choose one of {sorted(GENERATORS)})") from None
    return gen(comm, GeometryParams.from_dict(params))
