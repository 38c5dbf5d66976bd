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


# ----------------------------------------------------------------------------------------------
# Shared Gmsh/OpenCASCADE machinery for the curved and 3D-host generators (sinusoid, bump,
# pillars, fibers, foam). Everything below works in micrometres inside a ``build(gmsh)`` callback.
# ----------------------------------------------------------------------------------------------

SOLIDS = ("anode", "host", "collector")


def interface_name(a: str, b: str, coating: str) -> str | None:
    """Name of the interface between regions ``a`` and ``b``.

    ``coating`` is "resolved", "thin" or "bare" and decides how a solid|electrolyte contact is called.
    """
    pair = {a, b}
    if pair == {"host", "collector"}:
        return "host_collector"
    if pair == {"coating", "electrolyte"}:
        return "coating_electrolyte"
    for s in SOLIDS:
        if pair == {s, "coating"}:
            return f"{s}_coating"
        if pair == {s, "electrolyte"}:
            return f"{s}_coating" if coating == "thin" else f"{s}_electrolyte"
    return None


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


def assemble(gmsh, dim: int, box: tuple, solids: dict, shell: list | None, coating: str,
             periodic: bool = False) -> dict:
    """Fragment solids (and a coating shell) with the domain box, name volumes and interfaces.

    box = (W, D, zbot, ztop) in µm (D ignored in 2D; the vertical axis is the last coordinate).
    ``solids`` maps "anode"/"host"/"collector" to OCC dimtags that lie inside the box (the
    generators clip them). ``shell`` is the coating's outer body (solids inflated by the coating
    thickness, clipped to the box): the coating volume is ``shell`` minus the solids.
    Returns {"regions": {name: [tags]}, "facets": {name: [tags]}, "interfaces": [tags]}.
    """
    occ = gmsh.model.occ
    W, D, zb, zt = box
    if dim == 2:
        dom = [(2, occ.addRectangle(0, zb, 0, W, zt - zb))]
    else:
        dom = [(3, occ.addBox(0, 0, zb, W, D, zt - zb))]
    solid_all = [dt for v in solids.values() for dt in v]
    coat = []
    if shell:
        coat, _ = occ.cut(shell, solid_all, removeObject=True, removeTool=False)
    tools = solid_all + coat
    out, out_map = occ.fragment(dom, tools)
    occ.synchronize()
    # out_map: one list per input, in order dom..., tools...
    owner: dict[int, str] = {}
    k = len(dom)
    names = []
    for name, dts in solids.items():
        names += [name] * len(dts)
    names += ["coating"] * len(coat)
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
    return dict(dim=dim, mode=mode, t=t, t_res=t if mode == "resolved" else 0.0, h=h, h_fine=min(h_fine, h),
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
        coat_surf = sorted(set(tags["facets"].get("coating_electrolyte", [])
                               + [f for s in SOLIDS for f in tags["facets"].get(f"{s}_coating", [])]))
        h_coat = lay["t_res"] / float(lay.get("coating_cells", 2))
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
    shell = None
    t = lay["t_res"]
    if t > 0:
        inflated = clipped(t)
        slab = [(2, occ.addRectangle(0, 0, 0, W, t))] if dim == 2 else [(3, occ.addBox(0, 0, 0, W, D, t))]
        shell, _ = occ.fuse(inflated, slab)
    tags = assemble(gmsh, dim, (W, D, -lay["Hc"], H + lay["L"]), {"host": host, "collector": coll}, shell,
                    lay["mode"], lay["periodic"])
    finish_mesh(gmsh, dim, tags, lay, extent or max(W, D, H + lay["L"]))
    return tags


def anode_maker(p: dict, dim: int, box: tuple, body, t_res: float, mode: str, h: float, h_fine: float):
    """Gmsh ``make`` step for a perturbed Li anode (sinusoid, bump): ``body(gmsh, offset)`` returns
    the Li region inflated by ``offset`` (µm); the coating shell is body(t) minus body(0)."""
    W, _, Ha_neg, L = box

    def make(gmsh):
        solids = {"anode": body(gmsh, 0.0)}
        shell = body(gmsh, t_res) if t_res > 0 else None
        tags = assemble(gmsh, dim, box, solids, shell, mode, bool(p.get("periodic")))
        lay = dict(h=h, h_fine=h_fine, t_res=t_res, coating_cells=p.get("coating_cells", 2),
                   algorithm3d=p.get("mesh_algorithm3d", 1))
        finish_mesh(gmsh, dim, tags, lay, max(W, L - Ha_neg))
        return {}

    return make
