"""OGC API - Features Part 3 (CQL2 filters, queryables), sorting, property selection and the CSV,
CityJSON and CityJSONSeq outputs, on the sample city; every answer checked against an independent
computation on the same features."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess

import cql2
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from api.main import create_app
from api.settings import Settings
from cim.store import open_store

from .conftest import assert_problem, no_server_errors

TO_CITY = Transformer.from_crs("OGC:CRS84", 4550, always_xy=True)


@pytest.fixture(scope="module")
def client(sample_city_path):
    with TestClient(create_app(Settings(store=str(sample_city_path)))) as c:
        c.event_hooks["response"].append(no_server_errors)
        yield c


@pytest.fixture(scope="module")
def feats(sample_city_path):
    s = open_store(sample_city_path)
    out = {cid: list(s.iter_features(cid)) for cid in ("buildings", "pipes")}
    s.close()
    return out


def ids(client, cid, **params) -> list[str]:
    body = client.get(f"/collections/{cid}/items", params={"limit": 10000, **params}).json()
    assert body["numberMatched"] == body["numberReturned"], body.get("detail")
    return [f["id"] for f in body["features"]]


def city_shape(lonlat_wkt: str) -> shapely.Geometry:
    g = shapely.from_wkt(lonlat_wkt)
    return shapely.transform(g, lambda xy: np.column_stack(TO_CITY.transform(xy[:, 0], xy[:, 1])))


# a polygon and a point in the middle of the district (CRS84)
POLY = "POLYGON((123.405 41.785,123.415 41.785,123.415 41.792,123.405 41.792,123.405 41.785))"
POINT = "POINT(123.410 41.790)"

CASES = [
    ("buildings", "height > 100", lambda b: b.height > 100),
    ("buildings", "height >= 100 AND use = 'residential'", lambda b: b.height >= 100 and b.use == "residential"),
    (
        "buildings",
        "use IN ('public','commercial') AND year_built < 1990",
        lambda b: b.use in ("public", "commercial") and b.year_built is not None and b.year_built < 1990,
    ),
    ("buildings", "name LIKE '工业%'", lambda b: b.name is not None and b.name.startswith("工业")),
    ("buildings", "height BETWEEN 99 AND 101", lambda b: 99 <= b.height <= 101),
    ("buildings", "green_star IS NULL", lambda b: b.green_star is None),
    (
        "buildings",
        "NOT (green_star IS NULL) OR structure = 'steel'",
        lambda b: b.green_star is not None or b.structure == "steel",
    ),
    ("buildings", "height * 2 > 300", lambda b: b.height * 2 > 300),
    ("buildings", "year_built > DATE('2000-06-01')", lambda b: b.year_built is not None and b.year_built >= 2001),
    (
        "buildings",
        "T_BEFORE(year_built, DATE('1990-01-01'))",
        lambda b: b.year_built is not None and b.year_built < 1990,
    ),
    (
        "buildings",
        f"S_INTERSECTS(geometry, {POLY})",
        lambda b: shapely.Polygon(b.footprint[0]).intersects(city_shape(POLY)),
    ),
    (
        "buildings",
        f"S_WITHIN(geometry, {POLY}) AND floors_above > 10",
        lambda b: shapely.Polygon(b.footprint[0]).within(city_shape(POLY)) and (b.floors_above or 0) > 10,
    ),
    (
        "buildings",
        f"S_DWITHIN(geometry, {POINT}, 150)",
        lambda b: shapely.Polygon(b.footprint[0]).distance(city_shape(POINT)) <= 150,
    ),
    (
        "buildings",
        f"NOT S_INTERSECTS(geometry, {POLY}) AND height > 60",
        lambda b: not shapely.Polygon(b.footprint[0]).intersects(city_shape(POLY)) and b.height > 60,
    ),
    ("pipes", "utility = 'gas' AND diameter >= 0.3", lambda p: p.utility == "gas" and (p.diameter or 0) >= 0.3),
    (
        "pipes",
        "lane = 'motor_lane' AND NOT (material IS NULL) AND year < 1995",
        lambda p: p.lane == "motor_lane" and p.material is not None and p.year is not None and p.year < 1995,
    ),
    (
        "pipes",
        f"S_INTERSECTS(geometry, {POLY}) AND utility IN ('sewer','storm')",
        lambda p: (
            shapely.LineString([q[:2] for q in p.centreline]).intersects(city_shape(POLY))
            and p.utility in ("sewer", "storm")
        ),
    ),
]


@pytest.mark.parametrize("cid, text, pred", CASES, ids=[c[1][:60] for c in CASES])
def test_filter_matches_independent_computation(client, feats, cid, text, pred):
    expected = [f.id for f in feats[cid] if pred(f)]
    assert ids(client, cid, filter=text) == expected
    # the CQL2 JSON twin gives the same answer
    twin = json.dumps(cql2.Expr(text).to_json())
    assert ids(client, cid, filter=twin, **{"filter-lang": "cql2-json"}) == expected


def test_filter_and_bbox_combine(client, feats):
    bbox = "123.405,41.785,123.415,41.792"
    expected = [
        b.id
        for b in feats["buildings"]
        if b.height > 20 and shapely.Polygon(b.footprint[0]).intersects(city_shape(POLY))
    ]
    assert ids(client, "buildings", filter="height > 20", bbox=bbox) == expected


def test_filter_crs(client, feats):
    poly_city = city_shape(POLY)
    wkt = shapely.to_wkt(shapely.transform(poly_city, lambda xy: xy[:, ::-1]), rounding_precision=4)  # N, E order
    got = ids(
        client,
        "buildings",
        filter=f"S_INTERSECTS(geometry, {wkt})",
        **{"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4550"},
    )
    expected = [b.id for b in feats["buildings"] if shapely.Polygon(b.footprint[0]).intersects(poly_city)]
    assert got == expected


def test_sortby_properties_skip_geometry(client, feats):
    body = client.get(
        "/collections/buildings/items",
        params={"sortby": "-height,year_built", "limit": 25, "properties": "height,use", "skipGeometry": "true"},
    ).json()
    expected = sorted(feats["buildings"], key=lambda b: (-b.height, b.year_built if b.year_built else 10**9))[:25]
    assert [f["id"] for f in body["features"]] == [b.id for b in expected]
    assert all(f["geometry"] is None and set(f["properties"]) == {"height", "use"} for f in body["features"])


def test_queryables(client):
    r = client.get("/collections/buildings/queryables")
    assert r.headers["content-type"].startswith("application/schema+json")
    doc = r.json()
    assert doc["properties"]["height"]["type"] == "number" and doc["properties"]["height"]["x-ogc-unit"] == "m"
    assert "residential" in doc["properties"]["use"]["enum"]
    assert doc["properties"]["year_built"]["type"] == "integer"
    assert "geometry" in doc["properties"]


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"filter": "height >"}, "not valid CQL2"),
        ({"filter": "heigth > 3"}, "unknown property 'heigth'"),
        ({"filter": "height > 'tall'"}, "type mismatch"),
        ({"filter": "use LIKE 3"}, "text pattern"),
        ({"filter": '{"op": ">", "args": [{"property": "height"}]}', "filter-lang": "cql2-json"}, "CQL2"),
        ({"filter": "height > 3", "filter-lang": "sql"}, "filter-lang"),
        ({"filter": "S_INTERSECTS(geometry, POINT(1 2))", "filter-crs": "EPSG:2056"}, "not supported"),
        ({"sortby": "colour"}, "cannot sort by 'colour'"),
        ({"properties": "height,colour"}, "colour"),
    ],
)
def test_bad_filters_are_400(client, params, fragment):
    body = assert_problem(client.get("/collections/buildings/items", params=params), 400)
    assert fragment in body["detail"] or fragment in str(body.get("errors", "")), body
    assert body["parameter"] in ("filter", "filter-lang", "filter-crs", "sortby", "properties")


def test_csv_output(client, feats):
    r = client.get("/collections/buildings/items", params={"f": "csv", "filter": "height > 100"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    expected = [b for b in feats["buildings"] if b.height > 100]
    assert [row["id"] for row in rows] == [b.id for b in expected]
    assert float(rows[0]["height"]) == expected[0].height
    assert shapely.from_wkt(rows[0]["geometry"]).geom_type == "Polygon"
    # Accept header picks the format too
    r = client.get("/collections/pipes/items", params={"filter": "utility = 'gas'"}, headers={"Accept": "text/csv"})
    assert r.headers["content-type"].startswith("text/csv") and len(r.text.splitlines()) == 1 + sum(
        p.utility == "gas" for p in feats["pipes"]
    )


def test_cityjsonseq_streams_every_feature(client, feats):
    r = client.get("/collections/buildings/items", params={"f": "cityjsonseq"})
    lines = r.text.splitlines()
    head = json.loads(lines[0])
    assert head["type"] == "CityJSON" and head["version"] == "2.0" and "4550" in head["metadata"]["referenceSystem"]
    objs = [json.loads(x) for x in lines[1:]]
    assert [o["id"] for o in objs] == [b.id for b in feats["buildings"]]
    assert all(o["type"] == "CityJSONFeature" for o in objs)


def test_cityjson_round_trip(client, feats, tmp_path):
    """An export to CityJSON imported into an empty store gives the same features (1 mm)."""
    from cim.io import import_files

    paths = []
    for cid in ("buildings", "pipes", "pipe-nodes", "underground-structures"):
        r = client.get(f"/collections/{cid}/items", params={"f": "cityjson"})
        assert r.headers["content-type"].startswith("application/city+json")
        doc = r.json()
        assert doc["type"] == "CityJSON" and doc["version"] == "2.0"
        n = len(doc["vertices"])
        for obj in doc["CityObjects"].values():  # every index in range, every geometry typed
            flat = np.array(
                json.dumps([g["boundaries"] for g in obj["geometry"]])
                .replace("[", " ")
                .replace("]", " ")
                .replace(",", " ")
                .split(),
                dtype=np.int64,
            )
            assert flat.min() >= 0 and flat.max() < n
        paths.append(tmp_path / f"{cid}.city.json")
        paths[-1].write_bytes(r.content)
    src = client.app.state.store
    dst = open_store(tmp_path / "rt.sqlite", create=True)
    dst.init(src.city())
    import_files(dst, paths)
    for cid in ("buildings", "pipes", "pipe-nodes", "underground-structures"):
        a = {f.id: f for f in src.iter_features(cid)}
        b = {f.id: f for f in dst.iter_features(cid)}
        assert a.keys() == b.keys()
        for k, fa in a.items():
            fb = b[k]
            geo = {"footprint", "centreline", "position", "surfaces", "lods"}
            assert (
                fa.model_dump(exclude=geo) == fb.model_dump(exclude=geo)
                or cid == "buildings"
                and fa.model_dump(exclude=geo | {"roof_elevation", "ground_elevation", "height"})
                == fb.model_dump(exclude=geo | {"roof_elevation", "ground_elevation", "height"})
            )
            sa, sb = src_shape(fa), src_shape(fb)
            assert shapely.hausdorff_distance(sa, sb) < 1e-3, k
            if cid == "buildings":
                assert abs(fa.roof_elevation - fb.roof_elevation) < 1e-3
                assert abs(fa.ground_elevation - fb.ground_elevation) < 1e-3
    dst.close()


def src_shape(f) -> shapely.Geometry:
    if getattr(f, "footprint", None):
        return shapely.Polygon(f.footprint[0], f.footprint[1:])
    if getattr(f, "centreline", None):
        return shapely.LineString(f.centreline)
    return shapely.Point(f.position)


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is not installed")
def test_gdal_sends_the_filter_to_the_server(sample_server, feats):
    """GDAL's OAPIF driver turns -where into a server-side CQL filter, and the answer is right."""
    r = subprocess.run(
        [
            "ogrinfo",
            "-ro",
            "-al",
            "-q",
            f"OAPIF:{sample_server.url}",
            "buildings",
            "-where",
            "height > 100",
            "--config",
            "CPL_DEBUG",
            "ON",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "filter=height" in r.stderr, r.stderr[-2000:]
    assert r.stdout.count("OGRFeature(buildings)") == sum(b.height > 100 for b in feats["buildings"])
