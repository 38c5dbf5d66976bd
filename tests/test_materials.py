"""Materials database: every file loads, is cited, converts to SI; reference values."""

import math

import pytest

from licoat.materials import (
    KINDS,
    PROPERTY_UNITS,
    MaterialError,
    format_material,
    format_table,
    list_materials,
    load_file,
    load_material,
)

REQUIRED = [
    "Li", "Cu", "carbon", "polyimide", "Al2O3", "LiF", "ZrO2", "TiO2", "ZnO", "Li3PO4",
    "LixAlyS_1to1", "LixAlyS_1to4", "alucone", "zircone", "polyurea", "LiGL", "LiTEA",
    "LiPON", "LLZO", "LiPF6_EC_EMC", "LiPF6_EC_DEC_DMC", "LiTFSI_DOL_DME",
]
COATING_PROPS = [
    "ionic_conductivity", "electronic_conductivity", "shear_modulus", "poisson_ratio",
    "li_partial_molar_volume", "typical_thickness",
]
ELECTROLYTE_PROPS = [
    "conductivity", "diffusivity", "transference_number", "thermodynamic_factor", "concentration",
]


def test_all_files_load_and_are_cited():
    mats = list_materials()
    assert len(mats) >= len(REQUIRED)
    for m in mats:
        assert m.kind in KINDS
        assert m.description
        for name, p in m.properties.items():
            assert name in PROPERTY_UNITS
            assert p.source.strip(), (m.name, name)
            assert p.si_unit == PROPERTY_UNITS[name]
            v = m.value(name)
            assert math.isfinite(v), (m.name, name)


def test_sorted_by_kind_then_name():
    mats = list_materials()
    keys = [(KINDS.index(m.kind), m.name.lower()) for m in mats]
    assert keys == sorted(keys)


@pytest.mark.parametrize("name", REQUIRED)
def test_required_materials_exist(name):
    m = load_material(name)
    assert m.name == name
    assert load_material(name.upper()).name == name  # case-insensitive
    if m.kind == "coating":
        for p in COATING_PROPS:
            assert m.has(p), (name, p)
    if m.kind == "electrolyte":
        for p in ELECTROLYTE_PROPS:
            assert m.has(p), (name, p)
    if m.kind in ("metal", "host"):
        for p in ("electronic_conductivity", "shear_modulus", "poisson_ratio"):
            assert m.has(p), (name, p)


def test_physical_ranges():
    for m in list_materials():
        nu = m.get("poisson_ratio")
        if nu is not None:
            assert 0.0 < nu < 0.5
        for p in ("shear_modulus", "ionic_conductivity", "electronic_conductivity",
                  "typical_thickness", "conductivity", "diffusivity"):
            if m.has(p):
                assert m.value(p) > 0, (m.name, p)
        t = m.get("transference_number")
        if t is not None:
            assert 0 < t < 1
        if m.kind == "coating" and m.name != "LLZO":
            assert 1e-9 < m.value("typical_thickness") < 1e-6  # ALD/MLD films: nm range


def test_unit_conversion():
    lif = load_material("LiF")
    assert lif.value("ionic_conductivity") == pytest.approx(1e-12, rel=1e-12)  # 1e-14 S/cm
    assert lif.property("ionic_conductivity").unit == "S/cm"
    assert lif.value("typical_thickness") == pytest.approx(8e-9)
    assert lif.value("shear_modulus") == pytest.approx(58e9)
    assert load_material("Cu").value("nucleation_overpotential") == pytest.approx(0.1295)
    assert load_material("TiO2").value("nucleation_overpotential") == pytest.approx(0.0202)
    assert load_material("LiPF6_EC_EMC").value("concentration") == pytest.approx(1000.0)
    assert load_material("Al2O3").value("growth_per_cycle") == pytest.approx(1.3e-10)


def test_lithium():
    li = load_material("Li")
    assert li.value("shear_modulus") == 4.25e9
    assert li.value("poisson_ratio") == 0.42
    assert li.value("molar_volume") == pytest.approx(1.30e-5)
    assert li.value("surface_tension") == pytest.approx(0.556)
    assert li.value("exchange_current_density") == pytest.approx(10.0)
    assert li.value("alpha_a") == li.value("alpha_c") == 0.5
    assert li.value("density") == 534


def test_nyman_fits():
    e = load_material("LiPF6_EC_EMC")
    kappa = e.property("conductivity")
    D = e.property("diffusivity")
    assert kappa.at(1000.0) == pytest.approx(0.9487, abs=1e-3)
    assert D.at(1000.0) == pytest.approx(1.7694e-10, abs=1e-13)
    # default c is the material's own concentration
    assert e.value("conductivity") == pytest.approx(0.9487, abs=1e-3)
    assert e.value("diffusivity", c=500.0) == pytest.approx(
        8.794e-11 * 0.25 - 3.972e-10 * 0.5 + 4.862e-10, rel=1e-12)
    assert e.value("transference_number") == 0.2594
    assert e.value("thermodynamic_factor") == 1.0
    expr, factor = kappa.expression_si()
    assert factor == 1.0 and "c" in expr
    assert kappa.value is None
    with pytest.raises(MaterialError):
        kappa.at()
    assert e.property("transference_number").expression_si() is None


def test_expression_unit_factor(tmp_path):
    (tmp_path / "X.toml").write_text(
        'name = "X"\nkind = "electrolyte"\n'
        '[properties.conductivity]\nexpression = "10*c"\nunit = "mS/cm"\nsource = "test"\n'
    )
    x = load_material("X", directory=tmp_path)
    expr, factor = x.property("conductivity").expression_si()
    assert factor == pytest.approx(0.1)
    assert x.property("conductivity").at(2000.0) == pytest.approx(2.0)  # 20 mS/cm


def test_missing_material_and_property():
    with pytest.raises(MaterialError, match="unknown material 'Unobtainium'.*available:.*LiF"):
        load_material("Unobtainium")
    with pytest.raises(MaterialError, match="'Cu'.*'surface_tension'"):
        load_material("Cu").value("surface_tension")
    assert load_material("Cu").get("surface_tension", 0.5) == 0.5


def _write(tmp_path, body, name="Bad"):
    (tmp_path / f"{name}.toml").write_text(f'name = "{name}"\nkind = "coating"\n' + body)
    return tmp_path


@pytest.mark.parametrize(
    "body, match",
    [
        ('[properties.ionic_conductivity]\nvalue = 1\nunit = "S/cm"\n', "ionic_conductivity.*no source"),
        ('[properties.ionic_conductivity]\nvalue = 1\nunit = "S/cm"\nsource = " "\n', "no source"),
        ('[properties.shear_modulus]\nvalue = 1\nunit = "S/cm"\nsource = "x"\n', "shear_modulus.*does not convert"),
        ('[properties.flux_capacitance]\nvalue = 1\nunit = "F"\nsource = "x"\n', "unknown property 'flux_capacitance'"),
        ('[properties.poisson_ratio]\nvalue = 0.3\nunit = "furlongs"\nsource = "x"\n', "poisson_ratio.*unit"),
        ('[properties.conductivity]\nexpression = "__import__(1)"\nunit = "S/m"\nsource = "x"\n', "conductivity"),
        ('[properties.conductivity]\nvalue = 1\nexpression = "c"\nunit = "S/m"\nsource = "x"\n', "exactly one"),
    ],
)
def test_bad_file_raises_naming_key(tmp_path, body, match):
    d = _write(tmp_path, body)
    with pytest.raises(MaterialError, match=match) as exc:
        load_material("Bad", directory=d)
    assert "Bad.toml" in str(exc.value)


def test_bad_name_and_kind(tmp_path):
    (tmp_path / "A.toml").write_text('name = "B"\nkind = "coating"\n')
    with pytest.raises(MaterialError, match="does not match"):
        load_file(tmp_path / "A.toml")
    (tmp_path / "C.toml").write_text('name = "C"\nkind = "plasma"\n')
    with pytest.raises(MaterialError, match="kind"):
        load_file(tmp_path / "C.toml")


def test_dimensionless_units(tmp_path):
    d = _write(tmp_path, '[properties.poisson_ratio]\nvalue = 0.3\nunit = ""\nsource = "x"\n', "Ok")
    assert load_material("ok", directory=d).value("poisson_ratio") == 0.3


def test_formatting():
    table = format_table(list_materials())
    for name in REQUIRED:
        assert name in table
    text = format_material(load_material("LiF"))
    assert "ionic_conductivity" in text and "1e-14 S/cm" in text and "1e-12" in text
    assert "source:" in text
    text = format_material("LiPF6_EC_EMC")
    assert "0.9487" in text
