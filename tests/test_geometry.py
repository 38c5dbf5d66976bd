"""Geometry library (issue 3): areas/volumes vs closed forms, tags, seeds, impossible geometry.

Meshes are coarse; tolerances cover the polygonal approximation of curved surfaces
(>= 16 segments per 2π: perimeter error < 0.7 %, area error < 2.6 %).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

from licoat.meshes import bump, fibers, foam, pillars, sinusoid  # noqa: E402
from licoat.meshes.common import GeometryError  # noqa: E402
from licoat.meshes.registry import build_mesh  # noqa: E402
from licoat.meshes.report import geometry_report  # noqa: E402

COMM = MPI.COMM_WORLD
um = 1e-6
OUTER2 = {"left", "right", "top", "bottom"}
OUTER3 = OUTER2 | {"front", "back"}


def base(kind, dim, **kw):
    p = dict(kind=kind, dim=dim, electrolyte_thickness=5 * um, mesh_size=1.5 * um, interface_mesh_size=0.5 * um,
             coating_thickness=0.0, coating_model="resolved")
    return {**p, **kw}


def sin_p(dim, **kw):
    d = dict(width=10 * um, depth=2 * um, anode_thickness=3 * um, amplitude=1 * um, wavelength=10 * um,
             electrolyte_thickness=8 * um, interface_mesh_size=0.3 * um)
    return base("sinusoid", dim, **{**d, **kw})


def pil_p(dim, **kw):
    d = dict(lattice="square", pillar_diameter=2 * um, pillar_height=4 * um, pitch=4 * um, collector_thickness=1 * um)
    return base("pillars", dim, **{**d, **kw})


def fib_p(dim, **kw):
    d = dict(orientation="aligned", width=12 * um, depth=6 * um, fiber_diameter=2 * um, fiber_volume_fraction=0.3,
             host_thickness=8 * um, collector_thickness=1 * um, seed=3)
    return base("fibers", dim, **{**d, **kw})


def groups_ok(tm, expected):
    missing = [n for n in expected if not tm.has(n)]
    assert not missing, f"missing or empty groups {missing}; have {sorted(tm.groups)}"


@pytest.mark.parametrize("dim", [2, 3])
def test_sinusoid_interface_length_and_area(dim):
    p = sin_p(dim)
    rep = geometry_report(build_mesh(COMM, p), p)
    exact = sinusoid.arc_length(1 * um, 10 * um, 10 * um) * (1 if dim == 2 else 2 * um)
    assert rep["interface_areas_m2"]["anode_electrolyte"] == pytest.approx(exact, rel=5e-3)
    assert rep["interface_areas_m2"]["top"] == pytest.approx(10 * um * (1 if dim == 2 else 2 * um), rel=1e-9)


@pytest.mark.parametrize("dim", [2, 3])
def test_sinusoid_resolved_coating_thickness(dim):
    t = 0.25 * um
    p = sin_p(dim, coating_thickness=t, mesh_size=2 * um)
    tm = build_mesh(COMM, p)
    groups_ok(tm, ["anode", "coating", "electrolyte", "anode_coating", "coating_electrolyte"]
              + sorted(OUTER2 if dim == 2 else OUTER3))
    ct = geometry_report(tm, p)["coating_thickness_m"]
    assert ct["mean"] == pytest.approx(t, rel=0.05)
    assert ct["min"] > 0.9 * t


@pytest.mark.parametrize("dim", [2, 3])
def test_bump_area(dim):
    p = base("bump", dim, width=6 * um, depth=6 * um, anode_thickness=2 * um, bump_radius=2 * um, coating_thickness=1e-8,
             coating_model="thin", interface_mesh_size=0.3 * um)
    tm = build_mesh(COMM, p)
    groups_ok(tm, ["anode", "electrolyte", "anode_coating"])
    assert "coating" not in tm.groups
    area = geometry_report(tm, p)["interface_areas_m2"]["anode_coating"]
    assert area == pytest.approx(bump.surface_area(p), rel=0.01)


@pytest.mark.parametrize("lattice", ["square", "hexagonal"])
def test_pillar_areas(lattice):
    p = pil_p(3, lattice=lattice)
    tm = build_mesh(COMM, p)
    groups_ok(tm, ["host", "collector", "electrolyte", "host_electrolyte", "collector_electrolyte", "host_collector"]
              + sorted(OUTER3))
    a = geometry_report(tm, p)["interface_areas_m2"]
    ex = pillars.analytic(p)
    assert a["host_electrolyte"] == pytest.approx(ex["host_surface"], rel=0.015)
    assert a["collector_electrolyte"] + a["host_collector"] == pytest.approx(ex["collector_exposed"] + ex["host_collector"],
                                                                            rel=1e-9)
    assert a["collector_electrolyte"] == pytest.approx(ex["collector_exposed"], rel=0.02)


def test_pillars_2d_resolved_exact():
    t = 0.2 * um
    p = pil_p(2, coating_thickness=t)
    tm = build_mesh(COMM, p)
    groups_ok(tm, ["host", "collector", "coating", "electrolyte", "host_coating", "collector_coating",
                   "coating_electrolyte", "host_collector"] + sorted(OUTER2))
    rep = geometry_report(tm, p)
    ex = pillars.analytic(p)
    assert rep["interface_areas_m2"]["host_coating"] == pytest.approx(ex["host_surface"], rel=1e-9)
    assert rep["volumes_m3"]["host"] == pytest.approx(ex["host_volume"], rel=1e-9)
    assert rep["coating_thickness_m"]["mean"] == pytest.approx(t, rel=0.05)
    # layer 0..h: pillar + collector coating beside it + side coatings above that slab, per pitch
    solid = ex["host_volume"] + (4 * um - 2 * um) * t + 2 * t * (4 * um - t)
    assert rep["porosity"] == pytest.approx(1 - solid / (4 * um * 4 * um), rel=1e-6)


@pytest.mark.parametrize("dim", [2, 3])
def test_aligned_fibres(dim):
    p = fib_p(dim, coating_thickness=1e-8, coating_model="thin")
    tm = build_mesh(COMM, p)
    groups_ok(tm, ["host", "collector", "electrolyte", "host_coating", "collector_coating"])
    rep = geometry_report(tm, p)
    n, r = tm.info["n_fibres"], 1 * um
    L = 1.0 if dim == 2 else 6 * um
    assert rep["interface_areas_m2"]["host_coating"] == pytest.approx(n * 2 * math.pi * r * L, rel=0.01)
    phi = tm.info["fiber_volume_fraction"]
    assert phi == pytest.approx(n * math.pi * r * r / (12 * um * 8 * um))
    assert rep["host_volume_fraction"] == pytest.approx(phi, rel=0.04)
    assert rep["porosity"] == pytest.approx(1 - 0.3, abs=0.02)


def test_random_fibres_3d_porosity_seed_and_periodic():
    p = fib_p(3, orientation="random-in-plane", width=10 * um, depth=10 * um, fiber_volume_fraction=0.25,
              fiber_diameter=1.5 * um, mesh_size=2 * um, periodic=True)
    tm = build_mesh(COMM, p)
    rep = geometry_report(tm, p)
    assert rep["porosity"] == pytest.approx(0.75, abs=0.02)
    x = tm.mesh.geometry.x
    # periodic: the node sets on x = 0 and x = W match after translation
    W = 10 * um
    left = np.sort(np.round(x[np.isclose(x[:, 0], 0.0, atol=1e-12)][:, 1:] / um, 6), axis=0)
    right = np.sort(np.round(x[np.isclose(x[:, 0], W, atol=1e-12)][:, 1:] / um, 6), axis=0)
    if COMM.size == 1:
        assert left.shape == right.shape and np.allclose(left, right)
    assert fibers.layout(p) == fibers.layout(dict(p))
    assert fibers.layout(p) != fibers.layout(dict(p, seed=4))


def test_same_seed_same_mesh():
    p = fib_p(2, orientation="random-in-plane", fiber_volume_fraction=0.2)
    a, b, c = build_mesh(COMM, p), build_mesh(COMM, dict(p)), build_mesh(COMM, dict(p, seed=11))
    ca = a.mesh.topology.index_map(2).size_global
    assert ca == b.mesh.topology.index_map(2).size_global
    if COMM.size == 1:
        assert np.array_equal(a.mesh.geometry.x, b.mesh.geometry.x)
    assert a.info["fibres"] != c.info["fibres"]


def test_foam_2d_porosity():
    p = base("foam", 2, width=10 * um, pore_size=4 * um, porosity=0.8, host_thickness=10 * um, seed=2,
             collector_thickness=1 * um, interface_mesh_size=0.3 * um)
    tm = build_mesh(COMM, p)
    groups_ok(tm, ["host", "collector", "electrolyte", "host_electrolyte", "host_collector"])
    rep = geometry_report(tm, p)
    assert rep["porosity"] == pytest.approx(0.8, abs=0.02)
    assert foam.tessellation(p)[0].shape == foam.tessellation(dict(p))[0].shape
    assert not np.array_equal(foam.tessellation(p)[0][:3], foam.tessellation(dict(p, seed=5))[0][:3])


@pytest.mark.parametrize("params, key", [
    (fib_p(3, fiber_volume_fraction=0.8), "geometry.fiber_volume_fraction = 0.8"),
    (fib_p(3, fiber_volume_fraction=0.8, orientation="random-in-plane"), "geometry.fiber_volume_fraction = 0.8"),
    (pil_p(3, pitch=2 * um), "geometry.pitch"),
    (pil_p(3, coating_thickness=0.9 * um), "coating.thickness"),
    (base("foam", 3, width=10 * um, pore_size=2 * um, strut_diameter=3 * um, host_thickness=10 * um),
     "geometry.strut_diameter"),
    (sin_p(2, width=7 * um), "geometry.width"),
    (sin_p(2, coating_thickness=3 * um), "coating.thickness"),
    (base("bump", 2, width=2 * um, anode_thickness=2 * um, bump_radius=2 * um), "geometry.bump_radius"),
    (dict(kind="torus", dim=3), "geometry.kind"),
])
def test_impossible_geometry(params, key):
    with pytest.raises(GeometryError, match=key.replace(".", r"\.")):
        build_mesh(COMM, params)


def test_mesh_cache(tmp_path):
    from licoat.meshes.cache import build_mesh_cached

    p = pil_p(3)
    a, hit_a = build_mesh_cached(COMM, p, tmp_path)
    b, hit_b = build_mesh_cached(COMM, p, tmp_path)
    assert (hit_a, hit_b) == (False, True)
    ra, rb = geometry_report(a, p), geometry_report(b, p)
    assert rb["cells"] == ra["cells"]
    for name, v in ra["interface_areas_m2"].items():
        assert rb["interface_areas_m2"][name] == pytest.approx(v, rel=1e-9)
    assert sorted(a.groups) == sorted(b.groups) and b.info["kind"] == "pillars"


@pytest.mark.parametrize("dim", [2, 3])
def test_planar_periodic_sides_have_matching_nodes(dim):
    from licoat.meshes import build_mesh

    p = dict(kind="planar", dim=dim, width=10e-6, depth=8e-6, electrolyte_thickness=20e-6, mesh_size=2e-6,
             anode_thickness=4e-6, coating_thickness=50e-9, coating_model="resolved", periodic=True)
    tm = build_mesh(COMM, p)
    if COMM.size > 1:
        return
    x = tm.mesh.geometry.x
    for axis, L in ((0, 10e-6),) + (((1, 8e-6),) if dim == 3 else ()):
        a = x[np.abs(x[:, axis]) < 1e-12]
        b = x[np.abs(x[:, axis] - L) < 1e-12].copy()
        b[:, axis] -= L
        key = lambda arr: set(map(tuple, np.round(arr / 1e-12).astype(np.int64)))  # noqa: E731
        assert len(a) > 0 and key(a) == key(b)
