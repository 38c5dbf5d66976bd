"""Plots of sweeps (matplotlib, PNG and SVG) and pictures of the plating surface (pyvista, off-screen).

* :func:`line_plot`: a metric against a parameter, one line per value of the other varied keys,
  with shaded uncertainty bands [low, high] where the sweep ran ``--bands``;
* :func:`heatmap`: a metric over two varied keys;
* :func:`write_plating_surface` (called by ``licoat run``): the plating facets and the nodal plating
  current density i_n (A/m², plating positive) gathered on rank 0 into
  ``fields/plating_surface.npz`` (``points`` [m], ``cells``, ``values``, ``surface``, ``names``);
* :func:`render_plating`: that surface coloured by i_n (``plating.png`` in the run directory);
* :func:`write_deposit_picture` (transient runs): ``deposit_thickness.png``, the deposit thickness over the
  plating surface at the end of the run (rank 0 renders the gathered surface; field files stay parallel).

Parameter values such as ``"10 nm"`` are plotted as numbers in the unit of the first value (pint);
values that are not quantities (material names) are categories.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

PLOT_METRICS = [
    ("plating.cv", "plating current cv (-)"),
    ("plating.max_over_mean", "max / mean plating current (-)"),
    ("cell_voltage_V", "cell voltage (V)"),
    ("host.top_to_bottom_ratio", "host top / bottom current (-)"),
]


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def numeric_axis(values: list) -> tuple[list[float], str] | None:
    """Values as floats in the unit of the first one and that unit's label; None if categorical."""
    from licoat.units import registry

    ureg = registry()
    qs = []
    for v in values:
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            qs.append(ureg.Quantity(float(v)))
            continue
        try:
            q = ureg.Quantity(str(v))
        except Exception:
            return None
        if not hasattr(q, "units"):
            return None
        qs.append(q)
    if not qs:
        return None
    try:
        xs = [float(q.to(qs[0].units).magnitude) for q in qs]
    except Exception:
        return None
    unit = "" if qs[0].dimensionless else f"{qs[0].units:~P}"
    return xs, unit


def _finished(rows):
    return [r for r in rows if r.get("status") == "finished"]


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _label(key: str, unit: str) -> str:
    return f"{key} ({unit})" if unit else key


def line_plot(rows: list[dict], x: str, metric: str, others: list[str], stem: Path | None, ylabel: str | None = None,
              bands: dict | None = None, ax=None) -> list[str]:
    """``metric`` against ``x``; one line per combination of the ``others`` keys' values; bands shaded.
    Writes ``stem``.png/.svg, or draws into ``ax`` (then nothing is written)."""
    plt = _mpl()
    rows = [r for r in _finished(rows) if _num(r.get(metric))]
    if not rows:
        return []
    allx = list(dict.fromkeys(r[x] for r in rows))
    num = numeric_axis(allx)
    pos = dict(zip(allx, num[0])) if num else {v: i for i, v in enumerate(allx)}
    fig, ax = (None, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in others), []).append(r)
    for g, rs in groups.items():
        rs = sorted(rs, key=lambda r: pos[r[x]])
        xs = [pos[r[x]] for r in rs]
        ys = [r[metric] for r in rs]
        label = ", ".join(f"{k} = {v}" for k, v in zip(others, g)) or None
        (line,) = ax.plot(xs, ys, "o-", label=label)
        if bands:
            lo = [bands.get((r["point"], metric), (y, y))[0] for r, y in zip(rs, ys)]
            hi = [bands.get((r["point"], metric), (y, y))[1] for r, y in zip(rs, ys)]
            if any(a != b for a, b in zip(lo, hi)):
                ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.25, lw=0,
                                label=(label + ": " if label else "") + "range (estimated properties)")
    if num:
        xs = num[0]
        if min(xs) > 0 and max(xs) / min(xs) > 20:
            ax.set_xscale("log")
        ax.set_xlabel(_label(x, num[1]))
    else:
        ax.set_xticks(range(len(allx)), [str(v) for v in allx], rotation=30)
        ax.set_xlabel(x)
    ax.set_ylabel(ylabel or metric)
    if any(ax.get_legend_handles_labels()[1]):
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if fig is None:
        return []
    fig.tight_layout()
    return _save(fig, plt, stem)


def heatmap(rows: list[dict], x: str, y: str, metric: str, stem: Path, label: str | None = None,
            fixed: dict | None = None) -> list[str]:
    """``metric`` over the grid of ``x`` and ``y`` values (rows with the ``fixed`` key values only)."""
    plt = _mpl()
    rows = [r for r in _finished(rows) if _num(r.get(metric)) and all(r.get(k) == v for k, v in (fixed or {}).items())]
    if not rows:
        return []
    xv = list(dict.fromkeys(r[x] for r in rows))
    yv = list(dict.fromkeys(r[y] for r in rows))
    for vals in (xv, yv):
        num = numeric_axis(vals)
        if num:
            order = np.argsort(num[0])
            vals[:] = [vals[i] for i in order]
    grid = np.full((len(yv), len(xv)), np.nan)
    for r in rows:
        grid[yv.index(r[y]), xv.index(r[x])] = r[metric]
    fig, ax = plt.subplots(figsize=(1.2 * len(xv) + 3, 0.6 * len(yv) + 2.5))
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xv)), [str(v) for v in xv], rotation=30)
    ax.set_yticks(range(len(yv)), [str(v) for v in yv])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax, label=label or metric)
    if fixed:
        ax.set_title(", ".join(f"{k} = {v}" for k, v in fixed.items()), fontsize=8)
    fig.tight_layout()
    return _save(fig, plt, stem)


def _save(fig, plt, stem: Path) -> list[str]:
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("png", "svg"):
        f = stem.with_suffix("." + ext)
        fig.savefig(f, dpi=120)
        out.append(str(f))
    plt.close(fig)
    return out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def sweep_plots(out: Path, keys: list[str], rows: list[dict], bands: dict | None = None,
                axes: list[list[str]] | None = None) -> list[str]:
    """The standard set for a sweep: ``plots/<metric>_vs_<key>.png|svg`` (lines per value of the other
    axes' keys), ``plots/<metric>_heatmap.png|svg`` over the first two axes (further axes at their
    first value), and the two-panel ``sweep.png``. An axis is one key, or the keys of ``[zip]``."""
    out = Path(out)
    files = []
    if not keys:
        return files
    axes = axes or [[k] for k in keys]
    x = axes[0][0]
    others = [k for ax in axes[1:] for k in ax]
    for metric, ylabel in PLOT_METRICS:
        files += line_plot(rows, x, metric, others, out / "plots" / f"{_safe(metric)}_vs_{_safe(x)}", ylabel, bands)
        if len(axes) >= 2:
            fixed = {k: rows[0][k] for ax in axes[2:] for k in ax} if rows else {}
            files += heatmap(rows, x, axes[1][0], metric, out / "plots" / f"{_safe(metric)}_heatmap", ylabel, fixed)
    _two_panel(rows, x, others, out / "sweep.png", bands)
    if (out / "sweep.png").exists():
        files.append(str(out / "sweep.png"))
    return files


def _two_panel(rows, x, others, png: Path, bands):
    """sweep.png: plating cv and cell voltage against the first key, one line per other-key value."""
    plt = _mpl()
    if not _finished(rows):
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, (metric, ylabel) in zip(axes, [PLOT_METRICS[0], PLOT_METRICS[2]]):
        line_plot(rows, x, metric, others, None, ylabel, bands, ax=ax)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# the plating surface
def plating_surface_arrays(cell, fields: dict | None = None):
    """This rank's owned plating facets: (coordinates [nf, k, 3] in m, nodal i_n [nf, k] in A/m²,
    surface index [nf], surface names). Needs P1 geometry and a P1 plating-current field."""
    return surface_arrays(cell, (fields or cell.fields())["plating_current_density"])


def surface_arrays(cell, f):
    """This rank's owned plating facets and the nodal values of the P1 field ``f`` on them: (coordinates
    [nf, k, 3] in m, values [nf, k], surface index [nf], surface names)."""
    import dolfinx

    tm = cell.tm
    msh, d = tm.mesh, tm.dim
    V = f.function_space
    if msh.geometry.cmaps[0].degree != 1 or V.element.basix_element.degree != 1:
        raise ValueError("plating surface export needs a P1 mesh and a P1 field")
    geom, dofs = msh.geometry.dofmaps(0) if callable(msh.geometry.dofmaps) else msh.geometry.dofmaps[0], V.dofmap.list
    node2dof = np.full(msh.geometry.x.shape[0], -1, dtype=np.int64)
    node2dof[geom.ravel()] = dofs.ravel()  # P1 on P1 geometry: both in reference-vertex order
    nowned = msh.topology.index_map(d - 1).size_local
    names = [s for s in cell.surfaces if s in tm.groups]
    xs, vs, ss = [], [], []
    for i, name in enumerate(names):
        facets = tm.facets(name)
        facets = facets[facets < nowned]
        if len(facets) == 0:
            continue
        nodes = dolfinx.mesh.entities_to_geometry(msh, d - 1, facets)
        xs.append(msh.geometry.x[nodes])
        vs.append(f.x.array[node2dof[nodes]].real)
        ss.append(np.full(len(facets), i))
    k = d  # nodes per linear facet: 2 (segments) in 2D, 3 (triangles) in 3D
    cat = (lambda a, shape: np.concatenate(a) if a else np.zeros(shape))
    return cat(xs, (0, k, 3)), cat(vs, (0, k)), cat(ss, (0,)).astype(int), names


def write_plating_surface(comm, cell, fields: dict | None, path: Path) -> None:
    """Gather the plating surface on rank 0 and write ``path`` (npz: points, cells, values, surface, names)."""
    write_surface(comm, cell, (fields or cell.fields())["plating_current_density"], path)


def write_surface(comm, cell, f, path: Path) -> None:
    """Gather the plating facets with the nodal values of ``f`` on rank 0 and write ``path`` (npz)."""
    x, v, s, names = surface_arrays(cell, f)
    parts = comm.gather((x, v, s), root=0)
    if comm.rank != 0:
        return
    x = np.concatenate([p[0] for p in parts])
    v = np.concatenate([p[1] for p in parts])
    s = np.concatenate([p[2] for p in parts])
    nf, k = v.shape if v.ndim == 2 else (0, cell.tm.dim)
    np.savez_compressed(path, points=x.reshape(-1, 3), cells=np.arange(nf * k).reshape(nf, k),
                        values=v.reshape(-1), surface=s, names=np.array(names), dim=cell.tm.dim)


def render_plating(npz: Path, png: Path, title: str | None = None, window_size=(900, 600)) -> Path:
    """Off-screen picture of the plating surface coloured by the plating current density (A/m²);
    coordinates in µm. 2D: the surface curve drawn thick in the x-y plane; 3D: the surface, isometric."""
    return render_surface(npz, png, "plating current density (A/m^2)", title=title, window_size=window_size)


def render_surface(npz: Path, png: Path, label: str, scale: float = 1.0, title: str | None = None,
                   window_size=(900, 600)) -> Path:
    """Off-screen picture of a surface npz (:func:`write_surface`) coloured by its values times ``scale``."""
    import pyvista

    pyvista.OFF_SCREEN = True
    try:  # no display here by design: silence VTK's "bad X server connection" message
        from vtkmodules.vtkCommonCore import vtkLogger

        vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)
    except ImportError:
        pass
    data = np.load(npz)
    pts, cells, vals, dim = data["points"] * 1e6, data["cells"], data["values"] * scale, int(data["dim"])
    if len(cells) == 0:
        raise ValueError(f"{npz}: no plating facets")
    k = cells.shape[1]
    conn = np.hstack([np.full((len(cells), 1), k), cells]).ravel()
    poly = pyvista.PolyData(pts, lines=conn) if dim == 2 else pyvista.PolyData(pts, faces=conn)
    poly.point_data["values"] = vals
    pl = pyvista.Plotter(off_screen=True, window_size=list(window_size))
    pl.set_background("white")
    bar = {"title": label, "color": "black", "fmt": "%.4g"}
    lo, hi, mean = float(vals.min()), float(vals.max()), float(np.mean(vals))
    spread = max(abs(mean), abs(lo), abs(hi))
    if hi - lo < 1e-3 * spread:  # uniform to round-off: do not stretch the colours over noise
        lo, hi = mean - 5e-4 * spread, mean + 5e-4 * spread
    if hi == lo:  # all zero
        lo, hi = lo - 1.0, hi + 1.0
    bar["n_labels"] = 3
    if dim == 2:
        pl.add_mesh(poly, scalars="values", cmap="viridis", clim=(lo, hi), line_width=8, scalar_bar_args=bar)
        pl.view_xy()
    else:
        pl.add_mesh(poly, scalars="values", cmap="viridis", clim=(lo, hi), scalar_bar_args=bar)
        pl.view_isometric()
    pl.show_bounds(color="black", xtitle="x (um)", ytitle="y (um)", ztitle="z (um)", font_size=10)
    if title:
        pl.add_text(title, font_size=10, color="black")
    pl.reset_camera()
    pl.screenshot(str(png))
    pl.close()
    return Path(png)


DEPOSIT_PICTURE = "deposit_thickness.png"


def write_deposit_picture(comm, cell, thickness, run_dir: Path, title: str | None = None) -> str | None:
    """``<run>/deposit_thickness.png``: the deposit thickness δ (µm) over the plating surface at the end of a
    transient run (``thickness``: the P1 field δ [m]). The surface is gathered on rank 0 (also kept as
    ``fields/deposit_surface.npz``), which renders it off-screen. Returns the file name, or None where pyvista
    is not installed (every rank gets the same answer). Collective."""
    run_dir = Path(run_dir)
    npz = run_dir / "fields" / "deposit_surface.npz"
    write_surface(comm, cell, thickness, npz)
    name = None
    if comm.rank == 0:
        try:
            import pyvista  # noqa: F401
        except ImportError:
            pass
        else:
            render_surface(npz, run_dir / DEPOSIT_PICTURE, "deposit thickness (um)", scale=1e6, title=title)
            name = DEPOSIT_PICTURE
    return comm.bcast(name, root=0)


def render_run(run_dir: Path) -> Path | None:
    """``<run>/plating.png`` from ``<run>/fields/plating_surface.npz`` (None if the run has none or
    pyvista is not installed); reused when newer than the data."""
    run_dir = Path(run_dir)
    npz = run_dir / "fields" / "plating_surface.npz"
    png = run_dir / "plating.png"
    if not npz.exists():
        return None
    if png.exists() and png.stat().st_mtime >= npz.stat().st_mtime:
        return png
    try:
        import pyvista  # noqa: F401
    except ImportError:
        return None
    title = None
    sj = run_dir / "summary.json"
    if sj.exists():
        s = json.loads(sj.read_text())
        p = s.get("plating", {})
        title = f"{run_dir.name}: cv = {p.get('cv', float('nan')):.3g}, max/mean = {p.get('max_over_mean', float('nan')):.3g}"
    return render_plating(npz, png, title)
