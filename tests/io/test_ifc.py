"""IFC reader: the real AC20-FZK-Haus (IFC4, placed by IfcSite reference latitude/longitude) and a small IFC4
file georeferenced with IfcMapConversion (tests/data/georef_ifc4.ifc, millimetres, turned 30°), each checked
against an independent computation with ifcopenshell's own reading of the file, pyproj and plain formulas."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely

from cim.analysis.underground import underground_use
from cim.io import ImportContext, ImportError_, import_files, read
from cim.io.registry import detect
from cim.mesh import building_meshes
from cim.model import Building, City, StructureKind, UndergroundStructure
from cim.store import open_store

from ..conftest import shared_data

ifcopenshell = pytest.importorskip("ifcopenshell")

GEOREF = Path(__file__).parent.parent / "data" / "georef_ifc4.ifc"
SHENYANG = City(name="Shenyang", crs_epsg=4550)
KARLSRUHE = City(name="Karlsruhe", crs_epsg=25832, vertical_datum="EPSG:7837")  # ETRS89 / UTM 32N + DHHN2016


def _counted(f) -> Counter:
    """Elements as IfcOpenShell lists them: every IfcElement but voids and virtual elements, and spaces."""
    elems = [
        e
        for e in f.by_type("IfcElement")
        if not e.is_a("IfcFeatureElementSubtraction") and not e.is_a("IfcVirtualElement")
    ]
    return Counter(e.is_a() for e in elems + list(f.by_type("IfcSpace")))


# -- AC20-FZK-Haus: IfcSite RefLatitude / RefLongitude / RefElevation, TrueNorth ---------------------------------


@pytest.fixture(scope="module")
def fzk():
    path = shared_data("buildings", "AC20-FZK-Haus.ifc")
    return path, read(path, ImportContext(city=KARLSRUHE))


@pytest.mark.shared_data
def test_fzk_haus_storeys_elements_height(fzk):
    import ifcopenshell.geom
    import ifcopenshell.util.placement

    path, result = fzk
    f = ifcopenshell.open(str(path))
    assert result.format == "ifc" and detect(path).name == "ifc"
    [b] = [x for x in result.features if isinstance(x, Building)]
    # storeys: names and elevations (RefElevation + the storey's placement), lowest first
    ref = float(f.by_type("IfcSite")[0].RefElevation)
    want = sorted(
        (ref + float(ifcopenshell.util.placement.get_local_placement(s.ObjectPlacement)[2, 3]), s.Name)
        for s in f.by_type("IfcBuildingStorey")
    )
    assert [(s.elevation, s.name) for s in b.storeys] == [(pytest.approx(z, abs=1e-6), n) for z, n in want]
    assert b.floors_above == 2 and b.floors_below == 0
    # elements, class by class, as ifcopenshell counts them; GlobalIds and property sets kept
    assert Counter(e.ifc_class for e in b.elements) == _counted(f)
    assert {e.global_id for e in b.elements} >= {w.GlobalId for w in f.by_type("IfcWindow")}
    win = next(e for e in b.elements if e.ifc_class == "IfcWindow")
    assert win.psets["Pset_WindowCommon"]["ThermalTransmittance"] == 1.4
    # height: the top of the roof slabs (ifcopenshell's create_shape, element by element) above the ground floor
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    roof_top = max(
        np.asarray(ifcopenshell.geom.create_shape(settings, s).geometry.verts).reshape(-1, 3)[:, 2].max()
        for s in f.by_type("IfcSlab")
        if s.PredefinedType == "ROOF"
    )
    ground_floor = min(s.Elevation for s in f.by_type("IfcBuildingStorey"))
    assert abs(b.height - (roof_top - ground_floor)) < 0.1
    assert b.ground_elevation == pytest.approx(ref)
    assert b.use == "residential" and b.year_built == 2008 and b.cim_level == 6 and b.height_source == "geometry"
    # the base slab lies below ground: an underground part of the building
    [u] = [x for x in result.features if isinstance(x, UndergroundStructure)]
    assert u.kind == StructureKind.basement and u.building_id == b.id
    assert (u.top_elevation, u.bottom_elevation) == (pytest.approx(ref), pytest.approx(ref - 0.2))


@pytest.mark.shared_data
def test_fzk_haus_lands_at_its_site_reference(fzk):
    """The model's origin (the outer corner of wall Wand-Ext-ERDG-1) and the corner 12 m along its x axis,
    computed independently: a geodesic from the reference point (bearing from TrueNorth), then pyproj."""
    from pyproj import Geod, Transformer

    from cim.io.ifc import dms

    path, result = fzk
    f = ifcopenshell.open(str(path))
    site = f.by_type("IfcSite")[0]
    lat, lon = dms(site.RefLatitude), dms(site.RefLongitude)
    tn = next(
        c.TrueNorth.DirectionRatios for c in f.by_type("IfcGeometricRepresentationContext") if c.TrueNorth is not None
    )
    bearing_x = math.degrees(math.atan2(tn[1], tn[0]))  # clockwise from north to the model's x axis
    to_utm = Transformer.from_crs(4326, 25832, always_xy=True)
    lon12, lat12, _ = Geod(ellps="WGS84").fwd(lon, lat, bearing_x, 12.0)
    want = np.array([to_utm.transform(lon, lat), to_utm.transform(lon12, lat12)])
    b = next(x for x in result.features if isinstance(x, Building))
    fp = np.asarray(b.footprint[0])
    for p in want:
        assert np.min(np.linalg.norm(fp - p, axis=1)) < 0.1
    assert shapely.Polygon(fp).area == pytest.approx(120.0, abs=0.5)  # 12 m x 10 m


@pytest.mark.shared_data
def test_fzk_haus_mesh_is_the_ifc_triangles(fzk):
    _, result = fzk
    b = next(x for x in result.features if isinstance(x, Building))
    m = building_meshes([b])
    assert len(m.faces) == len(b.surfaces) == result.info["triangles"] - _space_triangles(result) > 10_000
    assert m.vertices[:, 2].max() == pytest.approx(b.roof_elevation, abs=1e-3)
    assert {s.part for s in b.surfaces} <= {e.global_id for e in b.elements}


def _space_triangles(result) -> int:
    b = next(x for x in result.features if isinstance(x, Building))
    spaces = {e.global_id for e in b.elements if e.ifc_class == "IfcSpace"}
    assert not any(s.part in spaces for s in b.surfaces)  # spaces are volumes, not shown
    return result.info["triangles"] - len(b.surfaces)


# -- the georeferenced IFC4 file: IfcMapConversion ------------------------------------------------------------------


def _map_conversion(xyz_mm: np.ndarray) -> np.ndarray:
    """IfcMapConversion as the IFC4 documentation writes it, with the parameters ifcopenshell reads from the file."""
    f = ifcopenshell.open(str(GEOREF))
    mc = f.by_type("IfcMapConversion")[0]
    theta = math.atan2(mc.XAxisOrdinate, mc.XAxisAbscissa)
    x, y, z = xyz_mm.T
    e = mc.Eastings + mc.Scale * (x * math.cos(theta) - y * math.sin(theta))
    n = mc.Northings + mc.Scale * (x * math.sin(theta) + y * math.cos(theta))
    return np.column_stack([e, n, mc.OrthogonalHeight + mc.Scale * z])


def test_map_conversion_lands_at_the_stated_position():
    result = read(GEOREF, ImportContext(city=SHENYANG))
    assert result.info["placement"] == "IfcMapConversion" and result.source_crs.endswith("4550")
    [b] = [x for x in result.features if isinstance(x, Building)]
    corners = _map_conversion(np.array([[0, 0, 0], [20000, 0, 0], [20000, 12000, 0], [0, 12000, 0]], float))
    fp = np.asarray(b.footprint[0])
    for c in corners:
        assert np.min(np.linalg.norm(fp - c[:2], axis=1)) < 0.1
    assert len(fp) == 4
    top = _map_conversion(np.array([[0, 0, 9200.0]]))[0, 2]  # roof slab 9.0 + 0.2 m
    assert b.roof_elevation == pytest.approx(top, abs=0.01) and b.ground_elevation == pytest.approx(45.0)
    assert b.height == pytest.approx(9.2, abs=0.01)
    assert [(s.name, s.below_ground) for s in b.storeys] == [("B1", True), ("F1", False), ("F2", False), ("F3", False)]
    assert [s.elevation for s in b.storeys] == pytest.approx([41.0, 45.0, 48.0, 51.0])
    assert (b.floors_above, b.floors_below, b.use, b.year_built) == (3, 1, "commercial", 2026)
    f = ifcopenshell.open(str(GEOREF))
    assert Counter(e.ifc_class for e in b.elements) == _counted(f) == Counter(IfcWall=16, IfcSlab=5, IfcSpace=4)
    assert sum(e.below_ground for e in b.elements) == 6  # B1: 4 walls, its floor slab, its space
    wall = next(e for e in b.elements if e.name == "F1-wall-1")
    assert wall.psets["Pset_WallCommon"] == {"IsExternal": True, "LoadBearing": True}
    assert wall.bounds[2] == pytest.approx(45.2) and wall.bounds[5] == pytest.approx(48.0)
    # the basement: an underground structure of the building, 20 m x 12 m from 41 to 45 m
    [u] = [x for x in result.features if isinstance(x, UndergroundStructure)]
    assert (u.kind, u.building_id, u.bottom_elevation, u.top_elevation) == ("basement", b.id, 41.0, 45.0)
    assert shapely.Polygon(u.footprint[0]).area == pytest.approx(240.0, abs=0.01)


def test_ifc_import_into_a_store_counts_the_basement_underground(tmp_path):
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(SHENYANG)
    report = import_files(store, [GEOREF])
    assert report.counts == {"buildings": 1, "underground-structures": 1}
    [b] = list(store.iter_features("buildings"))
    assert len(b.elements) == 25 and len(b.storeys) == 4 and len(b.surfaces) > 200
    corners = _map_conversion(np.array([[0, 0, 0], [20000, 12000, 0]], float))
    region = shapely.box(*(corners[:, :2].min(axis=0) - 50), *(corners[:, :2].max(axis=0) + 50))
    use = underground_use(store, region, z_min=35.0, z_max=46.0)
    assert use.bands[0].by_category == {"basement": pytest.approx(20 * 12 * 4.0, rel=1e-6)}
    # its mesh: the IFC triangles from 41 m (basement floor) to the roof, not a 12-face prism
    m = building_meshes([b])
    assert len(m.faces) == len(b.surfaces) > 12
    assert (m.vertices[:, 2].min(), m.vertices[:, 2].max()) == (pytest.approx(41.0), pytest.approx(54.2))
    store.close()


def test_origin_places_a_file_without_georeference(tmp_path):
    f = ifcopenshell.open(str(GEOREF))
    for e in f.by_type("IfcMapConversion") + f.by_type("IfcProjectedCRS"):
        f.remove(e)
    bare = tmp_path / "bare.ifc"
    f.write(str(bare))
    with pytest.raises(ImportError_) as err:
        read(bare, ImportContext(city=SHENYANG))
    assert "--origin" in str(err.value) and err.value.where["file"] == "bare.ifc"
    with pytest.raises(ImportError_, match="--crs"):
        read(bare, ImportContext(city=SHENYANG, origin="534100,4628300,45,30"))
    with pytest.raises(ImportError_, match="origin"):
        read(bare, ImportContext(city=SHENYANG, crs="EPSG:4550", origin="534100,north"))
    result = read(bare, ImportContext(city=SHENYANG, crs="EPSG:4550", origin="534100,4628300,45,30"))
    b = next(x for x in result.features if isinstance(x, Building))
    want = _map_conversion(np.array([[20000, 12000, 0.0]]))[0]
    assert np.min(np.linalg.norm(np.asarray(b.footprint[0]) - want[:2], axis=1)) < 0.01
    assert result.info["placement"] == "--origin"


def test_non_ifc_step_and_broken_ifc_are_refused(tmp_path):
    step = tmp_path / "part.ifc"
    step.write_text(
        "ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n#1=IFCWALL(;\nENDSEC;\nEND-ISO-10303-21;\n"
    )
    with pytest.raises(ImportError_) as err:
        read(step, ImportContext(city=SHENYANG))
    assert err.value.where["file"] == "part.ifc"


def _ifc2x3(path: Path) -> Path:
    """A small IFC2X3 file (millimetres) placed by IfcSite RefLatitude/RefLongitude/RefElevation only."""
    import ifcopenshell.api
    import ifcopenshell.api.owner.settings as owner

    api = ifcopenshell.api.run
    f = ifcopenshell.file(schema="IFC2X3")
    user = f.createIfcPersonAndOrganization(f.createIfcPerson(FamilyName="test"), f.createIfcOrganization(Name="cim"))
    app = f.createIfcApplication(user.TheOrganization, "1", "cim tests", "cim")
    get_user, get_app = owner.get_user, owner.get_application
    owner.get_user, owner.get_application = (lambda file: user), (lambda file: app)
    try:
        project = api("root.create_entity", f, ifc_class="IfcProject", name="p")
        api("unit.assign_unit", f)  # millimetres
        model = api("context.add_context", f, context_type="Model")
        body = api(
            "context.add_context",
            f,
            context_type="Model",
            context_identifier="Body",
            target_view="MODEL_VIEW",
            parent=model,
        )
        site = api("root.create_entity", f, ifc_class="IfcSite", name="Site")
        site.RefLatitude, site.RefLongitude, site.RefElevation = (41, 47, 30, 0), (123, 25, 0, 0), 45000.0
        bldg = api("root.create_entity", f, ifc_class="IfcBuilding", name="Kindergarten school")
        storey = api("root.create_entity", f, ifc_class="IfcBuildingStorey", name="F1")
        api("aggregate.assign_object", f, relating_object=project, products=[site])
        api("aggregate.assign_object", f, relating_object=site, products=[bldg])
        api("aggregate.assign_object", f, relating_object=bldg, products=[storey])
        for o in (site, bldg, storey):
            api("geometry.edit_object_placement", f, product=o)
        wall = api("root.create_entity", f, ifc_class="IfcWallStandardCase", name="w")
        rep = api("geometry.add_wall_representation", f, context=body, length=10, height=3, thickness=0.3)
        api("geometry.assign_representation", f, product=wall, representation=rep)
        slab = api("root.create_entity", f, ifc_class="IfcSlab", name="s")
        rep = api(
            "geometry.add_slab_representation",
            f,
            context=body,
            depth=0.2,
            polyline=[(0, 0), (10, 0), (10, 8), (0, 8), (0, 0)],
        )
        api("geometry.assign_representation", f, product=slab, representation=rep)
        for e in (wall, slab):
            api("geometry.edit_object_placement", f, product=e)
            api("spatial.assign_container", f, relating_structure=storey, products=[e])
    finally:
        owner.get_user, owner.get_application = get_user, get_app
    f.write(str(path))
    return path


def test_ifc2x3_placed_by_its_site_reference(tmp_path):
    from pyproj import Geod, Transformer

    result = read(_ifc2x3(tmp_path / "k.ifc"), ImportContext(city=SHENYANG))
    assert result.info["schema"] == "IFC2X3"
    [b] = result.features
    lat, lon = 41 + 47 / 60 + 30 / 3600, 123 + 25 / 60
    lon10, lat10, _ = Geod(ellps="WGS84").fwd(lon, lat, 90.0, 10.0)  # model x = east (no TrueNorth)
    to_city = Transformer.from_crs(4326, 4550, always_xy=True)
    fp = np.asarray(b.footprint[0])
    for p in (to_city.transform(lon, lat), to_city.transform(lon10, lat10)):
        assert np.min(np.linalg.norm(fp - np.asarray(p), axis=1)) < 0.02
    assert b.ground_elevation == pytest.approx(45.0) and b.height == pytest.approx(3.0)
    assert b.use == "public" and sorted(e.ifc_class for e in b.elements) == ["IfcSlab", "IfcWallStandardCase"]
