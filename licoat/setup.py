"""Glue from a validated case to what meshes and solver consume (SI numbers and small objects)."""

from __future__ import annotations

from licoat.case import Case
from licoat.materials import load_material
from licoat.solver.properties import Coating, CoatingStack, Electrolyte, Fit, Kinetics, Operation


def _prop(section, material, name, default=None):
    """Case override (already SI) > material database > default."""
    value = getattr(section, name, None) if name in type(section).model_fields else (section.model_extra or {}).get(name)
    if value is not None:
        return value
    return material.get(name, default)


def layer_model(case: Case, layer) -> str:
    """'resolved' | 'thin' for one coating layer. 'auto' is thin when t < 0.1 x the mesh size at the surface."""
    if layer.model != "auto":
        return layer.model
    g = case.geometry
    h_surface = g.interface_mesh_size or g.mesh_size / 4
    return "thin" if layer.thickness < 0.1 * h_surface else "resolved"


def coating_model(case: Case) -> str | None:
    """'resolved', 'thin' or 'mixed' (thin layers under resolved ones) for the coating; None when bare."""
    models = {layer_model(case, layer) for layer in case.coating.layer_sections()}
    if not models:
        return None
    return models.pop() if len(models) == 1 else "mixed"


def geometry_params(case: Case) -> dict:
    """Parameters for meshes.build_mesh: the [geometry] table plus the coating's thickness and model."""
    p = {k: v for k, v in case.geometry.model_dump().items() if v is not None and k not in ("cache", "refine_levels")}
    layers = case.coating.layer_sections()
    models = [layer_model(case, layer) for layer in layers]
    resolved = [layer.thickness for layer, m in zip(layers, models) if m == "resolved"]
    if resolved:  # the mesher sees the resolved layers; thin ones are interface resistances
        p["coating_thickness"], p["coating_model"] = float(sum(resolved)), "resolved"
        if len(resolved) > 1:
            p["coating_stack"] = resolved
    else:
        p["coating_thickness"] = float(sum(layer.thickness for layer in layers))
        p["coating_model"] = "thin" if layers else "resolved"
    p["coating_cells"] = case.coating.layers
    if case.coating.defects is not None:  # pinholes / cracks: meshes/defects.py
        p["defects"] = defect_layout(case)
    p["host_material"] = case.host.material
    if case.geometry.dim == 3 and case.geometry.depth is None:
        p["depth"] = case.geometry.width
    return p


def electrolyte(case: Case) -> Electrolyte:
    e = case.electrolyte
    m = load_material(e.material)

    def fit(name):
        if getattr(e, name) is not None:
            return Fit(constant=getattr(e, name))
        prop = m.property(name)
        expr = prop.expression_si()
        if expr is not None:
            return Fit(expression=expr[0], factor=expr[1])
        return Fit(constant=prop.at())

    c0 = e.concentration if e.concentration is not None else m.value("concentration")
    return Electrolyte(
        name=m.name,
        concentration=c0,
        conductivity=fit("conductivity"),
        diffusivity=fit("diffusivity"),
        transference_number=e.transference_number if e.transference_number is not None else m.value("transference_number", c0),
        thermodynamic_factor=e.thermodynamic_factor if e.thermodynamic_factor is not None else m.get("thermodynamic_factor", 1.0, c=c0),
    )


def coating(case: Case) -> CoatingStack | None:
    """The coating as a stack of layers from the metal outwards (a single [coating] is a one-layer stack)."""
    layers = []
    for sec in case.coating.layer_sections():
        m = load_material(sec.material)
        layers.append(Coating(
            name=m.name,
            thickness=sec.thickness,
            ionic_conductivity=_prop(sec, m, "ionic_conductivity"),
            model=layer_model(case, sec),
            electronic_conductivity=_prop(sec, m, "electronic_conductivity", 0.0) or 0.0,
        ))
    het = case.coating.heterogeneity
    if layers and (case.coating.defects is not None or het is not None) and layers[0].model == "thin":
        # thin film with defects: ASR t/kappa_c over the film, f t/kappa_e + (1 - f) t/kappa_c over the defects;
        # heterogeneous: t/(kappa_c k(x)) with a log-normal random factor k (meshes.defects.lognormal_factor)
        from dataclasses import replace

        from licoat.meshes.defects import asr_field, defect_asr, lognormal_factor

        film, lay, hole = layers[0], None, None
        if case.coating.defects is not None:
            lay = defect_layout(case)
            el = electrolyte(case)
            hole = defect_asr(lay, film.thickness, film.ionic_conductivity, el.conductivity.at(el.concentration))
        factor = lognormal_factor(het.model_dump(), case.geometry.dim) if het is not None else None
        layers[0] = replace(film, asr_field=asr_field(lay, film.area_specific_resistance, hole, film_factor=factor))
    return CoatingStack(tuple(layers)) if layers else None


def defect_layout(case: Case) -> dict:
    """The ``[coating.defects]`` layout over the cell (meshes.defects.layout), from the case numbers only
    (the same on every rank for a seed)."""
    from licoat.meshes.defects import layout

    d = case.coating.defects
    g = case.geometry
    if g.kind not in ("planar", "sinusoid"):
        raise ValueError(f"coating.defects: available for geometry.kind = 'planar' or 'sinusoid' (got '{g.kind}'); "
                         "the other geometries have no defect generator yet")
    lay = layout(d.model_dump(), g.width, g.depth or g.width, g.dim)
    lay["cells"] = d.cells
    return lay


def kinetics(case: Case, bare: bool) -> Kinetics:
    """Li plating kinetics: i0 (c/c0)^alpha_a at Li|liquid, no concentration factor at Li|coating."""
    a = case.anode
    m = load_material(a.material)
    li = load_material("Li")  # a Cu foil working electrode plates Li with Li's kinetics once nucleated
    alpha_a = _prop(a, m, "alpha_a", li.get("alpha_a", 0.5))
    return Kinetics(
        exchange_current_density=_prop(a, m, "exchange_current_density", li.value("exchange_current_density")),
        alpha_a=alpha_a,
        alpha_c=_prop(a, m, "alpha_c", li.get("alpha_c", 0.5)),
        concentration_exponent=alpha_a if bare else 0.0,
    )


def operation(case: Case) -> Operation:
    o = case.operation
    from licoat.protocol import holds_voltage

    return Operation(o.mode, o.current_density, o.voltage, o.temperature, o.counter,
                     voltage_holds=holds_voltage(case))


def surface_kinetics(case: Case, tm) -> dict:
    """Kinetics per plating surface: Li (anode) surfaces use the anode's; host and collector
    surfaces use their material's nucleation overpotential (lithiophilicity) — lowered by a
    lithiophilic coating whose material gives its own nucleation_overpotential."""
    from licoat.solver.electrochemistry import plating_surfaces

    out = {}
    host = load_material(case.host.material)
    sections = case.coating.layer_sections()
    coat = load_material(sections[0].material) if sections else None  # the layer on the metal
    for name in plating_surfaces(tm):
        metal = tm.sides(name)[0]
        contact = "coating" if tm.coated(name) else "electrolyte"
        bare = contact == "electrolyte"
        base = kinetics(case, bare=bare)
        if metal == "anode" and not anode_is_foil(case):
            out[name] = base
            continue
        # host / collector / a foil (e.g. Cu) in place of the Li anode: Li must nucleate first
        m = host if metal == "host" else load_material(case.anode.material if metal == "anode" else "Cu")
        if metal == "host" and (host.get("electronic_conductivity", 0.0) or 0.0) < 1.0 and contact == "electrolyte":
            from dataclasses import replace

            out[name] = replace(base, active=False)  # insulating host without a lithiophilic coating
            continue
        eta_nuc = m.get("nucleation_overpotential", 0.0) or 0.0
        if contact == "coating" and coat is not None and coat.has("nucleation_overpotential"):
            eta_nuc = coat.value("nucleation_overpotential")
        from dataclasses import replace

        # nanofibres on the struts: the reaction runs on f times the smooth area (kinetics-dominated at
        # that scale, tests/test_surface_area_factor.py), so the current per smooth area is f i_n
        f = case.host.surface_area_factor if metal == "host" else 1.0
        out[name] = replace(base, nucleation_overpotential=eta_nuc, exchange_current_density=f * base.exchange_current_density)
    return out


def anode_is_foil(case: Case) -> bool:
    """True when ``[anode] material`` is a metal other than Li (a Cu foil working electrode: no Li at first)."""
    return load_material(case.anode.material).name != "Li"


def surface_models(case: Case, tm) -> dict:
    """Plating-history parameters per plating surface (solver/surface_state.SurfaceModel): a Li surface is
    covered; a host, collector or foil surface starts bare with its nucleation overpotential (as in
    :func:`surface_kinetics`) and its material's nucleation rate; the coating layer on the metal, when its
    material has a ``conversion_capacity`` [C/m^3], gives the surface capacity × thickness [C/m^2]."""
    from licoat.solver.surface_state import SurfaceModel

    kin = surface_kinetics(case, tm)
    li = load_material("Li")
    delta_c = _prop(case.anode, li, "coalescence_thickness", li.value("coalescence_thickness"))
    sections = case.coating.layer_sections()
    first = sections[0] if sections else None
    coat = load_material(first.material) if first is not None else None
    out = {}
    for name, k in kin.items():
        if not k.active:
            continue
        metal = tm.sides(name)[0]
        if metal == "anode" and not anode_is_foil(case):
            out[name] = SurfaceModel(lithium_present=True)
            continue
        m = load_material(case.host.material) if metal == "host" else \
            load_material(case.anode.material if metal == "anode" else "Cu")
        same_metal = metal == "collector" and m.name == load_material(case.host.material).name  # Cu on Cu
        section = case.host if metal == "host" or same_metal else (case.anode if metal == "anode" else None)
        nu0 = _prop(section, m, "nucleation_rate", 1.0) if section is not None else m.get("nucleation_rate", 1.0)
        conv = {}
        if tm.coated(name) and coat is not None and coat.has("conversion_capacity"):
            g = lambda key: _prop(first, coat, key)  # noqa: E731
            conv = dict(conversion_capacity=g("conversion_capacity") * first.thickness,
                        conversion_potential_high=g("conversion_potential_high"),
                        conversion_potential_low=g("conversion_potential_low"),
                        conversion_exchange_current_density=g("conversion_exchange_current_density"))
        # the classical barrier at the onset (Λ = ΔG*(η_nuc)/kT) of the surface Li meets: the film's, else the metal's
        src = coat if tm.coated(name) and coat is not None and coat.has("nucleation_barrier") else m
        barrier = _prop(section, src, "nucleation_barrier", SurfaceModel.nucleation_barrier) if section is not None \
            else src.get("nucleation_barrier", SurfaceModel.nucleation_barrier)
        out[name] = SurfaceModel(nucleation_overpotential=k.nucleation_overpotential, nucleation_width=k.nucleation_width,
                                 nucleation_barrier=barrier, nucleation_rate=nu0, coalescence_thickness=delta_c, **conv)
    return out


def metal_conductivity(case: Case, tm) -> dict | None:
    """Electronic conductivities of host and collector when they are not equipotential."""
    if case.host.equipotential:
        return None
    out = {}
    if "host" in tm.groups:
        out["host"] = _prop(case.host, load_material(case.host.material), "electronic_conductivity")
    if "collector" in tm.groups:
        out["collector"] = load_material("Cu").value("electronic_conductivity")
    insulating = [k for k, v in out.items() if not v or v < 1e-3]
    if insulating:
        raise ValueError(f"host.equipotential = false needs electronically conducting {', '.join(insulating)} "
                         f"(host.material = '{case.host.material}' has no usable electronic_conductivity)")
    return out or None


def solids(case: Case, tm) -> dict:
    """Elastic solids present in the mesh: Li, a resolved coating, host and collector (materials + overrides)."""
    from licoat.solver.mechanics import Solid

    def solid(section, material_name, default_section=None):
        m = load_material(material_name)
        extra = (section.model_extra or {}) if section is not None else {}
        get = lambda k, default=None: extra[k] if k in extra else m.get(k, default)  # noqa: E731
        return Solid(get("shear_modulus"), get("poisson_ratio"), get("li_partial_molar_volume", 0.0) or 0.0)

    out = {}
    if tm.has("anode"):
        out["anode"] = solid(case.anode, case.anode.material)
    # resolved coating layers in the mesh, from the metal outwards, with their stack sections
    resolved = [sec for sec in case.coating.layer_sections() if layer_model(case, sec) == "resolved"]
    for volume, sec in zip(tm.coating_layers(), resolved):
        if tm.has(volume):
            out[volume] = solid(sec, sec.material)
    if tm.has("host"):
        out["host"] = solid(case.host, case.host.material)
    if tm.has("collector"):
        out["collector"] = solid(None, "Cu")
    return out


def interface_curvature(case: Case):
    """Analytic curvature of the Li surface (positive at a peak), where the geometry has one:
    sinusoid h = A cos kx: kappa = A k^2 cos kx; bump (sphere/disc of radius R centred on the base
    plane at the cell corner): kappa = (dim - 1)/R on the cap (sum of principal curvatures), 0 on
    the flat part. None (zero curvature) for the other kinds."""
    import numpy as np

    g = case.geometry
    if g.kind == "sinusoid" and g.amplitude and g.wavelength:
        k = 2 * np.pi / g.wavelength
        return lambda x: g.amplitude * k**2 * np.cos(k * x[0])
    if g.kind == "bump" and g.bump_radius:
        R, vert = g.bump_radius, g.dim - 1
        return lambda x: np.where(x[vert] > 1e-3 * R, (g.dim - 1) / R, 0.0)
    return None


def mesh(comm, case: Case, timing: dict | None = None):
    """Build (or reuse from the on-disk cache) the case's mesh. Returns (TaggedMesh, cache hit);
    ``timing["mesh_io_s"]`` receives the cache read/write time (0 without the cache)."""
    from licoat.meshes import build_mesh
    from licoat.meshes.cache import build_mesh_cached

    p = geometry_params(case)
    levels = case.geometry.refine_levels
    if levels:  # Gmsh at 2^levels x the sizes, then refined in parallel (and snapped) to the case's sizes
        from licoat.meshes.refine import refine_snapped

        p = dict(p, **{k: p[k] * 2**levels for k in ("mesh_size", "interface_mesh_size") if k in p})
    if timing is not None:
        timing["mesh_io_s"] = 0.0
    if case.geometry.cache:
        tm, hit = build_mesh_cached(comm, p, timing=timing)
    else:
        tm, hit = build_mesh(comm, p), False
    return (refine_snapped(tm, p, levels) if levels else tm), hit
