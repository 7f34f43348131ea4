"""CityGML reader: the real files of ../shared/data/buildings (PLATEAU Yokosuka, CityGML 2.0 in latitude-first
EPSG:6697 with building parts; the Berlin building as CityGML 2.0 and 3.0 with a compound URN srsName), the
srsName forms, and broken files derived from the real ones (each refused naming the file and the building or
line, leaving the store untouched)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from cim.io import ImportContext, ImportError_, import_files, read
from cim.io.registry import detect
from cim.model import City, SurfaceType
from cim.store import open_store

from ..conftest import shared_data

JAPAN = City(name="Yokosuka", crs_epsg=6677, vertical_datum="EPSG:6695")  # JGD2011 / CS IX + JGD2011 height
BERLIN = City(name="Berlin", crs_epsg=25833, vertical_datum="EPSG:5783")  # ETRS89 / UTM 33N + DHHN92
YOKOSUKA = "52397519_bldg_6697_op.gml"
V2, V3 = "Berlin_Moabit_1Bldg_v2.gml", "Berlin_Moabit_1Bldg_v3.gml"
BLDG2 = "{http://www.opengis.net/citygml/building/2.0}"
GML = "{http://www.opengis.net/gml}"
MUSEUM = "bldg_16418b2d-dc75-4731-ae04-90bbef1d66fe"  # the building whose two BuildingParts carry everything


def data(name: str) -> Path:
    return shared_data("buildings", name)


def load(path: Path, city: City, crs: str | None = None):
    return read(path, ImportContext(city=city, crs=crs))


def shape(b) -> shapely.Polygon:
    return shapely.Polygon(b.footprint[0], b.footprint[1:])


def same_shape(a: shapely.Geometry, b: shapely.Geometry, tol: float = 0.01) -> bool:
    return shapely.hausdorff_distance(a, b) < tol and a.symmetric_difference(b).area < tol * a.length


def new_store(tmp_path: Path, city: City):
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(city)
    return store


# -- Yokosuka (PLATEAU): latitude-first EPSG:6697, LOD0 footprints, LOD1 solids, LOD2 on three objects -------


def raw_yokosuka() -> list[tuple[ET.Element, list[ET.Element]]]:
    """(building, [itself or its parts that carry geometry]) for each top-level building of the raw file."""
    root = ET.parse(data(YOKOSUKA)).getroot()
    out = []
    for b in root.iter(BLDG2 + "Building"):
        parts = list(b.iter(BLDG2 + "BuildingPart"))
        out.append((b, parts or [b]))
    return out


def lod0_polygon_in_city(el: ET.Element) -> shapely.Polygon:
    """The object's lod0FootPrint, moved to the city CRS by pyproj directly (lat, lon swapped by hand)."""
    pos = np.array(el.find(f"{BLDG2}lod0FootPrint//{GML}posList").text.split(), float).reshape(-1, 3)
    x, y = Transformer.from_crs(6668, 6677, always_xy=True).transform(pos[:, 1], pos[:, 0])
    return shapely.Polygon(np.column_stack([x, y]))


@pytest.mark.shared_data
def test_yokosuka_buildings_and_parts():
    result = load(data(YOKOSUKA), JAPAN)
    assert result.format == "citygml" and result.source_crs == "http://www.opengis.net/def/crs/EPSG/0/6697"
    assert result.warnings == []  # JGD2011 height is the city's datum
    # 13 bldg:Building; the 2 BuildingParts are merged into their parent (which has no geometry of its own)
    feats = {b.id: b for b in result.features}
    raw = raw_yokosuka()
    assert len(feats) == 13 == len(raw)
    assert feats[MUSEUM].parts == [
        "bldg_0e947699-9ee6-412f-98d2-6dafb177a681",
        "bldg_a9dcefad-63a0-4fa0-b666-84125640e7a4",
    ]
    assert sum(1 for b in feats.values() if b.parts) == 1
    # the 14 measured heights (12 buildings and 2 parts) are kept: 3.2 to 13.9 m
    measured = [b.attributes["measuredHeight"] for b in feats.values() if "measuredHeight" in b.attributes]
    measured += [a["measuredHeight"] for b in feats.values() for a in b.attributes.get("part_attributes", {}).values()]
    raw_measured = [float(e.text) for e in ET.parse(data(YOKOSUKA)).getroot().iter(BLDG2 + "measuredHeight")]
    assert sorted(measured) == sorted(raw_measured) and len(measured) == 14
    assert min(measured) == 3.2 and max(measured) == 13.9
    for b, objs in raw:
        f = feats[b.get(GML + "id")]
        assert f.height_source == "attribute"
        grounds = [float(o.find(f"{BLDG2}lod0FootPrint//{GML}posList").text.split()[2]) for o in objs]
        heights = [float(o.find(BLDG2 + "measuredHeight").text) for o in objs]
        # ground: the lowest vertex (the LOD0 footprint's height); top: the highest part's ground + height
        assert f.ground_elevation == pytest.approx(min(grounds), abs=1e-4)
        assert f.roof_elevation == pytest.approx(max(g + h for g, h in zip(grounds, heights, strict=True)), abs=1e-4)
        if len(objs) == 1:
            assert f.height == heights[0]
        storeys = [
            int(o.find(BLDG2 + "storeysAboveGround").text)
            for o in objs
            if o.find(BLDG2 + "storeysAboveGround") is not None
        ]
        assert f.floors_above == (max(storeys) if storeys else None)
        # footprint: the LOD0 footprints, moved by pyproj independently of the reader
        ref = shapely.union_all([lod0_polygon_in_city(o) for o in objs])
        assert same_shape(ref, shape(f))
        lods = sorted({g.lod for g in f.lods})
        assert lods in (["0", "1"], ["0", "1", "2"])
        assert f.cim_level == (4 if "2" in lods else 3)
    assert sum(b.cim_level == 4 for b in feats.values()) == 2
    museum = feats[MUSEUM]
    assert museum.name == "横須賀美術館" and {s.part for s in museum.surfaces} == set(museum.parts)
    lod2 = Counter(s.type for b in feats.values() for g in b.lods if g.lod == "2" for s in g.surfaces)
    assert set(lod2) == {SurfaceType.roof, SurfaceType.wall, SurfaceType.ground}


@pytest.mark.shared_data
def test_yokosuka_placed_despite_latitude_first_axes():
    """Footprint centroids taken back to JGD2011 latitude / longitude fall inside the file's own envelope."""
    result = load(data(YOKOSUKA), JAPAN)
    c = np.array([shape(b).centroid.coords[0] for b in result.features])
    lon, lat = Transformer.from_crs(6677, 6668, always_xy=True).transform(c[:, 0], c[:, 1])
    assert ((35.258 < lat) & (lat < 35.2616)).all() and ((139.737 < lon) & (lon < 139.7406)).all()
    lon, lat = Transformer.from_crs(6677, 4326, always_xy=True).transform(c[:, 0], c[:, 1])
    assert ((35.258 < lat) & (lat < 35.2616)).all() and ((139.737 < lon) & (lon < 139.7406)).all()


@pytest.mark.shared_data
def test_yokosuka_into_a_store(tmp_path):
    store = new_store(tmp_path, JAPAN)
    report = import_files(store, [data(YOKOSUKA)])
    assert report.counts == {"buildings": 13} and report.files[0]["format"] == "citygml"
    back = store.get("buildings", MUSEUM)
    assert back.parts and back.height_source == "attribute" and back.cim_level == 4
    store.close()


# -- Berlin: the same building in CityGML 2.0 and 3.0 ----------------------------------------------------


def raw_berlin_polygons(name: str) -> dict[str, list[np.ndarray]]:
    """Surface type -> its rings (n, 3), read with a regular expression, independently of the reader."""
    text = data(name).read_text()
    out: dict[str, list[np.ndarray]] = {}
    for m in re.finditer(r"<(?:bldg|con):(Ground|Wall|Roof)Surface[ >].*?</(?:bldg|con):\1Surface>", text, re.S):
        rings = [
            np.array(p.split(), float).reshape(-1, 3) for p in re.findall(r"<gml:posList[^>]*>([^<]*)<", m.group(0))
        ]
        out.setdefault(m.group(1), []).extend(rings)
    return out


@pytest.mark.shared_data
def test_berlin_citygml_2_and_3_agree():
    b2 = load(data(V2), BERLIN)
    b3 = load(data(V3), BERLIN)
    assert b2.warnings == [] and b3.warnings == []
    (f2,), (f3,) = b2.features, b3.features
    assert f2.id == f3.id == "BLDG_0003000b001e15b2"
    assert f2.height == f3.height == 4.08551 and f2.height_source == f3.height_source == "attribute"
    assert f2.attributes["measuredHeight"] == f3.attributes["measuredHeight"] == 4.08551
    assert f2.attributes["function"] == f3.attributes["function"] == 1179
    assert f2.ground_elevation == f3.ground_elevation == pytest.approx(33.05, abs=1e-4)
    assert shapely.hausdorff_distance(shape(f2), shape(f3)) < 0.01
    assert shape(f2).symmetric_difference(shape(f3)).area < 1e-4
    assert f2.cim_level == f3.cim_level == 4 and [g.lod for g in f2.lods] == [g.lod for g in f3.lods] == ["2"]
    # the 18 generic attributes, typed as declared
    gen = {"EIG_KL_ST": 1, "FOLIE": "011", "H_First_Min": 37.13551, "Kachel": "2100021000", "ANZ_LOC": 1}
    for a in (f2.attributes, f3.attributes):
        assert {k: a[k] for k in gen} == gen
    names = re.findall(r'<gen:\w+Attribute name="([^"]+)"', data(V2).read_text())
    assert len(names) == 18 and set(names) <= set(f2.attributes) and set(names) <= set(f3.attributes)
    for f, name in ((f2, V2), (f3, V3)):
        raw = raw_berlin_polygons(name)
        types = Counter(s.type.value for s in f.surfaces)
        assert types == {k.lower(): len(v) for k, v in raw.items()}
        ground = shapely.Polygon(raw["Ground"][0][:, :2])  # the city CRS is the file's: no transformation
        assert same_shape(ground, shape(f)) and abs(ground.area - shape(f).area) < 0.01  # coordinates to 0.1 mm
        top = max(r[:, 2].max() for rings in raw.values() for r in rings)
        assert f.roof_elevation == pytest.approx(top, abs=1e-3)


@pytest.mark.shared_data
def test_berlin_reprojected_and_datum_reported():
    utm32 = City(crs_epsg=25832, vertical_datum="EPSG:5783")
    (f,) = load(data(V2), utm32).features
    ground = raw_berlin_polygons(V2)["Ground"][0]
    x, y = Transformer.from_crs(25833, 25832, always_xy=True).transform(ground[:, 0], ground[:, 1])
    assert same_shape(shapely.Polygon(np.column_stack([x, y])), shape(f), 0.005)
    other = load(data(V3), City(crs_epsg=25833, vertical_datum="EPSG:7837"))
    assert any("DHHN92 height" in w and "EPSG:7837" in w for w in other.warnings)


SRS_FORMS = [
    "EPSG:25833",
    "urn:ogc:def:crs:EPSG::25833",
    "http://www.opengis.net/def/crs/EPSG/0/25833",
    "urn:ogc:def:crs,crs:EPSG::25833,crs:EPSG::5783",
    "urn:adv:crs:ETRS89_UTM33*DE_DHHN92_NH",
]


@pytest.mark.shared_data
@pytest.mark.parametrize("srs", SRS_FORMS)
def test_srs_name_forms(srs, tmp_path):
    text = data(V2).read_text().replace("urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783", srs)
    path = tmp_path / "berlin.gml"
    path.write_text(text)
    (f,) = load(path, BERLIN).features
    (ref,) = load(data(V2), BERLIN).features
    assert f.footprint == ref.footprint and f.height == ref.height and f.ground_elevation == ref.ground_elevation


@pytest.mark.shared_data
@pytest.mark.parametrize("srs", ["EPSG:6697", "urn:ogc:def:crs:EPSG::6697"])
def test_latitude_first_in_every_form(srs, tmp_path):
    path = tmp_path / "y.gml"
    path.write_text(
        data(YOKOSUKA).read_text(encoding="utf-8-sig").replace("http://www.opengis.net/def/crs/EPSG/0/6697", srs)
    )
    got = load(path, JAPAN).features
    ref = load(data(YOKOSUKA), JAPAN).features
    assert [b.footprint for b in got] == [b.footprint for b in ref]


@pytest.mark.shared_data
def test_no_srs_name_needs_crs(tmp_path):
    path = tmp_path / "nosrs.gml"
    path.write_text(re.sub(r' srsName="[^"]*"', "", data(V2).read_text()))
    with pytest.raises(ImportError_) as exc:
        load(path, BERLIN)
    assert "--crs" in exc.value.message and exc.value.where["file"] == "nosrs.gml"
    (f,) = load(path, BERLIN, crs="EPSG:25833").features
    assert f.footprint == load(data(V2), BERLIN).features[0].footprint


# -- broken files derived from the real ones --------------------------------------------------------------


def _truncated(tmp_path):
    text = data(YOKOSUKA).read_bytes()
    (tmp_path / "bad.gml").write_bytes(text[: len(text) // 2])
    return {"line": None}


def _unknown_srs(tmp_path):
    (tmp_path / "bad.gml").write_text(
        data(V2).read_text().replace("urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783", "EPSG:999999")
    )
    return {}


def _odd_poslist(tmp_path):
    text = data(V2).read_text()
    m = re.search(r"(<gml:posList[^>]*>)([^<]*)(<)", text)
    coords = m.group(2).split()[:-1]  # one number short: 14 for a ring of 5 points
    (tmp_path / "bad.gml").write_text(text[: m.start(2)] + " ".join(coords) + text[m.end(2) :])
    return {"feature": "BLDG_0003000b001e15b2"}


def _not_a_number(tmp_path):
    text = data(V3).read_text()
    m = re.search(r"(<gml:posList[^>]*>)(\S+)", text)
    (tmp_path / "bad.gml").write_text(text[: m.start(2)] + "x12" + text[m.end(2) :])
    return {"feature": "BLDG_0003000b001e15b2"}


def _empty(tmp_path):
    (tmp_path / "bad.gml").write_bytes(b"  \n")
    return {}


BROKEN = [_truncated, _unknown_srs, _odd_poslist, _not_a_number, _empty]


@pytest.mark.shared_data
@pytest.mark.parametrize("make", BROKEN, ids=lambda f: f.__name__.strip("_"))
def test_broken_files_are_refused_and_leave_the_store_unchanged(make, tmp_path):
    expect = make(tmp_path)
    path = tmp_path / "bad.gml"
    with pytest.raises(ImportError_) as exc:
        read(path, ImportContext(city=BERLIN), fmt="citygml")
    where = exc.value.where
    assert where["file"] == "bad.gml"
    for key, value in expect.items():
        assert key in where and (value is None or where[key] == value), (where, exc.value.message)
    store = new_store(tmp_path, BERLIN)
    import_files(store, [data(V2)])
    before = (store.counts(), store.version())
    with pytest.raises(ImportError_) as exc2:
        import_files(store, [data(V3), path], fmt="citygml", replace=True)
    assert exc2.value.where["file"] == "bad.gml"
    assert (store.counts(), store.version()) == before
    store.close()


@pytest.mark.shared_data
def test_sniffing():
    for name in (YOKOSUKA, V2, V3):
        assert detect(data(name)).name == "citygml"
