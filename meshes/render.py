"""Off-screen pictures of tagged meshes (pyvista), coloured by region.

``render(tm, "x.png")`` draws the cells of a :class:`~licoat.meshes.common.TaggedMesh` with one
colour per volume (electrolyte pale and translucent, coating, anode, host, collector distinct).
3D: the solids only (the electrolyte is thresholded out) with an isometric camera; with ``clip``
the solids are also cut by the vertical mid-plane y = D/2 (front half removed), so the inside of a
host shows. 2D: a top view with cell edges. Serial only (the mesh of rank 0 is drawn); coordinates
are shown in micrometres. Needs pyvista (off-screen rendering, no display).

Command line: ``python -m licoat.meshes.render case.toml out.png [--set key=value ...]``;
``python -m licoat.meshes.render --gallery docs/img`` rewrites the README pictures.
"""

from __future__ import annotations

import numpy as np

from licoat.meshes.common import TaggedMesh

#: region -> (colour, opacity)
COLOURS = {
    "electrolyte": ("#74a9cf", 0.25),
    "coating": ("#e31a1c", 1.0),
    "anode": ("#b2b2b2", 1.0),
    "host": ("#ff7f00", 1.0),
    "collector": ("#b87333", 1.0),
}
ORDER = ("collector", "anode", "host", "coating", "electrolyte")


def to_pyvista(tm: TaggedMesh):
    """pyvista.UnstructuredGrid (coordinates in µm) with a cell array ``region`` (cell tag values)."""
    import dolfinx.plot
    import pyvista

    mesh = tm.mesh
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    topology, cell_types, x = dolfinx.plot.vtk_mesh(mesh, tdim, np.arange(n, dtype=np.int32))
    x = np.array(x, dtype=float) * 1e6
    if x.shape[1] == 2:
        x = np.column_stack([x, np.zeros(len(x))])
    grid = pyvista.UnstructuredGrid(topology, cell_types, x)
    region = np.zeros(n, dtype=np.int32)
    ct = tm.cell_tags
    own = ct.indices < n
    region[ct.indices[own]] = ct.values[own]
    grid.cell_data["region"] = region
    return grid


def _regions(tm: TaggedMesh):
    names = {tag: name for name, (d, tag) in tm.groups.items() if d == tm.dim}
    return sorted(names.items(), key=lambda kv: ORDER.index(kv[1]) if kv[1] in ORDER else len(ORDER))


def _thin_coating_lines(tm: TaggedMesh):
    """2D thin-model coatings: the coated interfaces as line segments (PolyData, µm), or None."""
    import dolfinx.mesh
    import pyvista

    names = [n for n, (d, _) in tm.groups.items() if d == tm.dim - 1 and tm.has_film(n)]  # recorded by the mesher
    if not names or tm.coating_layers():
        return None
    facets = tm.facets(*names)
    if len(facets) == 0:
        return None
    ent = dolfinx.mesh.entities_to_geometry(tm.mesh, tm.dim - 1, facets)
    x = np.array(tm.mesh.geometry.x, dtype=float) * 1e6
    pts = x[ent.reshape(-1)]
    lines = np.column_stack([np.full(len(ent), 2), np.arange(0, 2 * len(ent), 2), np.arange(1, 2 * len(ent), 2)])
    return pyvista.PolyData(pts, lines=lines.ravel())


def _zoom_window(tm: TaggedMesh, grid):
    """2D resolved coating: (centre, half-size) in µm of a window around the coating, or None."""
    if "coating" not in tm.groups:
        return None
    sel = np.flatnonzero(grid.cell_data["region"] == tm.tag("coating"))
    if len(sel) == 0:
        return None
    c = grid.extract_cells(sel).cell_centers().points
    b = np.array(grid.bounds)
    xm = 0.5 * (b[0] + b[1])
    k = int(np.argmin(np.abs(c[:, 0] - xm) - 1e-3 * c[:, 1]))
    t = float(tm.info.get("coating_thickness") or 0.0) * 1e6
    half = 8 * t if t > 0 else 0.05 * (b[1] - b[0])
    return c[k], half


def _legend(pl, entries, width=0.2):
    leg = pl.add_legend(entries, bcolor="white", face="rectangle", size=(width, 0.035 * len(entries) + 0.01),
                        loc="upper right")
    h = 0.035 * len(entries) + 0.01
    leg.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    leg.GetPositionCoordinate().SetValue(0.99 - width, 0.99 - h)
    leg.GetPosition2Coordinate().SetCoordinateSystemToNormalizedViewport()
    leg.GetPosition2Coordinate().SetValue(width, h)
    return leg


def _draw_2d(pl, tm, grid, edges, window=None):
    import pyvista

    entries = []
    for tag, name in _regions(tm):
        part = grid.extract_cells(np.flatnonzero(grid.cell_data["region"] == tag))
        if part.n_cells == 0:
            continue
        colour, _ = COLOURS.get(name, ("#6a3d9a", 1.0))
        pl.add_mesh(part, color=colour, opacity=0.55 if name == "electrolyte" else 1.0, show_edges=edges,
                    edge_color="#444444", line_width=0.4, lighting=False)
        entries.append([name, colour])
    lines = _thin_coating_lines(tm)
    if lines is not None:
        pl.add_mesh(lines, color=COLOURS["coating"][0], line_width=1.5, lighting=False)
        entries.append(["coating (thin)", COLOURS["coating"][0]])
    if window is not None:
        (cx, cy, _), half = window
        box = pyvista.Box(bounds=(cx - half, cx + half, cy - half, cy + half, 0.0, 0.0)).outline()
        pl.add_mesh(box, color="black", line_width=2.0)
    return entries


def render(tm: TaggedMesh, png: str, *, clip: bool = True, title: str | None = None,
           window_size=(1400, 900), show_edges: bool | None = None) -> str:
    """Write a PNG picture of ``tm`` coloured by region; returns the path.

    2D: top view with cell edges; a resolved coating gets a second panel zoomed on it (the
    window is boxed in the full view); a thin (interface) coating is drawn as a red line.
    3D: the solids (electrolyte thresholded out, its extent as an outline), isometric camera;
    ``clip`` cuts them at y = D/2 so the inside of the host shows.
    """
    import pyvista

    pyvista.OFF_SCREEN = True
    grid = to_pyvista(tm)
    dim = tm.dim
    edges = (dim == 2 and grid.n_cells <= 20000) if show_edges is None else show_edges
    bounds = np.array(grid.bounds)
    if dim == 2:
        window = _zoom_window(tm, grid)
        shape = (1, 2) if window is not None else (1, 1)
        size = list(window_size) if window is not None else [window_size[1], window_size[1]]
        pl = pyvista.Plotter(off_screen=True, window_size=size, shape=shape, border=False)
        pl.set_background("white")
        entries = _draw_2d(pl, tm, grid, edges, window)
        pl.view_xy()
        pl.show_bounds(xtitle="x (um)", ytitle="y (um)", font_size=10, color="black", grid=False, location="outer")
        pl.camera.zoom(0.92)
        if title:
            pl.add_text(title, position="upper_left", font_size=11, color="black")
        _legend(pl, entries, 0.2 if window is None else 0.36)
        if window is not None:
            pl.subplot(0, 1)
            pl.set_background("white")
            _draw_2d(pl, tm, grid, True)
            (cx, cy, _), half = window
            pl.view_xy()
            pl.camera.parallel_projection = True
            pl.camera.focal_point = (cx, cy, 0.0)
            pl.camera.position = (cx, cy, 10.0 * half + 1.0)
            pl.camera.parallel_scale = half
            pl.add_text(f"zoom: {2 * half * 1e3:.0f} nm window at the coating", position="upper_left",
                        font_size=10, color="black")
    else:
        pl = pyvista.Plotter(off_screen=True, window_size=list(window_size), lighting="three lights")
        pl.set_background("white")
        entries = []
        solids = np.flatnonzero(grid.cell_data["region"] != tm.tag("electrolyte")) if "electrolyte" in tm.groups \
            else np.arange(grid.n_cells)
        ztop = np.array(grid.extract_cells(solids).bounds)[5] if len(solids) else bounds[5]
        zcut = min(bounds[5], ztop + 0.5 * max(ztop - bounds[4], 0.1 * (bounds[5] - bounds[4])))
        ymid = 0.5 * (bounds[2] + bounds[3])
        for tag, name in _regions(tm):
            if name == "electrolyte":
                continue  # thresholded out: the solids are the picture
            part = grid.extract_cells(np.flatnonzero(grid.cell_data["region"] == tag))
            if part.n_cells == 0:
                continue
            colour, opacity = COLOURS.get(name, ("#6a3d9a", 1.0))
            if clip:  # keep y <= D/2: the cut face looks at the camera
                part = part.clip(normal=(0, 1, 0), origin=(0, ymid, 0), invert=True)
                if part.n_cells == 0:
                    continue
            pl.add_mesh(part.extract_surface(algorithm="dataset_surface"), color=colour, opacity=opacity,
                        show_edges=edges, edge_color="#333333", line_width=0.3, ambient=0.3, diffuse=0.8)
            entries.append([name, colour])
        if tm.info.get("coating_model") == "thin" and float(tm.info.get("coating_thickness") or 0) > 0:
            t_nm = float(tm.info["coating_thickness"]) * 1e9
            entries.append([f"thin {t_nm:g} nm coating (surfaces)", "#888888"])
        b = bounds.copy()
        b[5] = zcut
        if clip:
            b[3] = ymid
        pl.add_mesh(pyvista.Box(bounds=tuple(b)).outline(), color="#1f78b4", line_width=1.5)
        label = "electrolyte (outline)" if zcut >= bounds[5] else f"electrolyte (to z = {bounds[5]:g} um)"
        entries.append([label, "#1f78b4"])
        pl.view_isometric()
        pl.show_bounds(bounds=tuple(b), xtitle="x (um)", ytitle="y (um)", ztitle="z (um)", font_size=10,
                       color="black", grid=False, location="outer")
        pl.reset_camera(bounds=tuple(b))
        pl.camera.zoom(0.95)
        if title:
            pl.add_text(title, position="upper_left", font_size=11, color="black")
        _legend(pl, entries, 0.3)
    pl.screenshot(str(png))
    pl.close()
    return str(png)


#: docs/img pictures: name -> (case file, --set overrides, clip). Overrides keep each mesh quick
#: or show more of a lattice; foam_3d is the experimental 3D foam, coarsened (Gmsh takes minutes).
GALLERY = {
    "planar": ("cases/default.toml", [], False),
    "sinusoid": ("cases/sinusoid.toml", [], False),
    "bump": ("cases/bump.toml", [], False),
    "pillars": ("cases/pillars.toml", ['geometry.width="10 um"', 'geometry.depth="10 um"'], False),
    "fibers": ("cases/fibers.toml", [], True),
    "foam": ("cases/foam.toml", [], False),
    "fibers_random3d": ("cases/review/host_CNT_sponge_Al2O3.toml", [], False),
    "foam_3d": ("cases/foam.toml", ["geometry.dim=3", 'geometry.width="10 um"', 'geometry.host_thickness="10 um"',
                                    'geometry.mesh_size="2 um"', 'geometry.interface_mesh_size="0.5 um"'], False),
}


def gallery(directory="docs/img", names=None) -> dict:
    """Build the meshes of :data:`GALLERY` (serial) and write ``<directory>/<name>.png``; returns timings."""
    import time
    from pathlib import Path

    from mpi4py import MPI

    from licoat.case import load_case
    from licoat.meshes import build_mesh
    from licoat.setup import geometry_params

    out = {}
    for name in names or GALLERY:
        case_file, sets, clip = GALLERY[name]
        case, _ = load_case(case_file, sets)
        t0 = time.perf_counter()
        tm = build_mesh(MPI.COMM_SELF, geometry_params(case))
        t1 = time.perf_counter()
        g = case.geometry
        render(tm, str(Path(directory) / f"{name}.png"), clip=clip, title=f"{g.kind} ({g.dim}D)")
        out[name] = {"cells": int(tm.mesh.topology.index_map(tm.dim).size_local), "mesh_s": t1 - t0,
                     "render_s": time.perf_counter() - t1}
        print(f"{name}: {out[name]['cells']} cells, mesh {t1 - t0:.1f} s, render {out[name]['render_s']:.1f} s",
              flush=True)
    return out


def main(argv=None):
    import argparse

    from licoat import import_stack

    import_stack()
    from mpi4py import MPI

    from licoat.case import load_case
    from licoat.meshes import build_mesh
    from licoat.setup import geometry_params

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", nargs="?", help="case file (or --gallery)")
    ap.add_argument("png", nargs="?")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--no-clip", action="store_true")
    ap.add_argument("--gallery", metavar="DIR", help="write the docs pictures (GALLERY) into DIR")
    ap.add_argument("--only", nargs="*", help="with --gallery: these names only")
    a = ap.parse_args(argv)
    if a.gallery:
        gallery(a.gallery, a.only)
        return
    case, _ = load_case(a.case, a.set)
    tm = build_mesh(MPI.COMM_SELF, geometry_params(case))
    render(tm, a.png, clip=not a.no_clip)


if __name__ == "__main__":
    main()
