"""Restrict a tagged mesh to some of its volumes (e.g. the ion-conducting electrolyte + coating).

The electrochemical unknowns live only where Li+ moves; metals (Li, Cu host) are
equipotential boundaries. The submesh keeps every facet group of the parent that
touches it, with the same names and tags.
"""

from __future__ import annotations

import numpy as np

from licoat import import_stack

import_stack()
from dolfinx import mesh as dmesh  # noqa: E402

from licoat.meshes.common import TaggedMesh  # noqa: E402
from licoat.meshes.partition import redistribute  # noqa: E402


def restrict(tm: TaggedMesh, volumes: list[str]) -> tuple[TaggedMesh, object]:
    """Submesh of the named volumes with cell and facet tags carried over.

    Returns the restricted TaggedMesh and the DOLFINx cell EntityMap (sub -> parent).
    """
    parent = tm.mesh
    tdim = parent.topology.dim
    cells = tm.cells(*volumes)
    sub, cell_map, _, _ = dmesh.create_submesh(parent, tdim, cells)
    sub.topology.create_connectivity(tdim, tdim - 1)
    sub.topology.create_connectivity(tdim - 1, tdim)
    parent.topology.create_connectivity(tdim, tdim - 1)
    parent.topology.create_connectivity(tdim - 1, tdim)

    n_sub = sub.topology.index_map(tdim).size_local + sub.topology.index_map(tdim).num_ghosts
    sub_cells = np.arange(n_sub, dtype=np.int32)
    parent_of = cell_map.sub_topology_to_topology(sub_cells, inverse=False)

    # Sub cell tags
    ct = tm.cell_tags
    pvals = np.full(parent.topology.index_map(tdim).size_local + parent.topology.index_map(tdim).num_ghosts, -1, np.int32)
    pvals[ct.indices] = ct.values
    cvals = pvals[parent_of]
    keep = cvals >= 0
    cell_tags = dmesh.meshtags(sub, tdim, sub_cells[keep], cvals[keep])

    # Facet tags: a sub-cell's local facet i is its parent cell's local facet i (the submesh
    # keeps each cell's vertex order), so map parent facets through the cell-facet tables.
    ft = tm.facet_tags
    nfp = parent.topology.index_map(tdim - 1).size_local + parent.topology.index_map(tdim - 1).num_ghosts
    fvals = np.full(nfp, -1, np.int32)
    fvals[ft.indices] = ft.values
    pc2f = parent.topology.connectivity(tdim, tdim - 1)
    sc2f = sub.topology.connectivity(tdim, tdim - 1)
    nf_per_cell = len(pc2f.links(0)) if n_sub else 0
    p_facets = pc2f.array.reshape(-1, nf_per_cell)[parent_of] if n_sub else np.zeros((0, 0), np.int32)
    s_facets = sc2f.array.reshape(-1, nf_per_cell)[: n_sub] if n_sub else np.zeros((0, 0), np.int32)
    tags_of = fvals[p_facets]
    mask = tags_of >= 0
    sf, sv = s_facets[mask], tags_of[mask]
    sf, idx = np.unique(sf, return_index=True)
    facet_tags = dmesh.meshtags(sub, tdim - 1, sf.astype(np.int32), sv[idx].astype(np.int32))

    groups = {}
    for name, (d, tag) in tm.groups.items():
        groups[name] = (d, tag)
    out = TaggedMesh(sub, cell_tags, facet_tags, groups, dict(tm.info))
    return out, cell_map


def one_sided_entities(sub: TaggedMesh, cells: np.ndarray, facet_tags) -> np.ndarray:
    """Flattened (cell, local facet) pairs of the OWNED ``cells`` whose facets carry one of ``facet_tags``.

    Used as custom exterior-facet integration entities: every facet is integrated once, from the side of
    the given cells, whether it is on the submesh boundary or inside it, with no reliance on ghost cells
    (a submesh may lack the shared-facet ghost layer that interior-facet integrals need in parallel).
    """
    msh = sub.mesh
    d = msh.topology.dim
    msh.topology.create_connectivity(d, d - 1)
    n_own = msh.topology.index_map(d).size_local
    cells = np.asarray(cells, dtype=np.int32)
    cells = cells[cells < n_own]
    tags = [t for t in facet_tags]
    if cells.size == 0 or not tags:
        return np.zeros(0, dtype=np.int32)
    fmap = msh.topology.index_map(d - 1)
    fvals = np.full(fmap.size_local + fmap.num_ghosts, -1, np.int32)
    fvals[sub.facet_tags.indices] = sub.facet_tags.values
    c2f = msh.topology.connectivity(d, d - 1)
    nf = len(c2f.links(0))
    facets = c2f.array.reshape(-1, nf)[cells]
    rows, lf = np.nonzero(np.isin(fvals[facets], tags))
    return np.column_stack([cells[rows], lf]).astype(np.int32).ravel()


def cell_imbalance(tm: TaggedMesh) -> float:
    """Largest number of owned cells on a rank over the mean (1: balanced)."""
    comm = tm.mesh.comm
    n = tm.mesh.topology.index_map(tm.mesh.topology.dim).size_local
    counts = comm.allgather(n)
    return max(counts) / max(sum(counts) / len(counts), 1e-300)


def rebalance(tm: TaggedMesh) -> TaggedMesh:
    """The same mesh with its cells distributed afresh over the ranks by the graph partitioner, cell and facet
    tags carried over (the same names and values; ``meshes.partition.redistribute``).

    A submesh keeps its parent's partition: the solid cells of a cell partitioned as a whole can sit mostly on
    one rank (2.7-3x the other's on 2 ranks for a coated anode), and a solve on them gains little from more
    ranks. Nothing is gathered on one rank. The new mesh has no cell map to the parent: fields move between
    the two by point evaluation (``interpolate_nonmatching``)."""
    return redistribute(tm, dmesh.create_cell_partitioner(dmesh.GhostMode.none, 2))


__all__ = ["restrict", "one_sided_entities", "rebalance", "cell_imbalance"]
