"""Small builders shared by tests: constant-property electrolyte and a planar stack."""

import math

from licoat.meshes import build_mesh
from licoat.solver.properties import Electrolyte, Fit

KAPPA, D, TP, C0 = 1.0, 3e-10, 0.3, 1000.0  # S/m, m^2/s, -, mol/m^3


def constant_electrolyte(kappa=KAPPA, diffusivity=D, tp=TP, c0=C0):
    return Electrolyte("const", c0, Fit(constant=kappa), Fit(constant=diffusivity), tp, 1.0)


def planar(comm, *, dim=2, width=10e-6, L=50e-6, h=2e-6, t=0.0, model="resolved", h_fine=None, layers=2, depth=None):
    p = dict(kind="planar", dim=dim, width=width, electrolyte_thickness=L, mesh_size=h, anode_thickness=2 * h,
             coating_thickness=t, coating_model=model, coating_cells=layers)
    if h_fine:
        p["interface_mesh_size"] = h_fine
    if depth:
        p["depth"] = depth
    return build_mesh(comm, p)


SUMMARY_SKIP = {"timing", "ranks", "mesh_from_cache"}  # what a restart or another rank count may change


def assert_same_summary(a, b, rel: float, path: str = "", skip=SUMMARY_SKIP):
    """Every number of two summaries (nested dicts/lists) within ``rel`` (1e-14 absolute where zero)."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            if k not in skip:
                assert_same_summary(a[k], b[k], rel, f"{path}.{k}", skip)
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_summary(x, y, rel, f"{path}[{i}]", skip)
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=rel, abs_tol=1e-14), (path, a, b)
    else:
        assert a == b, (path, a, b)


def facet_measure(tm, facets):
    """Length (2D) or area (3D) of the given facets, from their vertices."""
    import numpy as np
    from dolfinx.mesh import entities_to_geometry

    x = tm.mesh.geometry.x[entities_to_geometry(tm.mesh, tm.dim - 1, facets)]
    if tm.dim == 2:
        return float(np.linalg.norm(x[:, 1] - x[:, 0], axis=1).sum())
    return float(0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1).sum())


def tag_census(tm):
    """{group: (cells or facets, volume or area)} summed over the ranks (owned entities only)."""
    import numpy as np
    import ufl
    from dolfinx import fem
    from mpi4py import MPI

    comm, d = tm.mesh.comm, tm.mesh.topology.dim
    nc = tm.mesh.topology.index_map(d).size_local
    nf = tm.mesh.topology.index_map(d - 1).size_local
    one = fem.Constant(tm.mesh, 1.0)
    dx = ufl.Measure("dx", domain=tm.mesh, subdomain_data=tm.cell_tags)
    out = {}
    for name, (dim, tag) in tm.groups.items():
        if dim == d:
            n, size = np.count_nonzero(tm.cells(name) < nc), fem.assemble_scalar(fem.form(one * dx(tag)))
        else:
            owned = tm.facets(name)[tm.facets(name) < nf]
            n, size = len(owned), facet_measure(tm, owned)
        out[name] = (comm.allreduce(int(n), op=MPI.SUM), comm.allreduce(size, op=MPI.SUM))
    return out
