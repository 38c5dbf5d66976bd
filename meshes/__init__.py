"""Geometry: Gmsh models of Li anodes and 3D hosts with tagged regions and interfaces.

This package knows Gmsh and physical-group names, not physics. Every generator takes
geometry parameters in SI units and returns a :class:`~licoat.meshes.common.TaggedMesh`.
"""

from licoat.meshes.common import GeometryError, TaggedMesh
from licoat.meshes.registry import build_mesh, GENERATORS

__all__ = ["GeometryError", "TaggedMesh", "build_mesh", "GENERATORS"]
