"""3D open-cell foam (jittered periodic Kelvin skeleton): meshes for several seeds, tags, porosity,
determinism, quality and impossible geometry. One Kelvin cube per cell keeps each mesh at a few seconds."""

from __future__ import annotations

import numpy as np
import pytest

from licoat import import_stack

import_stack()
from mpi4py import MPI  # noqa: E402

from licoat.meshes import foam  # noqa: E402
from licoat.meshes.common import GeometryError  # noqa: E402
from licoat.meshes.registry import build_mesh  # noqa: E402
from licoat.meshes.report import geometry_report  # noqa: E402

COMM = MPI.COMM_WORLD
um = 1e-6
GROUPS = ["host", "collector", "electrolyte", "host_electrolyte", "host_collector", "collector_electrolyte",
          "top", "bottom", "left", "right", "front", "back"]


def foam_p(**kw):
    p = dict(kind="foam", dim=3, width=4 * um, depth=4 * um, host_thickness=4 * um, pore_size=3 * um, porosity=0.85,
             seed=1, electrolyte_thickness=3 * um, collector_thickness=1 * um, mesh_size=1.5 * um,
             interface_mesh_size=0.4 * um, coating_thickness=0.0, coating_model="resolved")
    return {**p, **kw}


_CACHE: dict = {}


def built(seed):
    if seed not in _CACHE:
        p = foam_p(seed=seed)
        tm = build_mesh(COMM, p)
        _CACHE[seed] = (tm, geometry_report(tm, p))
    return _CACHE[seed]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_foam3d_meshes(seed):
    tm, rep = built(seed)
    missing = [n for n in GROUPS if not tm.has(n)]
    assert not missing, f"missing or empty groups {missing}; have {sorted(tm.groups)}"
    assert tm.info["network"] == "kelvin"
    assert rep["porosity"] == pytest.approx(0.85, abs=0.02)
    assert tm.info["porosity_geometry"] == pytest.approx(0.85, abs=0.01)
    assert rep["min_quality"] > 0.05


def test_foam3d_same_seed_same_mesh():
    a, _ = built(1)
    b = build_mesh(COMM, foam_p(seed=1))
    assert a.mesh.topology.index_map(3).size_global == b.mesh.topology.index_map(3).size_global
    if COMM.size == 1:
        assert np.array_equal(a.mesh.geometry.x, b.mesh.geometry.x)
    c, _ = built(2)
    if COMM.size == 1:
        assert a.mesh.geometry.x.shape != c.mesh.geometry.x.shape or not np.array_equal(a.mesh.geometry.x,
                                                                                          c.mesh.geometry.x)


def test_foam3d_lattice_periodic():
    net = foam.kelvin_lattice(foam_p())
    # every canonical node has degree 4 in the infinite skeleton; in the layer, the struts between
    # two nodes inside it (x, y periodic) close on themselves
    assert net["face"][:, 0].any() and net["face"][:, 2].any()
    assert not np.any(net["face"].sum(axis=1) > 1), "a node lies on an edge of the cell box"


@pytest.mark.parametrize("params, key", [
    (foam_p(porosity=None, strut_diameter=3 * um), "geometry.strut_diameter"),
    (foam_p(porosity=None, strut_diameter=1.5 * um), "geometry.strut_diameter"),
    (foam_p(porosity=0.35), "geometry.porosity"),
])
def test_foam3d_impossible(params, key):
    with pytest.raises(GeometryError, match=key.replace(".", r"\.")):
        build_mesh(COMM, params)
