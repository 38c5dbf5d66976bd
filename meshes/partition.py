"""Distributing a tagged mesh over the ranks: every volume shared equally.

A graph partitioner balances cells, but the solvers' work lives in some volumes only: Li+ transport
in the electrolyte and coating layers, the metal potential in a conducting host, elasticity in the
solids. On the issue-12 planar cell (a 10 um Li slab under 50 um of electrolyte, 1.4 M cells) the
partitioner gave one of 2 ranks all 256 k anode cells and 448 k electrolyte cells and the other
697 k electrolyte cells: 1.56x the transport work, which bounds the 2-rank efficiency at 78 %.

:func:`balance_volumes` partitions the cells of each volume on their own with DOLFINx's graph
partitioner (so every rank gets an equal share of every volume, hence of any union of volumes a
solver works on), numbers each volume's parts after the rank whose share of the largest volume is
nearest (their centroids matched by ``scipy.optimize.linear_sum_assignment``, which keeps a
volume's part next to the part of the largest volume on the same rank where the geometry allows),
and redistributes the mesh with its tags (:func:`redistribute`). Nothing is gathered on one rank.
"""

from __future__ import annotations

import numpy as np

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

import ufl  # noqa: E402
from dolfinx import mesh as dmesh  # noqa: E402
from dolfinx.graph import adjacencylist  # noqa: E402
from dolfinx.io import distribute_entity_data  # noqa: E402

from licoat.meshes.common import TaggedMesh  # noqa: E402

#: A volume with fewer cells than this per rank is not partitioned on its own: its cells follow the
#: nearest part of the largest volume (a graph partitioner needs a graph to cut).
MIN_CELLS_PER_RANK = 16


def _owned_cells(msh):
    """(this rank's owned cells as global geometry node numbers, its owned nodes' coordinates)."""
    geo, d = msh.geometry, msh.topology.dim
    gmap = geo.index_map()
    n = msh.topology.index_map(d).size_local
    dofs = geo.dofmaps[0][:n]
    cells = gmap.local_to_global(dofs.ravel().astype(np.int32)).reshape(dofs.shape).astype(np.int64)
    return cells, np.ascontiguousarray(geo.x[: gmap.size_local, : geo.dim])


def redistribute(tm: TaggedMesh, partitioner) -> TaggedMesh:
    """The same mesh distributed afresh by ``partitioner`` (a DOLFINx cell partitioner, called with
    this rank's owned cells in local order), the cell and facet tags carried over (same names and
    values) through ``distribute_entity_data`` (as ``dolfinx.io.gmsh.model_to_mesh`` does). The new
    mesh's ``original_cell_index`` is each cell's position in the old mesh's owned cells, rank by
    rank; it has no ghost cells."""
    msh = tm.mesh
    comm, d = msh.comm, msh.topology.dim
    gmap = msh.geometry.index_map()
    cells, x = _owned_cells(msh)
    n_cells = len(cells)
    # a new UFL domain: create_mesh makes its domain point at the new mesh, and the old one's must not
    domain = ufl.Mesh(msh.ufl_domain().ufl_coordinate_element())
    new = dmesh.create_mesh(comm, cells, domain, x, partitioner=partitioner)

    def carry(dim, entities, values):
        nodes = dmesh.entities_to_geometry(msh, dim, entities)
        glob = gmap.local_to_global(nodes.ravel().astype(np.int32)).reshape(nodes.shape).astype(np.int64)
        local, vals = distribute_entity_data(new, dim, glob, values.astype(np.int32))
        # collectively here: meshtags_from_entities creates missing connectivity only on ranks that hold
        # entities, and a rank without any then deadlocks the others
        new.topology.create_entities(dim)
        new.topology.create_connectivity(dim, 0)
        new.topology.create_connectivity(dim, d)
        return dmesh.meshtags_from_entities(new, dim, adjacencylist(local), vals.astype(np.int32))

    ct = tm.cell_tags
    own = ct.indices < n_cells
    cell_tags = carry(d, ct.indices[own], ct.values[own])
    msh.topology.create_connectivity(d - 1, d)
    ft = tm.facet_tags
    own = ft.indices < msh.topology.index_map(d - 1).size_local
    facet_tags = carry(d - 1, ft.indices[own], ft.values[own])
    new.topology.create_connectivity(d, d - 1)
    new.topology.create_connectivity(d - 1, d)
    return TaggedMesh(new, cell_tags, facet_tags, dict(tm.groups), dict(tm.info))


def volume_destinations(tm: TaggedMesh) -> np.ndarray:
    """The rank for each owned cell (local order) that shares every volume of ``tm`` equally."""
    msh = tm.mesh
    comm, d, size = msh.comm, msh.topology.dim, msh.comm.size
    cells, _ = _owned_cells(msh)
    n = len(cells)
    volume = np.full(n, -1, dtype=np.int64)  # untagged cells form a volume of their own
    own = tm.cell_tags.indices < n
    volume[tm.cell_tags.indices[own]] = tm.cell_tags.values[own]
    mid = msh.geometry.x[msh.geometry.dofmaps[0][:n]].mean(axis=1)
    tags = np.unique(np.concatenate(comm.allgather(np.unique(volume))))
    counts = comm.allreduce(np.array([np.count_nonzero(volume == t) for t in tags], dtype=np.int64), op=MPI.SUM)
    order = np.argsort(-counts, kind="stable")  # the largest volume first: it numbers the parts
    partition = dmesh.create_cell_partitioner(dmesh.GhostMode.none, 2)
    dest = np.empty(n, dtype=np.int32)
    reference = None
    for k in order:
        sel = np.flatnonzero(volume == tags[k])
        if reference is not None and counts[k] < MIN_CELLS_PER_RANK * size:
            near = ((mid[sel, None, :] - reference[None, :, :]) ** 2).sum(axis=2)
            dest[sel] = np.argmin(near, axis=1) if len(sel) else 0
            continue
        parts = np.asarray(partition(comm, size, [msh.topology.cell_type], [cells[sel].ravel()]).array, dtype=np.int32)
        sums = np.zeros((size, 3))
        np.add.at(sums, parts, mid[sel])
        num = comm.allreduce(np.bincount(parts, minlength=size), op=MPI.SUM)
        centroids = comm.allreduce(sums, op=MPI.SUM) / np.maximum(num, 1)[:, None]
        if reference is None:
            reference, rank_of = centroids, np.arange(size)
        else:
            from scipy.optimize import linear_sum_assignment

            cost = ((centroids[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2)
            rows, cols = linear_sum_assignment(cost)
            rank_of = np.empty(size, dtype=np.int64)
            rank_of[rows] = cols
        dest[sel] = rank_of[parts]
    return dest


def balance_volumes(tm: TaggedMesh) -> TaggedMesh:
    """``tm`` redistributed so that every rank owns an equal share of every volume (module docstring).
    On one rank, ``tm`` itself."""
    if tm.mesh.comm.size == 1:
        return tm
    dest = volume_destinations(tm)
    return redistribute(tm, lambda *_: adjacencylist(dest.reshape(-1, 1))._cpp_object)


def pull(comm, values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``values`` (one per owned item on each rank, local order: owned cells or nodes of a mesh) at
    global ``positions`` (an item's position in that order, rank by rank, e.g. the
    ``original_cell_index`` or ``input_global_indices`` of a mesh made by :func:`redistribute`):
    each rank asks the owners. int64."""
    offsets = np.concatenate([[0], np.cumsum(comm.allgather(len(values)))]).astype(np.int64)
    positions = np.asarray(positions, dtype=np.int64)
    owner = np.searchsorted(offsets, positions, side="right") - 1
    order = np.argsort(owner, kind="stable")
    send = positions[order]
    scounts = np.bincount(owner, minlength=comm.size).astype(np.int64)
    rcounts = np.empty_like(scounts)
    comm.Alltoall(scounts, rcounts)
    asked = np.empty(int(rcounts.sum()), dtype=np.int64)
    comm.Alltoallv([send, scounts], [asked, rcounts])
    reply = np.ascontiguousarray(np.asarray(values)[asked - offsets[comm.rank]], dtype=np.int64)
    got = np.empty(len(send), dtype=np.int64)
    comm.Alltoallv([reply, rcounts], [got, scounts])
    out = np.empty(len(positions), dtype=np.int64)
    out[order] = got
    return out


__all__ = ["balance_volumes", "redistribute", "volume_destinations", "pull"]
