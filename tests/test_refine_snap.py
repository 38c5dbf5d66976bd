"""Refined-and-snapped fibre hosts (meshes/refine.py; issue 12, item 3).

Reference: the exact fibre geometry (cylinders of radius r; volume n pi r^2 L and lateral area
n 2 pi r L, the construction of meshes/fibers.py) and the host meshed directly by Gmsh at the
refined size. Issue 12's verification: the refined-and-snapped host reproduces the directly meshed
host's porosity and specific surface area within 1 %. A polygonal surface of chord h has a volume
error O(h^2/r^2); halving h without snapping leaves the coarse error, snapping divides it by ~4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

import dolfinx.mesh  # noqa: E402

from licoat.meshes import build_mesh, fibers  # noqa: E402
from licoat.meshes.refine import refine_snapped  # noqa: E402
from licoat.meshes.report import geometry_report  # noqa: E402

COMM = MPI.COMM_WORLD
um = 1e-6


def host(orientation, h, hf):
    return dict(kind="fibers", dim=3, orientation=orientation, width=6 * um, depth=6 * um, fiber_diameter=2 * um,
                fiber_volume_fraction=0.2, host_thickness=5 * um, collector_thickness=1 * um, seed=3,
                electrolyte_thickness=4 * um, mesh_size=h * um, interface_mesh_size=hf * um, coating_thickness=0.0,
                coating_model="resolved")


def porosity_and_ssa(tm, p):
    rep = geometry_report(tm, p)
    layer = p["width"] * p["depth"] * p["host_thickness"]
    return 1 - rep["volumes_m3"]["host"] / layer, rep["interface_areas_m2"]["host_electrolyte"] / layer, rep


@pytest.mark.parametrize("orientation", ["aligned", "random-in-plane"])
def test_refined_snapped_host_matches_directly_meshed(orientation):
    coarse_p, fine_p = host(orientation, 2, 0.8), host(orientation, 1, 0.4)
    coarse = build_mesh(COMM, coarse_p)
    snapped = refine_snapped(coarse, coarse_p, levels=1)
    plain = refine_snapped(build_mesh(COMM, coarse_p), coarse_p, levels=1, snap=False)
    direct = build_mesh(COMM, fine_p)
    eps_s, ssa_s, rep_s = porosity_and_ssa(snapped, coarse_p)
    eps_d, ssa_d, _ = porosity_and_ssa(direct, fine_p)
    assert eps_s == pytest.approx(eps_d, rel=0.01)
    assert ssa_s == pytest.approx(ssa_d, rel=0.01)
    # against the exact fibre volume: snapping removes most of the coarse chord error
    fib = fibers.layout(coarse_p)
    exact = fibers.fibre_volume(coarse_p, fib)
    err_snapped = abs(rep_s["volumes_m3"]["host"] - exact) / exact
    err_plain = abs(geometry_report(plain, coarse_p)["volumes_m3"]["host"] - exact) / exact
    assert err_plain > 0.04 and err_snapped < 0.5 * err_plain
    assert rep_s["cells"] == 8 * geometry_report(coarse, coarse_p)["cells"]
    assert sorted(snapped.groups) == sorted(coarse.groups) and snapped.info["snapped_vertices"] > 0
    assert rep_s["min_quality"] > 0.02  # no inverted or collapsed cells


def test_snapped_vertices_lie_on_the_fibre_cylinders():
    p = host("aligned", 2, 0.8)
    tm = refine_snapped(build_mesh(COMM, p), p)
    nodes = np.unique(dolfinx.mesh.entities_to_geometry(tm.mesh, 2, tm.facets("host_electrolyte"), False))
    x = tm.mesh.geometry.x[nodes]
    W, r = p["width"], p["fiber_diameter"] / 2
    rad = np.full(len(x), np.inf)
    for _, xf, zf in fibers.layout(p):
        dx = (x[:, 0] - xf + W / 2) % W - W / 2
        rad = np.minimum(rad, np.hypot(dx, x[:, 2] - zf))
    on = np.abs(rad - r) < 1e-9 * r
    # all but vertices on cell edges (two lateral faces), which stay where the coarse mesh had them
    assert len(x) > 0 and np.count_nonzero(on) >= 0.95 * len(x)


def test_too_coarse_a_base_mesh_is_refused_not_solved(tmp_path, capsys):
    """Refined three times, the fibre host is meshed by Gmsh at 8x the sizes (facets of ~1 um on 2 um fibres):
    snapping the refined surface vertices onto the cylinders then turns cells next to them inside out. That is
    bad input (exit 2, naming geometry.refine_levels, no results), not a solver failure: before this check the
    run went on to a NaN residual after minutes of Newton continuation."""
    from licoat.cli import main

    out = tmp_path / "out"
    case = Path(__file__).resolve().parents[1] / "cases" / "fibers.toml"
    code = main(["run", str(case), "--out", str(out), "--quiet", "--set", "geometry.mesh_size=0.54 um",
                 "--set", "geometry.interface_mesh_size=0.135 um", "--set", "geometry.refine_levels=3",
                 "--set", "geometry.cache=false", "--set", "output.fields=false"])
    err = capsys.readouterr().err
    assert code == 2 and "geometry.refine_levels = 3" in err and "inverted" in err and not out.exists()
