"""Small builders shared by tests: constant-property electrolyte and a planar stack."""

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
