"""Streets, facilities and communities: GeoJSON with --collection, OpenStreetMap files, bad input, both stores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from cim.io import import_files
from cim.io.base import ImportError_
from cim.layers import Community, Facility, Street
from cim.model import City
from cim.store import Region, open_store

DATA = Path(__file__).parent.parent / "data"
X0, Y0 = 500000.0, 4630000.0
LEGACY = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4550"}}


def fc(features: list[dict], crs: dict | None = LEGACY) -> str:
    doc = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = crs
    return json.dumps(doc, ensure_ascii=False)


def feat(fid: str, gtype: str, coords, **props) -> dict:
    return {"type": "Feature", "id": fid, "geometry": {"type": gtype, "coordinates": coords}, "properties": props}


@pytest.fixture
def new_store(tmp_path):
    s = open_store(tmp_path / "c.sqlite", create=True)
    s.init(City(crs_epsg=4550))
    yield s
    s.close()


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_geojson_layers(new_store, tmp_path):
    # EPSG:4550 is northing, easting in its official order, but a legacy GeoJSON crs member keeps x, y = E, N
    streets = write(
        tmp_path,
        "s.geojson",
        fc(
            [
                feat("s1", "LineString", [[X0, Y0], [X0 + 100, Y0]], **{"class": "primary", "name": "北一路"}),
                feat("s2", "LineString", [[X0, Y0], [X0, Y0 + 80]], highway="footway", drivable=False, lanes=2),
                feat("s3", "MultiLineString", [[[X0 + 100, Y0], [X0 + 100, Y0 + 50]]], walkable="no"),
            ]
        ),
    )
    facilities = write(
        tmp_path,
        "f.geojson",
        fc(
            [
                feat("kg", "Point", [X0 + 50, Y0 + 20], kind="kindergarten", floor_area=2400, site_area="3600"),
                feat(
                    "sh",
                    "Polygon",
                    [[[X0, Y0], [X0 + 60, Y0], [X0 + 60, Y0 + 50], [X0, Y0 + 50], [X0, Y0]]],
                    kind="shelter",
                    shelter_class="emergency",
                    effective_area=2500,
                    owner="区政府",
                ),
            ]
        ),
    )
    comms = write(
        tmp_path,
        "c.geojson",
        fc([feat("c1", "Polygon", [[[X0, Y0], [X0 + 200, Y0], [X0 + 200, Y0 + 200], [X0, Y0]]], population=5200)]),
    )
    r1 = import_files(new_store, [streets], collection="streets")
    r2 = import_files(new_store, [facilities], collection="facilities")
    r3 = import_files(new_store, [comms], collection="communities")
    assert r1.counts["streets"] == 3 and r2.counts["facilities"] == 2 and r3.counts["communities"] == 1
    s = {f.id: f for f in new_store.iter_features("streets")}
    assert s["s1"].street_class == "primary" and s["s1"].name == "北一路" and s["s1"].walkable and s["s1"].drivable
    assert s["s2"].street_class == "footway" and not s["s2"].drivable and s["s2"].attributes == {"lanes": 2}
    assert not s["s3"].walkable and s["s3"].centreline == [(X0 + 100, Y0), (X0 + 100, Y0 + 50)]
    f = {x.id: x for x in new_store.iter_features("facilities")}
    assert f["kg"].position == (X0 + 50, Y0 + 20) and f["kg"].site_area == 3600.0
    assert f["sh"].footprint[0][2] == (X0 + 60, Y0 + 50) and f["sh"].point() == pytest.approx((X0 + 30, Y0 + 25))
    assert f["sh"].attributes == {"owner": "区政府"} and f["sh"].effective_area == 2500
    (c,) = new_store.iter_features("communities")
    assert c.population == 5200 and len(c.footprint[0]) == 3
    # region queries find them (their boxes are flat at z = 0)
    hits = new_store.query("facilities", region=Region.box(X0 + 45, Y0 + 15, X0 + 55, Y0 + 25)).features
    assert {h.id for h in hits} == {"kg", "sh"}


def test_geojson_lonlat_is_reprojected(new_store, tmp_path):
    lon, lat = Transformer.from_crs(4550, 4326, always_xy=True).transform(X0, Y0)
    p = write(tmp_path, "ll.geojson", fc([feat("p", "Point", [lon, lat], kind="park")], crs=None))
    import_files(new_store, [p], collection="facilities")
    (f,) = new_store.iter_features("facilities")
    assert f.position == pytest.approx((X0, Y0), abs=1e-3)


@pytest.mark.parametrize(
    ("collection", "feature", "words"),
    [
        ("facilities", feat("x", "Point", [X0, Y0], kind="spaceport"), "unknown facility kind"),
        ("facilities", feat("x", "Point", [X0, Y0]), "kind"),
        ("facilities", feat("x", "Point", [X0, Y0], kind="park", floor_area="big"), "floor_area"),
        ("facilities", feat("x", "Point", [X0, Y0], kind="shelter", shelter_class="bunker"), "shelter class"),
        ("streets", feat("x", "Point", [X0, Y0]), "LineString"),
        ("streets", feat("x", "LineString", [[X0, Y0], [X0, Y0]]), "zero length"),
        ("streets", feat("x", "LineString", [[X0, Y0], [X0 + 1, Y0]], walkable="maybe"), "walkable"),
        (
            "communities",
            feat("x", "Polygon", [[[X0, Y0], [X0 + 1, Y0], [X0, Y0 + 1], [X0, Y0]]], population=1.5),
            "whole",
        ),
    ],
)
def test_bad_features_name_file_and_feature(new_store, tmp_path, collection, feature, words):
    good = feat("ok", "Point", [X0, Y0], kind="park") if collection == "facilities" else None
    p = write(tmp_path, "bad.geojson", fc([f for f in (good, feature) if f]))
    with pytest.raises(ImportError_) as exc:
        import_files(new_store, [p], collection=collection)
    assert words in exc.value.message and exc.value.where["file"] == "bad.geojson"
    assert exc.value.where.get("feature") == "x" or collection == "facilities" and "kind" in words
    assert not list(new_store.iter_features(collection))  # all or nothing


def test_unknown_collection(new_store, tmp_path):
    p = write(tmp_path, "x.geojson", fc([]))
    with pytest.raises(ImportError_) as exc:
        import_files(new_store, [p], collection="rivers")
    assert exc.value.where["parameter"] == "collection"


def test_osm_extract(new_store):
    report = import_files(new_store, [DATA / "tiexi_small.osm"])
    assert report.counts == {"streets": 5, "facilities": 7}
    assert report.files[0]["format"] == "osm" and "1 facility relations" in report.files[0]["warnings"][0]
    s = {f.id: f for f in new_store.iter_features("streets")}
    assert s["osm-way-100"].name == "北一西路" and s["osm-way-100"].street_class == "primary"
    assert s["osm-way-102"].street_class == "footway" and s["osm-way-102"].walkable and not s["osm-way-102"].drivable
    assert not s["osm-way-103"].walkable  # motorway
    assert not s["osm-way-104"].walkable and s["osm-way-104"].drivable  # service road, foot=no
    assert "osm-way-105" not in s  # highway=proposed
    f = {x.id: x for x in new_store.iter_features("facilities")}
    kinds = {k: v.kind for k, v in f.items()}
    assert kinds == {
        "osm-node-10": "kindergarten",
        "osm-node-11": "supermarket",
        "osm-node-12": "health-station",
        "osm-node-13": "shelter",
        "osm-node-15": "middle-school",  # amenity=school + isced:level=2
        "osm-way-200": "primary-school",  # a closed way: a site polygon
        "osm-way-201": "park",
    }
    assert f["osm-node-10"].capacity == 180 and f["osm-node-10"].name == "阳光幼儿园"
    assert f["osm-way-200"].footprint is not None and len(f["osm-way-200"].footprint[0]) == 4
    # positions: the kindergarten at 123.4005 E, 41.7805 N in EPSG:4550
    x, y = Transformer.from_crs(4490, 4550, always_xy=True).transform(123.4005, 41.7805)
    assert f["osm-node-10"].position == pytest.approx((x, y), abs=1e-3)
    # nodes 1-2 of way 100: 0.001 degrees of longitude at 41.78 N is about 83 m
    c = s["osm-way-100"].coords()
    assert 80 < np.hypot(*(c[1] - c[0])) < 86


def test_osm_with_collection_and_bad_file(new_store, tmp_path):
    report = import_files(new_store, [DATA / "tiexi_small.osm"], collection="facilities")
    assert report.counts == {"facilities": 7}
    bad = write(tmp_path, "broken.osm", "<?xml version='1.0'?>\n<osm version='0.6'><node id='1' lat='x'")
    with pytest.raises(ImportError_) as exc:
        import_files(new_store, [bad], collection="streets")
    assert exc.value.where["file"] == "broken.osm"
    with pytest.raises(ImportError_):
        import_files(new_store, [DATA / "tiexi_small.osm"], collection="communities")


def test_cli_import_collection(tmp_path):
    store = tmp_path / "c.sqlite"
    s = open_store(store, create=True)
    s.init(City(crs_epsg=4550))
    s.close()
    p = write(tmp_path, "f.geojson", fc([feat("kg", "Point", [X0, Y0], kind="kindergarten")]))
    run = [sys.executable, "-m", "cim.cli", "import", str(p), "--store", str(store), "--json"]
    out = subprocess.run([*run, "--collection", "facilities"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["counts"] == {"facilities": 1}
    bad = subprocess.run([*run, "--collection", "rivers"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "rivers" in bad.stderr


def test_layers_round_trip_on_both_stores(empty_store):
    feats = [
        Street(id="s", centreline=[(X0, Y0), (X0 + 10, Y0)], street_class="primary", walkable=False),
        Facility(id="f", kind="hospital", position=(X0 + 5, Y0 + 5), capacity=300),
        Community(id="c", footprint=[[(X0, Y0), (X0 + 10, Y0), (X0, Y0 + 10)]], population=7),
    ]
    assert empty_store.write(feats) == {"streets": 1, "facilities": 1, "communities": 1}
    assert next(iter(empty_store.iter_features("streets"))) == feats[0]
    assert next(iter(empty_store.iter_features("facilities"))) == feats[1]
    assert next(iter(empty_store.iter_features("communities"))) == feats[2]
