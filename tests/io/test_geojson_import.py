"""GeoJSON reader: the Bellinge drainage network (../shared/data/pipes, legacy crs EPSG:32632, 2-D edges whose
elevations come from the manholes), and synthetic files for every rule of the profile and every refusal."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pyproj import Transformer

from cim.collections import MODEL_COLLECTION
from cim.io import ImportContext, ImportError_, import_files, read
from cim.io.registry import detect
from cim.model import Building, City, NodeKind, PipeNode, PipeSegment, Utility
from cim.store import open_store
from cim.terrain import Terrain

from ..conftest import shared_data

CITY = City(name="Odense", crs_epsg=32632, vertical_datum="EPSG:5799")
X0, Y0 = 583_000.0, 6_132_800.0
LEGACY_CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32632"}}


def bellinge(which: str):
    return shared_data("pipes", f"bellinge_small_{which}.geojson")


def new_store(tmp_path, name: str = "city.sqlite"):
    store = open_store(tmp_path / name, create=True)
    store.init(CITY)
    return store


def plane() -> Terrain:
    """z = 20 + 0.01 (x - X0) on 5 m cells over 1 km x 1 km from (X0, Y0)."""
    xs = X0 + 5 * np.arange(201)
    return Terrain(X0, Y0, 5.0, np.tile(20 + 0.01 * (xs - X0), (201, 1)).astype(np.float32))


def ctx(**kw) -> ImportContext:
    return ImportContext(city=CITY, **kw)


# -- Bellinge --------------------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_bellinge_nodes_and_edges(tmp_path):
    raw_nodes = json.loads(bellinge("nodes").read_text())["features"]
    raw_edges = json.loads(bellinge("edges").read_text())["features"]
    invert = {f["properties"]["id"]: f["properties"]["chamber_floor_elevation"] for f in raw_nodes}
    depth = {
        f["properties"]["id"]: f["properties"]["surface_elevation"] - f["properties"]["chamber_floor_elevation"]
        for f in raw_nodes
    }
    assert min(depth.values()) == pytest.approx(1.27) and max(depth.values()) == pytest.approx(3.15)

    store = new_store(tmp_path)
    report = import_files(store, [bellinge("nodes"), bellinge("edges")], utility="sewer")
    assert [f["format"] for f in report.files] == ["geojson", "geojson"]
    assert [f["source_crs"] for f in report.files] == ["EPSG:32632", "EPSG:32632"]
    nodes = {f.id: f for f in store.iter_features(MODEL_COLLECTION[PipeNode])}
    pipes = {f.id: f for f in store.iter_features(MODEL_COLLECTION[PipeSegment])}
    assert len(nodes) == 15 and len(pipes) == 14
    for fid, n in nodes.items():
        assert n.kind is NodeKind.manhole and n.utility is Utility.sewer
        assert n.depth == pytest.approx(depth[fid], abs=1e-9)
        assert 1.27 - 1e-9 <= n.depth <= 3.15 + 1e-9
    for e in raw_edges:
        p = pipes[e["properties"]["id"]]
        d = e["properties"]["diameter"]
        assert p.diameter == d and 0.2 <= d <= 0.35
        assert (p.from_node, p.to_node) == (e["properties"]["u"], e["properties"]["v"])
        c = p.coords()
        np.testing.assert_allclose(c[:, :2], np.asarray(e["geometry"]["coordinates"]))
        assert c[0, 2] == pytest.approx(invert[p.from_node] + d / 2)
        assert c[-1, 2] == pytest.approx(invert[p.to_node] + d / 2)
        assert np.all(np.diff(c[:, 2]) <= 1e-12) or np.all(np.diff(c[:, 2]) >= -1e-12)  # linear: monotone
    store.close()


@pytest.mark.shared_data
def test_bellinge_read_with_shared_nodes():
    c = ctx(default_utility="storm")
    nodes = read(bellinge("nodes"), c)
    assert len(c.nodes) == 15 and nodes.info["nodes"] == 15
    c2 = ctx(default_utility="storm", nodes=c.nodes)
    edges = read(bellinge("edges"), c2)
    assert edges.info["pipes"] == 14 and edges.warnings == []


@pytest.mark.shared_data
def test_bellinge_edges_alone_need_their_manholes(tmp_path):
    with pytest.raises(ImportError_, match="import their file before this one") as err:
        read(bellinge("edges"), ctx(default_utility="storm"))
    assert err.value.where["file"] == "bellinge_small_edges.geojson" and err.value.where["feature"]
    # nodes listed after the edges: the same refusal, and nothing lands
    store = new_store(tmp_path)
    before = (store.counts(), store.version())
    with pytest.raises(ImportError_, match="no elevation"):
        import_files(store, [bellinge("edges"), bellinge("nodes")], utility="storm")
    assert (store.counts(), store.version()) == before


@pytest.mark.shared_data
def test_bellinge_without_utility():
    with pytest.raises(ImportError_, match="no utility") as err:
        read(bellinge("nodes"), ctx())
    msg = err.value.message
    assert all(u.value in msg for u in Utility) and err.value.where["feature"] == "G72F820"


# -- synthetic files -------------------------------------------------------------------------------------------


def square(x: float, y: float, s: float) -> list[list[list[float]]]:
    return [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]]


def feature(geom_type: str, coords, fid=None, **props) -> dict:
    f = {"type": "Feature", "geometry": {"type": geom_type, "coordinates": coords}, "properties": props}
    if fid is not None:
        f["id"] = fid
    return f


def write(tmp_path, feats, name: str = "city.geojson", crs=LEGACY_CRS, raw: str | None = None):
    doc = {"type": "FeatureCollection", "features": feats}
    if crs is not None:
        doc["crs"] = crs
    path = tmp_path / name
    path.write_text(raw if raw is not None else json.dumps(doc))
    return path


def by_id(result) -> dict:
    return {f.id: f for f in result.features}


def test_buildings(tmp_path):
    feats = [
        feature(
            "Polygon",
            square(X0 + 100, Y0 + 100, 20),
            "h",
            height=12.5,
            use="Commercial",
            year_built=1990,
            ground_z=21.0,
            owner="city",
        ),
        feature("Polygon", square(X0 + 200, Y0 + 100, 20), "f", floors=4),
        feature("Polygon", square(X0 + 300, Y0 + 100, 20), None, id="alias", HEIGHT=9, **{"building:levels": 3}),
        feature("MultiPolygon", [square(X0 + 400, Y0 + 100, 5), square(X0 + 420, Y0 + 100, 30)], "multi", height=6),
    ]
    result = read(write(tmp_path, feats), ctx(terrain=plane()))
    b = by_id(result)
    assert all(isinstance(f, Building) for f in b.values()) and len(b) == 4
    assert b["h"].height == 12.5 and b["h"].height_source == "attribute" and b["h"].ground_elevation == 21.0
    assert b["h"].use.value == "commercial" and b["h"].year_built == 1990 and b["h"].attributes == {"owner": "city"}
    assert b["f"].height == 12.0 and b["f"].height_source == "floors" and b["f"].floors_above == 4
    assert b["f"].ground_elevation == pytest.approx(20 + 0.01 * 210)  # terrain at the centroid
    assert b["alias"].height == 9 and b["alias"].floors_above == 3 and b["alias"].height_source == "attribute"
    fp = np.asarray(b["multi"].footprint[0])
    assert fp[:, 0].min() == X0 + 420 and len(b["multi"].footprint) == 1  # the larger polygon
    assert any("MultiPolygon" in w and "multi" in w for w in result.warnings)


def test_building_ground_without_terrain(tmp_path):
    result = read(write(tmp_path, [feature("Polygon", square(X0, Y0, 10), "b", height=5)]), ctx())
    assert by_id(result)["b"].ground_elevation == 0.0
    assert any("set on 0 m" in w and "b" in w for w in result.warnings)


def test_lonlat_without_crs_member(tmp_path):
    to_ll = Transformer.from_crs(32632, 4326, always_xy=True)
    lon, lat = to_ll.transform(X0 + 50, Y0 + 50)
    ring = [[lon, lat], [lon + 1e-4, lat], [lon + 1e-4, lat + 1e-4], [lon, lat + 1e-4]]
    result = read(write(tmp_path, [feature("Polygon", [ring], "ll", height=3)], crs=None), ctx(crs="EPSG:25832"))
    assert result.source_crs == "OGC:CRS84"
    assert any("--crs EPSG:25832 was not used" in w for w in result.warnings)
    x, y = np.asarray(by_id(result)["ll"].footprint[0])[0]
    assert (x, y) == pytest.approx((X0 + 50, Y0 + 50), abs=0.01)


def test_projected_without_crs_member(tmp_path):
    path = write(tmp_path, [feature("Polygon", square(X0, Y0, 10), "b", height=5)], crs=None)
    with pytest.raises(ImportError_, match="--crs") as err:
        read(path, ctx())
    assert err.value.where == {"file": "city.geojson", "feature": "b"}
    result = read(path, ctx(crs="EPSG:32632"))
    assert result.source_crs == "EPSG:32632" and by_id(result)["b"].footprint[0][0] == (X0, Y0)


def test_pipes(tmp_path):
    line = [[X0 + 100, Y0 + 100], [X0 + 150, Y0 + 100], [X0 + 200, Y0 + 100]]
    feats = [
        feature("LineString", [[*p, 17.5 - k] for k, p in enumerate(line)], "z", utility="Gas", diameter=0.2),
        feature("LineString", line, "depth", utility="water", DIAMETER_MM=300, depth=1.2, material="PE"),
        feature("LineString", line, "box", utility="heat", width=1.2, height=0.8, cover=1.0),
        feature("LineString", line, "inv", utility="storm", dia=0.5, invert_z_start=15.0, invert_z_end=14.0),
        feature("LineString", [[*p, 0.0] for p in line], "zeros", utility="power", diameter=0.1, depth=0.7),
    ]
    result = read(write(tmp_path, feats), ctx(terrain=plane()))
    p = by_id(result)
    ground = 20 + 0.01 * (np.array([100, 150, 200.0]))
    np.testing.assert_allclose(p["z"].coords()[:, 2], [17.5, 16.5, 15.5])
    assert p["z"].utility is Utility.gas
    assert p["depth"].diameter == pytest.approx(0.3) and p["depth"].attributes == {}
    np.testing.assert_allclose(p["depth"].coords()[:, 2], ground - 1.2 - 0.15, atol=1e-5)
    assert p["box"].width == 1.2 and p["box"].section_height == 0.8
    np.testing.assert_allclose(p["box"].coords()[:, 2], ground - 1.0 - 0.4, atol=1e-5)
    np.testing.assert_allclose(p["inv"].coords()[:, 2], [15.25, 14.75, 14.25])
    np.testing.assert_allclose(p["zeros"].coords()[:, 2], ground - 0.7 - 0.05, atol=1e-5)


def test_manholes(tmp_path):
    feats = [
        feature("Point", [X0 + 100, Y0 + 100], "m1", utility="sewer", surface_elevation=21.0, invert=18.5),
        feature("Point", [X0 + 150, Y0 + 100, 22.0], "m2", utility="sewer", depth=3.0, diameter=1.0),
        feature("Point", [X0 + 200, Y0 + 100], "v1", utility="water", kind="valve", ELEV=20.5),
        feature(
            "LineString",
            [[X0 + 100, Y0 + 100], [X0 + 150, Y0 + 100]],
            "s",
            utility="sewer",
            diameter=0.4,
            u="m1",
            v="m2",
        ),
    ]
    result = read(write(tmp_path, feats), ctx())
    f = by_id(result)
    assert f["m1"].position == (X0 + 100, Y0 + 100, 21.0) and f["m1"].depth == pytest.approx(2.5)
    assert f["m2"].position[2] == 22.0 and f["m2"].depth == 3.0 and f["m2"].diameter == 1.0
    assert f["v1"].kind is NodeKind.valve and f["v1"].depth is None
    np.testing.assert_allclose(f["s"].coords()[:, 2], [18.7, 19.2])  # inverts 18.5 and 19.0, + 0.2


# -- refusals: ImportError_ naming the file and the feature; the store untouched ---------------------------------

GOOD = feature("Polygon", square(X0, Y0, 10), "good", height=5)
LINE = [[X0 + 100, Y0 + 100], [X0 + 200, Y0 + 100]]
REFUSED = {
    "no-height": ([feature("Polygon", square(X0, Y0, 10), "tall?", use="residential")], "neither `height` nor"),
    "infinite": (None, "finite"),
    "nan": ([feature("Polygon", [[[X0, Y0], [X0 + 1, math.nan], [X0, Y0 + 1], [X0, Y0]]], "nan", height=3)], "finite"),
    "utility": (
        [feature("LineString", LINE, "pipe-1", utility="oil", diameter=0.3, depth=1)],
        "water, reclaimed, sewer, storm, gas, heat, power, telecom",
    ),
    "no-terrain": ([feature("LineString", LINE, "pipe-2", utility="gas", diameter=0.3, depth=1)], "no terrain"),
    "no-z": ([feature("LineString", LINE, "pipe-3", utility="gas", diameter=0.3)], "no elevation"),
    "mm": ([feature("LineString", [[*p, 10] for p in LINE], "pipe-4", utility="gas", diameter=300)], "diameter_mm"),
    "no-size": ([feature("LineString", [[*p, 10] for p in LINE], "pipe-5", utility="gas")], "no size"),
    "manhole": ([feature("Point", [X0, Y0], "mh", utility="sewer", ground_z=20)], "no `invert_z`"),
    "above": ([feature("Point", [X0, Y0], "mh2", utility="sewer", ground_z=20, invert_z=21)], "above the ground"),
    "use": ([feature("Polygon", square(X0, Y0, 10), "b-use", height=3, use="castle")], "residential, public"),
    "disagree": ([feature("Polygon", square(X0, Y0, 10), "b-two", height=3, HEIGHT=4)], "disagree"),
    "type": ([feature("MultiPoint", [[X0, Y0]], "mp")], "not part of the profile"),
    "short-ring": ([feature("Polygon", [[[X0, Y0], [X0 + 1, Y0], [X0, Y0]]], "flat", height=3)], "footprint"),
}


def _file(tmp_path, key):
    feats, _ = REFUSED[key]
    if key == "infinite":  # 1e999 is how JSON writes an infinite number: Python reads it as inf
        text = json.dumps(
            {
                "type": "FeatureCollection",
                "crs": LEGACY_CRS,
                "features": [GOOD, feature("Polygon", square(X0 + 50, Y0, 10), "inf", height=3)],
            }
        ).replace(f"[{X0 + 60}, {Y0}]", "[1e999, 6132800.0]")
        assert "1e999" in text
        return write(tmp_path, [], raw=text), "inf"
    return write(tmp_path, [GOOD, *feats]), feats[0]["id"]


@pytest.mark.parametrize("key", REFUSED)
def test_refused(tmp_path, key):
    path, fid = _file(tmp_path, key)
    with pytest.raises(ImportError_) as err:
        read(path, ctx())
    assert REFUSED[key][1] in err.value.message
    assert err.value.where["file"] == "city.geojson" and err.value.where["feature"] == fid


@pytest.mark.parametrize("key", ["no-height", "infinite", "utility", "no-z", "use"])
def test_refused_leaves_store_unchanged(tmp_path, key):
    store = new_store(tmp_path, "refused.sqlite")
    ok = write(tmp_path, [feature("Polygon", square(X0 + 500, Y0, 10), "first", height=5)], name="ok.geojson")
    import_files(store, [ok])
    before = (store.counts(), store.version())
    path, fid = _file(tmp_path, key)
    with pytest.raises(ImportError_) as err:
        import_files(store, [write(tmp_path, [GOOD], name="good.geojson"), path])
    assert err.value.where["file"] == "city.geojson" and err.value.where["feature"] == fid
    assert (store.counts(), store.version()) == before
    store.close()


def test_unknown_legacy_crs(tmp_path):
    path = write(tmp_path, [GOOD], crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}})
    with pytest.raises(ImportError_, match="Unknown coordinate reference system") as err:
        read(path, ctx())
    assert err.value.where["file"] == "city.geojson"


def test_not_geojson(tmp_path):
    for text, words in [
        ("", "empty"),
        ("{not json", "Not valid JSON"),
        ('{"type": "Point", "coordinates": [1, 2]}', "not a GeoJSON FeatureCollection"),
    ]:
        path = tmp_path / "x.geojson"
        path.write_text(text)
        with pytest.raises(ImportError_) as err:
            read(path, ctx(), fmt="geojson")
        assert words.lower() in err.value.message.lower() and err.value.where["file"] == "x.geojson"


def test_detect(tmp_path):
    gj = write(tmp_path, [GOOD], name="data.json")
    assert detect(gj).name == "geojson"
    cj = tmp_path / "city.json"
    cj.write_text(json.dumps({"type": "CityJSON", "version": "2.0", "CityObjects": {}, "vertices": []}))
    assert detect(cj).name != "geojson"
