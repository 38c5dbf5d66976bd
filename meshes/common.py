"""Shared mesh types: a DOLFINx mesh with its cell and facet tags, addressed by name.

Conventions used by every generator (the public contract between ``meshes`` and ``solver``):

* SI units (metres). The vertical axis is the last coordinate (y in 2D, z in 3D);
  the nominal Li / collector surface lies at vertical = 0 and the top boundary at
  ``electrolyte_thickness`` above the plating surface (planar) or the host (3D hosts).
* Volumes: ``electrolyte``, ``coating`` (resolved model only; in a stack of resolved layers the
  first, next to the metal, is ``coating`` and the next ones ``coating_1``, ``coating_2``, ...),
  ``anode`` (Li), ``host``, ``collector``.
* Interfaces: ``<solid>_coating`` and ``coating_electrolyte`` for coated surfaces (between stack
  layers ``coating_coating_1``, and ``coating_<n>_electrolyte`` on top of the last layer),
  ``<solid>_electrolyte`` for bare ones, the outer faces ``top``, ``bottom``,
  ``left``, ``right`` (x) and ``front``, ``back`` (y, 3D).

Topology (``TaggedMesh.info["topology"]``) is recorded when the mesh is made: every volume's role
(metal, coating layer k, electrolyte) and every facet group's two sides, found from the cells on
either side of its facets. Solver code asks the topology (``plating_surfaces``, ``sides``,
``ionic_volumes``); it never parses group names.
"""

from __future__ import annotations

import contextlib
import contextvars
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

    # ----------------------------------------------------------------- topology (see module doc)
    @property
    def topology(self) -> dict:
        return self.info.get("topology") or {"regions": {}, "interfaces": {}}

    def role(self, region: str) -> str | None:
        """'metal', 'coating' or 'electrolyte' (None for an unknown region)."""
        r = self.topology["regions"].get(region)
        return r["role"] if r else None

    def sides(self, facet_group: str) -> tuple[str | None, str | None]:
        """(lower, upper) regions of a facet group: metal below ionic, inner layer below outer,
        coating below electrolyte; a boundary group has (region, None)."""
        lo, up = self.topology["interfaces"].get(facet_group, {}).get("sides", [None, None])
        return lo, up

    def has_film(self, facet_group: str) -> bool:
        """True where a thin coating film covers a metal|electrolyte contact."""
        return bool(self.topology["interfaces"].get(facet_group, {}).get("film", False))

    def coated(self, facet_group: str) -> bool:
        """A plating surface under a coating: a resolved layer above it, or a thin film on it."""
        return self.role(self.sides(facet_group)[1]) == "coating" or self.has_film(facet_group)

    def coating_layers(self) -> list[str]:
        """Resolved coating volumes ordered from the metal outwards."""
        regs = self.topology["regions"]
        return sorted((n for n, r in regs.items() if r["role"] == "coating"), key=lambda n: regs[n]["layer"])

    def ionic_volumes(self) -> list[str]:
        """Where Li+ moves: the electrolyte, then the resolved coating layers from the metal outwards."""
        return ["electrolyte"] + self.coating_layers()

    def plating_surfaces(self) -> list[str]:
        """Facet groups where Li plates: a metal against a coating layer or the electrolyte."""
        out = []
        for name in self.topology["interfaces"]:
            lo, up = self.sides(name)
            if up is not None and self.role(lo) == "metal" and self.role(up) in ("coating", "electrolyte"):
                out.append(name)
        return sorted(out)

    def interfaces_between(self, lower_role: str, upper_role: str) -> list[str]:
        """Facet groups with a ``lower_role`` region below and an ``upper_role`` region above."""
        return sorted(n for n in self.topology["interfaces"] if self.sides(n)[1] is not None
                      and self.role(self.sides(n)[0]) == lower_role and self.role(self.sides(n)[1]) == upper_role)


ROLE_RANK = {"metal": 0, "coating": 1, "electrolyte": 1000}


def mesh_from_local_numbering(comm, cell_type, cells: np.ndarray, owned_vertices: int, ghosts: np.ndarray,
                              ghost_owners: np.ndarray, original: np.ndarray, nodes: np.ndarray,
                              cell_nodes: np.ndarray, x: np.ndarray) -> dolfinx.mesh.Mesh:
    """An affine DOLFINx mesh without ghost cells from every rank's own numbering, with nothing for
    DOLFINx to compute but the geometry's dofmap (no dual graph, partitioner, cell reordering or
    vertex numbering, which ``create_topology`` would do):

    ``cells`` (owned cells x vertices, local vertex indices), the vertex index map (``owned_vertices``
    owned, then ``ghosts`` by global index with their ``ghost_owners``), ``original`` (a global index
    per cell); ``nodes`` (the sorted global node numbers this rank holds), ``cell_nodes`` (each cell's
    global node numbers, rows as ``cells``) and ``x`` (the coordinates of ``nodes``, gdim columns)."""
    import basix.ufl
    import ufl
    from dolfinx import cpp as _cpp

    vertex_map = _cpp.common.IndexMap(comm, int(owned_vertices), np.asarray(ghosts, dtype=np.int64),
                                      np.asarray(ghost_owners, dtype=np.int32), 0)
    topology = _cpp.mesh.Topology(cell_type, vertex_map, _cpp.common.IndexMap(comm, len(cells)),
                                  _cpp.graph.AdjacencyList_int32(np.ascontiguousarray(cells, dtype=np.int32)),
                                  np.asarray(original, dtype=np.int64))
    gdim = x.shape[1]
    cmap = dolfinx.fem.coordinate_element(cell_type, 1)
    geometry = _cpp.mesh.create_geometry(topology, [cmap._cpp_object], nodes, np.ascontiguousarray(cell_nodes).ravel(),
                                         np.ascontiguousarray(x).ravel(), gdim)
    domain = ufl.Mesh(basix.ufl.element("Lagrange", cell_type.name, 1, shape=(gdim,)))
    return dolfinx.mesh.Mesh(_cpp.mesh.Mesh_float64(comm, topology, geometry), domain)


def default_region_roles(groups: dict, dim: int) -> dict:
    """Roles of the volumes that licoat's generators create (``anode``/``host``/``collector`` metal,
    ``coating``/``coating_<k>`` layer k, ``electrolyte``); a generator may pass its own."""
    roles = {}
    for name, (d, _) in groups.items():
        if d != dim:
            continue
        if name in SOLIDS:
            roles[name] = {"role": "metal", "layer": 0}
        elif name == "electrolyte":
            roles[name] = {"role": "electrolyte", "layer": 0}
        elif name == "coating" or (name.startswith("coating_") and name[8:].isdigit()):
            roles[name] = {"role": "coating", "layer": 0 if name == "coating" else int(name[8:])}
    return roles


def record_topology(mesh, cell_tags, facet_tags, groups: dict, roles: dict) -> dict:
    """Sides of every facet group from the cells adjacent to its facets (collective).

    Returns {"regions": roles, "interfaces": {group: {"sides": [lower, upper]}}}; lower/upper
    are ordered by role (metal < coating layer 0 < layer 1 < ... < electrolyte).
    """
    comm = mesh.comm
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    cmap = mesh.topology.index_map(tdim)
    cell_val = np.full(cmap.size_local + cmap.num_ghosts, -1, np.int32)
    cell_val[cell_tags.indices] = cell_tags.values
    region_of = {tag: name for name, (d, tag) in groups.items() if d == tdim}
    off, arr = f2c.offsets, f2c.array
    exterior = np.zeros(mesh.topology.index_map(tdim - 1).size_local + mesh.topology.index_map(tdim - 1).num_ghosts, bool)
    exterior[dolfinx.mesh.exterior_facet_indices(mesh.topology)] = True
    local, outer = {}, {}
    for name, (d, tag) in groups.items():
        if d != tdim - 1:
            continue
        facets = facet_tags.indices[facet_tags.values == tag]
        outer[name] = bool(np.all(exterior[facets]))  # a boundary of the whole mesh (one side only)
        starts, counts = off[facets], off[facets + 1] - off[facets]
        idx = np.repeat(starts, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        local[name] = sorted({int(v) for v in np.unique(cell_val[arr[idx]]) if v >= 0})
    merged: dict[str, set] = {}
    for part in comm.allgather(local):
        for name, tags in part.items():
            merged.setdefault(name, set()).update(tags)
    boundary = {n: comm.allreduce(b, op=MPI.LAND) for n, b in outer.items()}

    def rank(region):
        r = roles.get(region, {"role": "electrolyte", "layer": 0})
        return ROLE_RANK[r["role"]] + r["layer"]

    interfaces = {}
    for name, tags in merged.items():
        regs = sorted({region_of[t] for t in tags if t in region_of}, key=rank)
        if regs and boundary[name]:  # outer face: the regions it bounds, no upper side
            interfaces[name] = {"sides": [regs[0], None], "regions": regs}
        elif regs:
            interfaces[name] = {"sides": [regs[0], regs[-1]]}
            # a metal|electrolyte contact that the generator named <metal>_coating carries a thin film
            if roles.get(regs[0], {}).get("role") == "metal" and regs[-1] == "electrolyte" and name == f"{regs[0]}_coating":
                interfaces[name]["film"] = True
    return {"regions": roles, "interfaces": interfaces}


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


#: When set (by :mod:`licoat.meshes.cache`), :func:`to_dolfinx` writes the Gmsh mesh to this
#: ``.msh`` path on rank 0 (coordinates in micrometres, :data:`GMSH_UNIT`).
MSH_SINK: contextvars.ContextVar = contextvars.ContextVar("licoat_msh_sink", default=None)

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
    sink = MSH_SINK.get()
    with gmsh_model("licoat") as gmsh:
        if comm.rank == 0:
            try:
                extra = build(gmsh) or {}
                info.update(extra)
                if sink is not None:  # meshes.cache: keep the Gmsh mesh (micrometres) on disk
                    gmsh.write(str(sink))
            except Exception as exc:  # noqa: BLE001 - re-raised on all ranks below
                error = exc
        error = comm.bcast(error, root=0)
        if error is not None:
            raise error
        info = comm.bcast(info, root=0)
        # in parallel the cells stay on rank 0 here and are distributed once, every volume shared
        # equally (meshes.partition), instead of partitioned by cell count and then again
        data = dolfinx.io.gmsh.model_to_mesh(gmsh.model, comm, 0, gdim=gdim,
                                             partitioner=_on_rank_zero if comm.size > 1 else None)
    data.mesh.geometry.x[:] *= GMSH_UNIT
    groups = {name: (pg.dim, pg.tag) for name, pg in data.physical_groups.items()}
    tm = TaggedMesh(data.mesh, data.cell_tags, data.facet_tags, groups, info)
    if comm.size > 1:
        from licoat.meshes.partition import balance_volumes

        tm = balance_volumes(tm)
    mesh = tm.mesh
    mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
    roles = info.pop("region_roles", None) or default_region_roles(groups, mesh.topology.dim)
    declared = info.pop("interface_sides", {})  # sides of surfaces whose other region is not meshed
    for name in SOLIDS:  # a metal that is not meshed is still a metal
        roles.setdefault(name, {"role": "metal", "layer": 0})
    info["topology"] = record_topology(mesh, tm.cell_tags, tm.facet_tags, groups, roles)
    for name, sides in declared.items():
        info["topology"]["interfaces"][name] = {"sides": list(sides)}
    return TaggedMesh(mesh, tm.cell_tags, tm.facet_tags, groups, info)


def _on_rank_zero(comm, nparts, cell_types, cells):
    """A cell partitioner that leaves every cell where it is (on the rank that read the Gmsh model)."""
    from dolfinx.graph import adjacencylist

    n = len(cells[0]) // dolfinx.cpp.mesh.cell_num_vertices(cell_types[0])
    return adjacencylist(np.full((n, 1), comm.rank, dtype=np.int32))._cpp_object


def write_tagged_xdmf(tm: TaggedMesh, path) -> None:
    """Write the mesh with its cell and facet tags to one XDMF/HDF5 file (collective, in parallel)."""
    from dolfinx.io import XDMFFile

    tm.mesh.topology.create_connectivity(tm.dim - 1, tm.dim)
    tm.mesh.name = "mesh"
    tm.cell_tags.name = "cell_tags"
    tm.facet_tags.name = "facet_tags"
    with XDMFFile(tm.mesh.comm, str(path), "w") as f:
        f.write_mesh(tm.mesh)
        f.write_meshtags(tm.cell_tags, tm.mesh.geometry)
        f.write_meshtags(tm.facet_tags, tm.mesh.geometry)


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


def reversed_layers(layers):
    """Layer spec graded fine at the top instead of the bottom (e.g. the Li below its surface)."""
    _, cum = layers
    sizes = np.diff(np.concatenate([[0.0], cum]))[::-1]
    out = np.cumsum(sizes)
    out[-1] = 1.0
    return [1] * len(sizes), [float(x) for x in out]


def uniform_layers(thickness: float, h: float):
    n = max(1, int(np.ceil(thickness / h - 1e-9)))
    return [n], [1.0]


# ----------------------------------------------------------------------------------------------
# Shared Gmsh/OpenCASCADE machinery for the curved and 3D-host generators (sinusoid, bump,
# pillars, fibers, foam). Everything below works in micrometres inside a ``build(gmsh)`` callback.
# ----------------------------------------------------------------------------------------------

SOLIDS = ("anode", "host", "collector")


def layer_name(i: int) -> str:
    """Volume name of resolved coating layer ``i`` (0: next to the metal)."""
    return "coating" if i == 0 else f"coating_{i}"


def _is_layer(name: str) -> bool:
    return name == "coating" or (name.startswith("coating_") and name[8:].isdigit())


def interface_name(a: str, b: str, coating: str) -> str | None:
    """Name of the interface between regions ``a`` and ``b``.

    ``coating`` is "resolved", "thin" or "bare" and decides how a solid|electrolyte contact is called.
    """
    pair = {a, b}
    if pair == {"host", "collector"}:
        return "host_collector"
    layers = sorted((r for r in pair if _is_layer(r)), key=lambda r: 0 if r == "coating" else int(r[8:]))
    if len(layers) == 2:
        return f"{layers[0]}_{layers[1]}"
    if len(layers) == 1 and "electrolyte" in pair:
        return f"{layers[0]}_electrolyte"
    for s in SOLIDS:
        if pair == {s, "coating"}:
            return f"{s}_coating"
        if pair == {s, "electrolyte"}:
            return f"{s}_coating" if coating == "thin" else f"{s}_electrolyte"
    return None


def layer_offsets(p: dict, um: float = 1.0) -> list[float]:
    """Cumulative outer offsets of the resolved coating layers from the metal surface (x ``um``):
    [t_0, t_0 + t_1, ...]; ``geometry['coating_stack']`` lists the layer thicknesses, else one layer."""
    if coating_mode(p) != "resolved":
        return []
    stack = p.get("coating_stack") or [float(p.get("coating_thickness", 0.0) or 0.0)]
    return [float(x) * um for x in np.cumsum(stack) if x > 0]


def coating_mode(p: dict) -> str:
    t = float(p.get("coating_thickness", 0.0) or 0.0)
    if t <= 0:
        return "bare"
    model = p.get("coating_model", "resolved")
    if model not in ("resolved", "thin"):
        raise GeometryError(f"coating.model = '{model}' must be 'resolved' or 'thin'")
    return model


def check_common(p: dict, *keys: str) -> None:
    """Positive-value checks with case-file key paths in the messages."""
    for k in keys:
        v = p.get(k)
        if v is None:
            raise GeometryError(f"geometry.{k} is required for geometry.kind = '{p.get('kind')}'")
        if not float(v) > 0:
            raise GeometryError(f"geometry.{k} = {v!r} must be positive")


def _bbox_entities(gmsh, dim, lo, hi, eps):
    return [e[1] for e in gmsh.model.getEntitiesInBoundingBox(
        lo[0] - eps, lo[1] - eps, lo[2] - eps, hi[0] + eps, hi[1] + eps, hi[2] + eps, dim)]


def assemble(gmsh, dim: int, box: tuple, solids: dict, shell, coating: str,
             periodic: bool = False) -> dict:
    """Fragment solids (and a coating shell) with the domain box, name volumes and interfaces.

    box = (W, D, zbot, ztop) in µm (D ignored in 2D; the vertical axis is the last coordinate).
    ``solids`` maps "anode"/"host"/"collector" to OCC dimtags that lie inside the box (the
    generators clip them). ``shell`` is the coating's outer body (solids inflated by the coating
    thickness, clipped to the box): the coating volume is ``shell`` minus the solids. A list of
    shells (one per resolved layer, inflated by the cumulative thickness) gives a coating stack:
    layer i is shell i minus shell i-1 (``coating``, ``coating_1``, ...).
    Returns {"regions": {name: [tags]}, "facets": {name: [tags]}, "interfaces": [tags]}.
    """
    occ = gmsh.model.occ
    W, D, zb, zt = box
    if dim == 2:
        dom = [(2, occ.addRectangle(0, zb, 0, W, zt - zb))]
    else:
        dom = [(3, occ.addBox(0, 0, zb, W, D, zt - zb))]
    solid_all = [dt for v in solids.values() for dt in v]
    shells = shell if shell and isinstance(shell[0], list) else ([shell] if shell else [])
    coat, layer_of = [], []
    inner = solid_all
    for i, sh in enumerate(shells):
        outer = [tuple(dt) for dt in sh]
        piece, _ = occ.cut(outer, inner, removeObject=i == len(shells) - 1, removeTool=False)
        coat += piece
        layer_of += [layer_name(i)] * len(piece)
        inner = outer
    for sh in shells[:-1]:  # the inner shells only served as cutting tools
        occ.remove(sh, recursive=True)
    tools = solid_all + coat
    out, out_map = occ.fragment(dom, tools)
    occ.synchronize()
    # out_map: one list per input, in order dom..., tools...
    owner: dict[int, str] = {}
    k = len(dom)
    names = []
    for name, dts in solids.items():
        names += [name] * len(dts)
    names += layer_of
    for name, children in zip(names, out_map[k:]):
        for d_, tag in children:
            if d_ == dim:
                owner.setdefault(tag, name)
    regions: dict[str, list[int]] = {}
    for d_, tag in gmsh.model.getEntities(dim):
        regions.setdefault(owner.get(tag, "electrolyte"), []).append(tag)
    # facets: adjacency of every boundary entity to regions
    adj: dict[int, set] = {}
    for name, tags in regions.items():
        for tag in tags:
            for _, f in gmsh.model.getBoundary([(dim, tag)], combined=False, oriented=False):
                adj.setdefault(abs(f), set()).add(name)
    facets: dict[str, list[int]] = {}
    interfaces = []
    for f, regs in adj.items():
        if len(regs) == 2:
            a, b = sorted(regs)
            nm = interface_name(a, b, coating)
            if nm:
                facets.setdefault(nm, []).append(f)
                interfaces.append(f)
    scale = max(W, zt - zb)
    eps = 1e-6 * scale
    fd = dim - 1
    if dim == 2:
        sides = {"left": ((0, zb, 0), (0, zt, 0)), "right": ((W, zb, 0), (W, zt, 0)),
                 "bottom": ((0, zb, 0), (W, zb, 0)), "top": ((0, zt, 0), (W, zt, 0))}
    else:
        sides = {"left": ((0, 0, zb), (0, D, zt)), "right": ((W, 0, zb), (W, D, zt)),
                 "front": ((0, 0, zb), (W, 0, zt)), "back": ((0, D, zb), (W, D, zt)),
                 "bottom": ((0, 0, zb), (W, D, zb)), "top": ((0, 0, zt), (W, D, zt))}
    for nm, (lo, hi) in sides.items():
        facets[nm] = _bbox_entities(gmsh, fd, lo, hi, eps)
    for name, tags in regions.items():
        gmsh.model.addPhysicalGroup(dim, sorted(tags), name=name)
    for name, tags in facets.items():
        if tags:
            gmsh.model.addPhysicalGroup(fd, sorted(set(tags)), name=name)
    if periodic:
        make_periodic(gmsh, dim, box, eps)
    return {"regions": regions, "facets": facets, "interfaces": sorted(set(interfaces))}


def make_periodic(gmsh, dim: int, box: tuple, eps: float) -> None:
    """Pair the facets on x = W (and y = D in 3D) with their images on x = 0 (y = 0)."""
    W, D, zb, zt = box
    fd = dim - 1
    axes = [(0, W)] + ([(1, D)] if dim == 3 else [])
    for axis, L in axes:
        lo = [0.0, 0.0 if dim == 3 else 0.0, zb]
        hi = [W, D if dim == 3 else 0.0, zt]
        if dim == 2:
            lo, hi = [0.0, zb, 0.0], [W, zt, 0.0]
        lo_m, hi_m = list(lo), list(hi)
        hi_m[axis] = 0.0
        lo_s, hi_s = list(lo), list(hi)
        lo_s[axis] = L
        masters = _bbox_entities(gmsh, fd, lo_m, hi_m, eps)
        slaves = _bbox_entities(gmsh, fd, lo_s, hi_s, eps)
        shift = [0.0, 0.0, 0.0]
        shift[axis] = L
        affine = [1, 0, 0, shift[0], 0, 1, 0, shift[1], 0, 0, 1, shift[2], 0, 0, 0, 1]
        mbox = {m: np.array(gmsh.model.getBoundingBox(fd, m)) for m in masters}
        for s in slaves:
            bs = np.array(gmsh.model.getBoundingBox(fd, s))
            bs[[axis, axis + 3]] -= L
            match = [m for m, bm in mbox.items() if np.all(np.abs(bm - bs) < 10 * eps)]
            if len(match) != 1:
                raise GeometryError(
                    f"geometry.periodic = true but the faces on the {'xy'[axis]} = {L:g} µm side do not match "
                    f"their images on the opposite side (entity {s}); the geometry is not periodic")
            gmsh.model.mesh.setPeriodic(fd, [s], [match[0]], affine)


def size_fields(gmsh, dim: int, interfaces: list, h: float, h_fine: float, extent: float,
                coating_surfaces: list | None = None, h_coat: float | None = None,
                t: float = 0.0, algorithm3d: int = 1, curvature_cells: int = 16) -> None:
    """Distance+Threshold refinement: ``h_fine`` at the interfaces growing to ``h`` over 2 h; in a
    resolved coating ``h_coat`` (a few cells across the shell); curved entities get at least
    ``curvature_cells`` elements per 2π of turning (0 switches this off)."""
    f = gmsh.model.mesh.field
    key = "CurvesList" if dim == 2 else "SurfacesList"
    fields = []

    def threshold(ents, smin, smax, dmin, dmax, spacing):
        dist = f.add("Distance")
        f.setNumbers(dist, key, ents)
        f.setNumber(dist, "Sampling", int(min(400, max(20, np.ceil(extent / spacing)))))
        th = f.add("Threshold")
        f.setNumber(th, "InField", dist)
        f.setNumber(th, "SizeMin", smin)
        f.setNumber(th, "SizeMax", smax)
        f.setNumber(th, "DistMin", dmin)
        f.setNumber(th, "DistMax", dmax)
        fields.append(th)

    if interfaces and h_fine < h:
        threshold(interfaces, h_fine, h, 0.5 * h_fine, 0.5 * h_fine + 2.0 * h, h_fine)
    if coating_surfaces and h_coat:
        threshold(coating_surfaces, h_coat, h_fine, t, t + 3 * h_fine, max(h_coat, t))
    if fields:
        mn = f.add("Min")
        f.setNumbers(mn, "FieldsList", fields)
        f.setAsBackgroundMesh(mn)
    opt = gmsh.option
    opt.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    opt.setNumber("Mesh.MeshSizeFromPoints", 0)
    opt.setNumber("Mesh.MeshSizeFromCurvature", int(curvature_cells))
    if curvature_cells:
        opt.setNumber("Mesh.MinimumCirclePoints", int(curvature_cells))
    opt.setNumber("Mesh.MeshSizeMax", h)
    opt.setNumber("Mesh.MeshSizeMin", min(h_fine, h_coat or h_fine))
    opt.setNumber("Mesh.Algorithm", 6)
    opt.setNumber("Mesh.Algorithm3D", int(algorithm3d))
    # one thread: multithreaded Gmsh changes the node order, and so a seed's mesh, from run to run
    opt.setNumber("General.NumThreads", 1)


def host_layout(p: dict) -> dict:
    """Common micrometre numbers of the 3D-host kinds (collector at -Hc..0, host 0..H, top H+L)."""
    um = 1.0 / GMSH_UNIT
    dim = int(p["dim"])
    mode = coating_mode(p)
    t = float(p.get("coating_thickness", 0.0) or 0.0) * um
    h = float(p["mesh_size"]) * um
    h_fine = float(p.get("interface_mesh_size") or p["mesh_size"] / 4) * um
    offsets = layer_offsets(p, um)
    return dict(dim=dim, mode=mode, t=t, t_res=offsets[-1] if offsets else 0.0, offsets=offsets, h=h, h_fine=min(h_fine, h),
                L=float(p["electrolyte_thickness"]) * um,
                Hc=float(p.get("collector_thickness") or p["mesh_size"]) * um,
                periodic=bool(p.get("periodic", False)), um=um,
                # HXT on one thread: ~1.6x faster than Delaunay and reproducible for a given seed
                # (multithreaded meshing is not); Delaunay where periodic node matching is asked for
                algorithm3d=int(p.get("mesh_algorithm3d") or (1 if p.get("periodic") else 10)))


def finish_mesh(gmsh, dim: int, tags: dict, lay: dict, extent: float) -> None:
    """Size fields plus mesh generation for a model tagged by :func:`assemble`."""
    coat_surf = None
    h_coat = None
    if lay["t_res"] > 0:
        layers = set(tags["regions"]) - set(SOLIDS) - {"electrolyte"}
        coat_surf = sorted({f for n, fs in tags["facets"].items() if any(part in n for part in layers) for f in fs})
        # a few cells across the thinnest layer
        thinnest = min(np.diff([0.0] + lay.get("offsets", [lay["t_res"]])))
        h_coat = thinnest / float(lay.get("coating_cells", 2))
    size_fields(gmsh, dim, tags["interfaces"], lay["h"], lay["h_fine"], extent, coat_surf, h_coat,
                lay["t_res"], lay.get("algorithm3d", 1), lay.get("curvature_cells", 16))
    gmsh.model.mesh.generate(dim)


def host_model(gmsh, lay: dict, W: float, D: float, H: float, primitives, extent: float | None = None) -> dict:
    """Collector + host + (coating) + electrolyte for the 3D-host kinds, tagged and meshed (µm).

    ``primitives(gmsh, off)`` returns OCC dimtags of the host's convex pieces inflated by ``off``
    (cylinders, spheres, boxes); they are fused and clipped to the cell [0, W] x [0, D] and to
    0 <= z <= H + off. The union of the inflated pieces is the exact offset of the union, so the
    coating shell (inflated host, plus a slab of thickness t on the collector, minus the solids)
    has thickness t everywhere except at clipped rims (there it reaches t·√2).
    """
    occ = gmsh.model.occ
    dim = lay["dim"]

    def clipped(off):
        prims = primitives(gmsh, off)
        if dim == 2:
            clip = [(2, occ.addRectangle(0, 0, 0, W, H + off))]
        else:
            clip = [(3, occ.addBox(0, 0, 0, W, D, H + off))]
        if len(prims) > 1:
            prims, _ = occ.fuse(prims[:1], prims[1:])
        out, _ = occ.intersect(prims, clip)
        return out

    host = clipped(0.0)
    if dim == 2:
        coll = [(2, occ.addRectangle(0, -lay["Hc"], 0, W, lay["Hc"]))]
    else:
        coll = [(3, occ.addBox(0, 0, -lay["Hc"], W, D, lay["Hc"]))]
    shell = []
    for t in lay.get("offsets", [lay["t_res"]] if lay["t_res"] > 0 else []):
        inflated = clipped(t)
        slab = [(2, occ.addRectangle(0, 0, 0, W, t))] if dim == 2 else [(3, occ.addBox(0, 0, 0, W, D, t))]
        fused, _ = occ.fuse(inflated, slab)
        shell.append(fused)
    tags = assemble(gmsh, dim, (W, D, -lay["Hc"], H + lay["L"]), {"host": host, "collector": coll}, shell,
                    lay["mode"], lay["periodic"])
    finish_mesh(gmsh, dim, tags, lay, extent or max(W, D, H + lay["L"]))
    return tags


def anode_maker(p: dict, dim: int, box: tuple, body, t_res: float, mode: str, h: float, h_fine: float):
    """Gmsh ``make`` step for a perturbed Li anode (sinusoid, bump): ``body(gmsh, offset)`` returns
    the Li region inflated by ``offset`` (µm); the coating shell is body(t) minus body(0)."""
    W, _, Ha_neg, L = box

    offsets = layer_offsets(p, 1.0 / GMSH_UNIT) if t_res > 0 else []

    def make(gmsh):
        solids = {"anode": body(gmsh, 0.0)}
        shell = [body(gmsh, off) for off in offsets]
        tags = assemble(gmsh, dim, box, solids, shell, mode, bool(p.get("periodic")))
        lay = dict(h=h, h_fine=h_fine, t_res=t_res, offsets=offsets, coating_cells=p.get("coating_cells", 2),
                   algorithm3d=p.get("mesh_algorithm3d", 1))
        finish_mesh(gmsh, dim, tags, lay, max(W, L - Ha_neg))
        return {}

    return make
