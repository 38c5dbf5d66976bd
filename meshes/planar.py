"""Planar Li anode under a conformal coating, 2D or 3D, as a stack of extruded layers.

Layers from the bottom: Li ``anode`` (vertical -anode_thickness..0), ``coating``
(0..t, resolved model only; a stack of resolved layers gives ``coating``, ``coating_1``, ...) and
``electrolyte`` (t..electrolyte_thickness). The
extrusion gives a structured mesh in the vertical direction: a few cells across a
nanometre coating and cells graded from ``interface_mesh_size`` at the plating
surface to ``mesh_size`` far from it, with ``mesh_size`` laterally. Thin or bare
coatings have no coating volume; the Li surface is then ``anode_coating`` (thin) or
``anode_electrolyte`` (bare). The 2D stack always has matching nodes on its two sides (one
structured column); in 3D ``periodic`` makes the base mesh periodic, so the sides match too.
"""

from __future__ import annotations

import numpy as np

from licoat.meshes.common import (GMSH_UNIT, GeometryError, graded_layers, interface_name, layer_name, layer_offsets,
                                  reversed_layers, to_dolfinx, uniform_layers)



def layer_stack(p: dict) -> list[tuple[str, float, float, tuple]]:
    """(name, bottom, thickness, layers) from the bottom, in metres."""
    h = p["mesh_size"]
    h_fine = p.get("interface_mesh_size") or h / 4
    t = p.get("coating_thickness", 0.0) if p.get("coating_model") == "resolved" else 0.0
    L, Ha = p["electrolyte_thickness"], p["anode_thickness"]
    if t >= L:
        raise GeometryError(
            f"coating.thickness = {t:g} m must be smaller than geometry.electrolyte_thickness = {L:g} m"
        )
    stack = [("anode", -Ha, Ha, reversed_layers(graded_layers(Ha, h_fine, h)))]
    n = int(p.get("coating_cells", 2))  # cells across each resolved layer
    bottom = 0.0
    for i, top in enumerate(layer_offsets(p)):
        stack.append((layer_name(i), bottom, top - bottom, ([n], [1.0])))
        bottom = top
    stack.append(("electrolyte", t, L - t, graded_layers(L - t, h_fine, h)))
    return stack


def build(comm, p: dict):
    """Build the planar stack described by the geometry dict ``p`` (SI)."""
    if p.get("defects"):  # pinholes / cracks in the film: fragmented base, refined around each defect
        from licoat.meshes.defects import build_planar

        return build_planar(comm, p)
    dim = p["dim"]
    um = 1.0 / GMSH_UNIT
    W, h = p["width"] * um, p["mesh_size"] * um
    D = p.get("depth", p["width"]) * um
    model = p.get("coating_model", "resolved")
    t_si = p.get("coating_thickness", 0.0)
    coated = t_si > 0
    t = t_si * um
    stack = [(n, b * um, th * um, lay) for n, b, th, lay in layer_stack(p)]
    surface_name = "anode_coating" if coated else "anode_electrolyte"

    def make(gmsh):
        occ = gmsh.model.occ
        z0 = stack[0][1]
        if dim == 2:
            p0, p1 = occ.addPoint(0, z0, 0), occ.addPoint(W, z0, 0)
            base = [(1, occ.addLine(p0, p1))]
            lift = lambda d: (0, d, 0)  # noqa: E731
        else:
            base = [(2, occ.addRectangle(0, 0, z0, W, D))]
            lift = lambda d: (0, 0, d)  # noqa: E731
        vols = {}
        for name, _, thick, (ne, hts) in stack:
            out = occ.extrude(base, *lift(thick), numElements=ne, heights=hts)
            base = [out[0]]
            vols[name] = out[1][1]
        occ.synchronize()
        model_ = gmsh.model
        for name, tag in vols.items():
            model_.addPhysicalGroup(dim, [tag], name=name)

        # geometric tolerance: below the thinnest meshed layer (a thin film has no volume, so its
        # thickness must not shrink the tolerance: a 1e-11 m film once lost every facet group)
        thinnest = min([s_[2] for s_ in stack[1:-1]] or [h])
        eps = 1e-3 * min(thinnest, h)
        vert = dim - 1  # coordinate index of the vertical axis
        top = stack[-1][1] + stack[-1][2]

        def at(level):
            lo = [-eps] * 3
            hi = [W + eps, D + eps if dim == 3 else eps, 0]
            lo[vert], hi[vert] = level - eps, level + eps
            if dim == 2:
                lo[2], hi[2] = -eps, eps
            return [e[1] for e in model_.getEntitiesInBoundingBox(*lo, *hi, dim - 1)]

        def side(axis, value):
            lo, hi = [-eps] * 3, [W + eps, D + eps, top + eps]
            lo[vert], hi[vert] = z0 - eps, top + eps
            if dim == 2:
                lo[2], hi[2] = -eps, eps
            lo[axis], hi[axis] = value - eps, value + eps
            return [e[1] for e in model_.getEntitiesInBoundingBox(*lo, *hi, dim - 1)]

        facets = {"bottom": at(z0), "top": at(top), surface_name: at(0.0)}
        if coated and model == "resolved":  # between consecutive layers of the stack, and on top
            names = [s_[0] for s_ in stack]
            for k in range(1, len(stack) - 1):
                facets[interface_name(names[k], names[k + 1], model)] = at(stack[k + 1][1])
        facets["left"], facets["right"] = side(0, 0.0), side(0, W)
        if dim == 3:
            facets["front"], facets["back"] = side(1, 0.0), side(1, D)
        for name, tags in facets.items():
            model_.addPhysicalGroup(dim - 1, tags, name=name)
        if dim == 3:
            gmsh.option.setNumber("Mesh.MeshSizeMin", h)
            gmsh.option.setNumber("Mesh.MeshSizeMax", h)
            if p.get("periodic"):
                # periodic base rectangle: the extrusion then gives matching nodes on opposite sides
                base_curves = [c for c in at(z0)]
                curves = [e[1] for e in model_.getBoundary([(2, t) for t in base_curves], oriented=False)]
                for axis, length in ((0, W), (1, D)):
                    lo = [c for c in curves if abs(model_.getBoundingBox(1, c)[axis] - 0.0) < eps
                          and abs(model_.getBoundingBox(1, c)[axis + 3] - 0.0) < eps]
                    hi = [c for c in curves if abs(model_.getBoundingBox(1, c)[axis] - length) < eps
                          and abs(model_.getBoundingBox(1, c)[axis + 3] - length) < eps]
                    shift = [0.0, 0.0, 0.0]
                    shift[axis] = length
                    affine = [1, 0, 0, shift[0], 0, 1, 0, shift[1], 0, 0, 1, shift[2], 0, 0, 0, 1]
                    model_.mesh.setPeriodic(1, hi, lo, affine)
        else:
            n = max(1, int(np.ceil(W / h - 1e-9)))
            for c in at(z0):
                model_.mesh.setTransfiniteCurve(c, n + 1)
        model_.mesh.generate(dim)
        return {}

    return to_dolfinx(comm, make, gdim=dim, coating_thickness=t_si if coated else 0.0, coating_model=model)
