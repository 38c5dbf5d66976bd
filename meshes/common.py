"""Shared mesh types: a DOLFINx mesh with its cell and facet tags, addressed by name.

Conventions used by every generator (the public contract between ``meshes`` and ``solver``):

* SI units (metres). The vertical axis is the last coordinate (y in 2D, z in 3D);
  the nominal Li / collector surface lies at vertical = 0 and the top boundary at
  ``electrolyte_thickness`` above the plating surface (planar) or the host (3D hosts).
* Volumes: ``electrolyte``, ``coating`` (resolved model only), ``anode`` (Li), ``host``, ``collector``.
* Interfaces: ``<solid>_coating`` and ``coating_electrolyte`` for coated surfaces,
  ``<solid>_electrolyte`` for bare ones, the outer faces ``top``, ``bottom``,
  ``left``, ``right`` (x) and ``front``, ``back`` (y, 3D).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

import dolfinx  # noqa: E402
import dolfinx.io.gmsh  # noqa: E402


class GeometryError(ValueError):
    """Impossible or invalid geometry; the message names the parameters involved."""


@dataclass
class TaggedMesh:
    """A mesh plus cell and facet tags, with physical groups addressed by name."""

    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags
    facet_tags: dolfinx.mesh.MeshTags
    groups: dict[str, tuple[int, int]]  # name -> (dim, tag)
    info: dict = field(default_factory=dict)  # generator facts (e.g. coating thickness)

    @property
    def dim(self) -> int:
        return self.mesh.topology.dim

    def has(self, name: str) -> bool:
        """True if the physical group exists and is non-empty on some rank."""
        if name not in self.groups:
            return False
        d, tag = self.groups[name]
        tags = self.cell_tags if d == self.dim else self.facet_tags
        n = int(np.count_nonzero(tags.values == tag))
        return self.mesh.comm.allreduce(n, op=MPI.SUM) > 0

    def tag(self, name: str) -> int:
        try:
            return self.groups[name][1]
        except KeyError:
            raise KeyError(f"mesh has no physical group '{name}' (has: {sorted(self.groups)})") from None

    def cells(self, *names: str) -> np.ndarray:
        """Local indices of the cells in the named volumes."""
        tags = [self.tag(n) for n in names if n in self.groups]
        return np.sort(self.cell_tags.indices[np.isin(self.cell_tags.values, tags)]).astype(np.int32)

    def facets(self, *names: str) -> np.ndarray:
        tags = [self.tag(n) for n in names if n in self.groups]
        return np.sort(self.facet_tags.indices[np.isin(self.facet_tags.values, tags)]).astype(np.int32)


@contextlib.contextmanager
def gmsh_model(name: str, verbosity: int = 0):
    """A fresh Gmsh model; Gmsh is initialised here and finalised on exit."""
    import gmsh

    started = not gmsh.isInitialized()
    if started:
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 1 if verbosity else 0)
    gmsh.option.setNumber("General.Verbosity", verbosity)
    gmsh.model.add(name)
    try:
        yield gmsh
    finally:
        gmsh.model.remove()
        if started:
            gmsh.finalize()


#: Gmsh models are built in micrometres: OpenCASCADE's default tolerance (1e-7 model
#: units) would swallow nanometre coatings if the model were built in metres.
GMSH_UNIT = 1e-6


def to_dolfinx(comm: MPI.Comm, build, gdim: int, **info) -> TaggedMesh:
    """Run ``build(gmsh)`` on rank 0, then distribute the model with dolfinx.io.gmsh.

    ``build`` works in micrometres (:data:`GMSH_UNIT`); the DOLFINx mesh is in metres.

    ``build`` creates the geometry, physical groups and the mesh. Errors raised on rank 0
    (e.g. GeometryError) are broadcast so every rank raises the same exception.
    """
    error = None
    with gmsh_model("licoat") as gmsh:
        if comm.rank == 0:
            try:
                extra = build(gmsh) or {}
                info.update(extra)
            except Exception as exc:  # noqa: BLE001 - re-raised on all ranks below
                error = exc
        error = comm.bcast(error, root=0)
        if error is not None:
            raise error
        info = comm.bcast(info, root=0)
        data = dolfinx.io.gmsh.model_to_mesh(gmsh.model, comm, 0, gdim=gdim)
    data.mesh.geometry.x[:] *= GMSH_UNIT
    groups = {name: (pg.dim, pg.tag) for name, pg in data.physical_groups.items()}
    mesh = data.mesh
    mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
    return TaggedMesh(mesh, data.cell_tags, data.facet_tags, groups, info)


def graded_layers(thickness: float, h_fine: float, h_coarse: float, ratio: float = 1.25):
    """Cell heights for an extruded layer: ``h_fine`` at its base growing geometrically to ``h_coarse``.

    Returns (numElements, heights) as Gmsh's extrude expects (cumulative, normalised).
    """
    h_fine = min(h_fine, thickness)
    sizes, total, h = [], 0.0, h_fine
    while total + h < thickness * (1 - 1e-9):
        sizes.append(h)
        total += h
        h = min(h * ratio, h_coarse)
    sizes.append(thickness - total)
    if len(sizes) > 1 and sizes[-1] < 0.5 * sizes[-2]:  # merge a sliver into its neighbour
        last = sizes.pop()
        sizes[-1] += last
    cum = np.cumsum(sizes) / thickness
    cum[-1] = 1.0
    return [1] * len(sizes), [float(x) for x in cum]


def uniform_layers(thickness: float, h: float):
    n = max(1, int(np.ceil(thickness / h - 1e-9)))
    return [n], [1.0]
