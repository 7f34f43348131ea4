"""OGC API - Features Parts 1 and 2 on the tiny test city (in-process client)."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer

from cim.crs import CRS84

from .. import common
from ..common import X0, Y0
from .conftest import assert_problem

TO_LONLAT = Transformer.from_crs(4550, 4326, always_xy=True)


def lonlat(x, y):
    return TO_LONLAT.transform(x, y)


def test_landing_links(client):
    body = client.get("/").json()
    rels = {link["rel"]: link["href"] for link in body["links"]}
    for rel in ("self", "service-desc", "service-doc", "conformance", "data"):
        assert rel in rels
    for rel in ("service-desc", "conformance", "data"):
        assert client.get(rels[rel]).status_code == 200


def test_conformance(client):
    classes = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes


def test_openapi_is_30(client):
    r = client.get("/api")
    assert r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = r.json()
    assert doc["openapi"].startswith("3.0")
    assert "/collections/{collectionId}/items" in doc["paths"]
    text = r.text
    assert '"type":"null"' not in text and "prefixItems" not in text
    from openapi_spec_validator import validate

    validate(doc)  # raises on any OpenAPI 3.0 schema violation


def test_collections(client):
    body = client.get("/collections").json()
    ids = [c["id"] for c in body["collections"]]
    assert ids[:4] == ["buildings", "pipes", "pipe-nodes", "underground-structures"]
    b = body["collections"][0]
    assert b["storageCrs"] == "http://www.opengis.net/def/crs/EPSG/0/4550"
    assert CRS84 in b["crs"]
    lo = lonlat(X0, Y0)
    bbox = b["extent"]["spatial"]["bbox"][0]
    assert bbox[0] == pytest.approx(lo[0], abs=1e-3) and bbox[1] == pytest.approx(lo[1], abs=1e-3)
    assert b["numberOfFeatures"] == 101


def test_items_default_page(client):
    r = client.get("/collections/buildings/items")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    assert r.headers["content-crs"] == f"<{CRS84}>"
    body = r.json()
    assert body["numberMatched"] == 101 and body["numberReturned"] == 10
    assert [f["id"] for f in body["features"]] == [f"b-0-{c}" for c in range(10)]
    f0 = body["features"][0]
    ring = np.array(f0["geometry"]["coordinates"][0])
    assert ring.shape == (5, 2) and np.allclose(ring[0], lonlat(X0, Y0), atol=1e-8)
    assert f0["properties"]["height"] == 3.0 and f0["properties"]["ground_elevation"] == 45.0
    assert f0["properties"]["roof_elevation"] == 48.0


def test_items_in_city_crs_use_its_axis_order(client):
    uri = "http://www.opengis.net/def/crs/EPSG/0/4550"
    body = client.get("/collections/buildings/items", params={"crs": uri, "limit": 1}).json()
    # EPSG:4550 declares northing first (OGC API - Features Part 2 keeps the CRS's axis order)
    assert body["features"][0]["geometry"]["coordinates"][0][0] == [Y0, X0]
    body = client.get("/collections/buildings/items", params={"crs": "EPSG:4326", "limit": 1}).json()
    lon, lat = lonlat(X0, Y0)
    assert body["features"][0]["geometry"]["coordinates"][0][0] == pytest.approx([lat, lon], abs=1e-8)


def test_pipes_are_3d(client):
    feat = client.get("/collections/pipes/items/p-gas").json()
    coords = feat["geometry"]["coordinates"]
    assert feat["geometry"]["type"] == "LineString" and len(coords[0]) == 3
    assert coords[0][2] == pytest.approx(43.0 - 0.3 * 4)
    assert feat["properties"]["utility"] == "gas" and feat["properties"]["diameter"] == 0.3
    node = client.get("/collections/pipe-nodes/items/n-0").json()
    assert node["geometry"]["type"] == "Point" and node["geometry"]["coordinates"][2] == 45.0


def test_bbox_in_crs84(client):
    lo = lonlat(X0 + 30, Y0 + 30)
    hi = lonlat(X0 + 130, Y0 + 130)
    body = client.get("/collections/buildings/items", params={"bbox": f"{lo[0]},{lo[1]},{hi[0]},{hi[1]}"}).json()
    assert sorted(f["id"] for f in body["features"]) == ["b-1-1", "b-1-2", "b-2-1", "b-2-2"]


def test_bbox_crs_city_axis_order(client):
    # bbox in EPSG:4550 axis order: northing, easting
    bbox = f"{Y0 + 30},{X0 + 30},{Y0 + 130},{X0 + 130}"
    body = client.get(
        "/collections/buildings/items", params={"bbox": bbox, "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4550"}
    ).json()
    assert sorted(f["id"] for f in body["features"]) == ["b-1-1", "b-1-2", "b-2-1", "b-2-2"]


def test_bbox_with_z(client):
    lo, hi = lonlat(X0 - 10, Y0 - 10), lonlat(X0 + 600, Y0 + 600)
    body = client.get(
        "/collections/buildings/items", params={"bbox": f"{lo[0]},{lo[1]},340,{hi[0]},{hi[1]},400", "limit": 200}
    ).json()
    assert {f["id"] for f in body["features"]} == {b.id for b in common.buildings() if b.roof_elevation >= 340}


def test_paging_links_visit_every_feature_once(client):
    url = "/collections/buildings/items?limit=7"
    seen = []
    while url:
        body = client.get(url).json()
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
        assert len(seen) <= 101
    assert seen == [b.id for b in common.buildings()]


def test_prev_link(client):
    body = client.get("/collections/buildings/items", params={"limit": 5, "offset": 12}).json()
    prev = [link for link in body["links"] if link["rel"] == "prev"][0]["href"]
    assert "offset=7" in prev


def test_item_and_links(client):
    body = client.get("/collections/underground-structures/items/s-tunnel").json()
    assert body["properties"]["compartments"][0]["contents"] == ["gas"]
    assert {link["rel"] for link in body["links"]} == {"self", "collection"}


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["counts"]["pipes"] == 9


def test_cors(client):
    r = client.get("/collections", headers={"Origin": "https://viewer.example"})
    assert r.headers["access-control-allow-origin"] == "https://viewer.example"
    r = client.get("/collections", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "123.5,41.8,123.4,41.9"}, "bbox"),
        ({"bbox": "1,2,3,4,nan,5"}, "bbox"),
        ({"bbox": "123,91,124,95"}, "bbox"),
        ({"limit": "0"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"crs": "EPSG:99999"}, "crs"),
        ({"crs": "http://www.opengis.net/def/crs/EPSG/0/2056"}, "crs"),
        ({"bbox": "1,2,3,4", "bbox-crs": "EPSG:1234"}, "bbox-crs"),
        ({"f": "xml"}, "f"),
    ],
)
def test_bad_requests_are_400_problems(client, params, parameter):
    body = assert_problem(client.get("/collections/buildings/items", params=params), 400, parameter)
    assert body["instance"] == "/collections/buildings/items"


def test_unknown_collection_404(client):
    body = assert_problem(client.get("/collections/roads/items"), 404)
    assert "buildings" in body["detail"] and body["collection"] == "roads"
    assert_problem(client.get("/collections/roads"), 404)


def test_unknown_feature_404(client):
    body = assert_problem(client.get("/collections/buildings/items/nope"), 404)
    assert body["feature"] == "nope"


def test_unknown_path_404(client):
    assert_problem(client.get("/no/such/thing"), 404)


def test_item_bad_crs_400(client):
    assert_problem(client.get("/collections/buildings/items/b-0-0", params={"crs": "foo"}), 400, "crs")
