"""The plating-surface export (fields/plating_surface.npz, used for the pictures) is the same on 1 and N ranks:
the same facets (matched by their midpoints) with the same nodal plating current density, to 1e-8."""

from pathlib import Path

import numpy as np
from mpi4py import MPI

from licoat.case import load_case
from licoat.run import run_case

ROOT = Path(__file__).resolve().parents[1]
SETS = ["geometry.mesh_size='4 um'", "geometry.interface_mesh_size='1 um'", "coating.model='thin'", "geometry.cache=false"]


def _facets(npz: Path):
    z = np.load(npz)
    pts = z["points"][z["cells"]]  # [nf, k, 3]
    order = np.lexsort(np.round(pts.mean(axis=1), 12).T[::-1])
    vals = z["values"][z["cells"]]
    # within a facet, order the nodes by coordinates as well
    out = []
    for f in order:
        o = np.lexsort(np.round(pts[f], 12).T[::-1])
        out.append((pts[f][o], vals[f][o]))
    return out


def test_plating_surface_same_on_1_and_n_ranks(shared_tmp):
    comm = MPI.COMM_WORLD
    case, _ = load_case(ROOT / "cases" / "sinusoid.toml", SETS)
    tmp = Path(shared_tmp)
    run_case(comm, case, tmp / "n", verbose=False)
    if comm.rank == 0:
        run_case(MPI.COMM_SELF, case, tmp / "one", verbose=False)
        a, b = _facets(tmp / "n" / "fields" / "plating_surface.npz"), _facets(tmp / "one" / "fields" / "plating_surface.npz")
        assert len(a) == len(b) > 10
        scale = max(np.abs(v).max() for _, v in b)
        for (xa, va), (xb, vb) in zip(a, b):
            assert np.allclose(xa, xb, atol=1e-12)
            assert np.allclose(va, vb, rtol=0, atol=1e-8 * scale)
        spread = np.ptp(np.concatenate([v for _, v in b]))
        assert spread > 1e-3 * scale  # a rough surface: the comparison is not between constants
    comm.barrier()
