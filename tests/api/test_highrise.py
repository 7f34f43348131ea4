"""``GET`` and ``POST /analysis/high-rise`` on the tiny test city (in-process client): filters, paging, CSV,
proposals in several CRSs, and bad input answered with problem+json naming the field."""

from __future__ import annotations

import csv
import io

import pytest
from pyproj import Transformer

from api.routers.highrise import HighRiseResponse, ScreenedCollection
from cim.analysis.highrise_report import CSV_COLUMNS
from cim.crs import CRS84

from ..common import X0, Y0
from .conftest import assert_problem

PATH = "/analysis/high-rise"
TO_LONLAT = Transformer.from_crs(4550, 4326, always_xy=True)
EPSG4550 = "http://www.opengis.net/def/crs/EPSG/0/4550"


def lonlat_square(x: float, y: float, w: float = 30.0) -> dict:
    ring = [TO_LONLAT.transform(px, py) for px, py in ((x, y), (x + w, y), (x + w, y + w), (x, y + w), (x, y))]
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


def proposal(pid: str = "p1", **kw) -> dict:
    return {"id": pid, "footprint": lonlat_square(X0 + 2000, Y0), "height": 120.0, "use": "public", **kw}


# -- GET ---------------------------------------------------------------------------------------------------------------


def test_get_pages_the_city(client):
    r = client.get(PATH)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert r.headers["content-crs"] == f"<{CRS84}>"
    body = r.json()
    ScreenedCollection.model_validate(body)
    assert body["numberMatched"] == 101 and body["numberReturned"] == 10
    assert body["city"]["population_class"] == "ge_3m"
    f0 = body["features"][0]
    assert f0["id"] == "b-0-0" and f0["geometry"]["type"] == "Polygon"
    props = f0["properties"]
    assert props["verdict"] == "ok" and props["height"] == 3.0 and props["height_class"] == "low-multi-storey"
    assert props["heights"]["geometry"] == 3.0
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert "offset=10" in rels["next"] and "f=csv" in rels["alternate"]
    nxt = client.get(rels["next"]).json()
    assert nxt["features"][0]["id"] == "b-1-0" and "prev" in {link["rel"] for link in nxt["links"]}


def test_get_filters(client):
    # store buildings are existing: over a new-construction limit they get exceeds-new-build-limit (issue 15)
    params = [("verdict", "not-allowed"), ("verdict", "restricted"), ("verdict", "exceeds-new-build-limit")]
    body = client.get(PATH, params=[*params, ("limit", 100)]).json()
    assert body["numberMatched"] == 37
    assert {f["properties"]["verdict"] for f in body["features"]} == {"exceeds-new-build-limit"}
    assert body["summary"]["ultra-high-rise"] == {
        "ok": 0,
        "consult-fire-rescue": 0,
        "exceeds-new-build-limit": 37,
        "restricted": 0,
        "not-allowed": 0,
    }
    nxt = client.get(PATH, params=[("verdict", "exceeds-new-build-limit"), ("limit", 3)]).json()
    href = next(link["href"] for link in nxt["links"] if link["rel"] == "next")
    assert "verdict=exceeds-new-build-limit" in href  # filters survive in the paging links
    tall = client.get(PATH, params={"min_height": 291, "limit": 100}).json()
    assert sorted(f["id"] for f in tall["features"]) == ["b-9-6", "b-9-7", "b-9-8", "b-9-9"]
    # bbox in CRS84 and in the city CRS (northing, easting) select the same buildings
    lo, hi = TO_LONLAT.transform(X0 - 1, Y0 - 1), TO_LONLAT.transform(X0 + 120, Y0 + 70)
    a = client.get(PATH, params={"bbox": f"{lo[0]},{lo[1]},{hi[0]},{hi[1]}"}).json()
    b = client.get(PATH, params={"bbox": f"{Y0 - 1},{X0 - 1},{Y0 + 70},{X0 + 120}", "bbox-crs": EPSG4550}).json()
    ids = ["b-0-0", "b-0-1", "b-0-2", "b-1-0", "b-1-1", "b-1-2"]
    assert [f["id"] for f in a["features"]] == ids and [f["id"] for f in b["features"]] == ids


def test_get_profile_changes_the_class(client):
    # store buildings are existing (issue 15): both cities put b-8-6 (261 m public) over a new-construction limit,
    # a >= 3M city the strict 250 m limit, a < 3M city the 250 m ban
    big = client.get(PATH, params={"limit": 100, "min_height": 250}).json()
    small = client.get(PATH, params={"limit": 100, "min_height": 250, "profile": "anshan"}).json()
    assert small["city"]["population_class"] == "lt_3m"

    def rules(body: dict) -> set[str]:
        f = next(f for f in body["features"] if f["id"] == "b-8-6")
        assert f["properties"]["verdict"] == "exceeds-new-build-limit"
        return {r["rule"] for r in f["properties"]["reasons"]}

    assert "76.ban.lt3m" in rules(small) and "76.ban.lt3m" not in rules(big) and "76.strict.ge3m" in rules(big)


def test_get_csv(client):
    r = client.get(PATH, params={"f": "csv", "min_height": 250})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == CSV_COLUMNS and len(rows) == 1 + 17
    row = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert row["id"] == "b-8-3" and row["verdict"] == "exceeds-new-build-limit"  # existing (issue 15)
    x, y = float(row["x"]), float(row["y"])
    assert 123 < x < 124 and 41 < y < 42  # centroids in CRS84
    limited = client.get(PATH, params={"f": "csv", "limit": 5})
    assert len(limited.text.strip().splitlines()) == 6 and 'rel="next"' in limited.headers["link"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"verdict": "bad"}, "verdict.0"),
        ({"min_height": -1}, "min_height"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox-crs": "EPSG:9999"}, "bbox-crs"),
        ({"crs": "EPSG:9999"}, "crs"),
        ({"profile": "paris"}, "profile"),
        ({"f": "xml"}, "f"),
    ],
)
def test_get_bad_parameters(client, params, parameter):
    assert_problem(client.get(PATH, params=params), 400, parameter)


# -- POST --------------------------------------------------------------------------------------------------------------


def test_post_proposals(client):
    city_ring = [[Y0 + 100, X0 + 2000], [Y0 + 100, X0 + 2040], [Y0 + 140, X0 + 2040], [Y0 + 140, X0 + 2000]]
    body = {
        "proposals": [
            proposal("a", height=500.0, use="commercial"),
            proposal("b", height=None, floors=27, use="residential", new=False),
            proposal("c", height=101.0, use="mixed"),
            proposal("d", height=99.99, use="public", kind="hospital"),
        ]
    }
    r = client.post(PATH, json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
    doc = HighRiseResponse.model_validate(r.json())
    assert [x.id for x in doc.results] == ["a", "b", "c", "d"]
    a, b, c, d = doc.results
    assert (a.verdict, a.height_class) == ("not-allowed", "ultra-high-rise")
    assert {"76.ban.ge3m", "2020.ban-500"} <= {x.rule for x in a.reasons}
    assert (b.height, b.verdict, b.new) == (81.0, "consult-fire-rescue", False)
    assert c.verdict == "not-allowed" and "76.no-ultra-high-rise-residential" in {x.rule for x in c.reasons}
    assert (d.verdict, d.height_class, d.fire_class) == ("ok", "high-rise", "class-I")
    reason = next(x for x in a.reasons if x.rule == "76.ban.ge3m")
    assert (reason.threshold, reason.inclusive, reason.measured, reason.confidence) == (500.0, True, 500.0, "C")
    assert reason.wording.startswith("城区常住人口300万以上城市") and reason.clause and reason.document
    # the same footprint in the city CRS (EPSG:4550: northing, easting) and a < 3M profile
    r = client.post(
        PATH,
        json={
            "crs": EPSG4550,
            "profile": "anshan",
            "proposals": [
                {
                    "id": "e",
                    "footprint": {"type": "Polygon", "coordinates": [city_ring]},
                    "height": 150.0,
                    "use": "public",
                }
            ],
        },
    )
    e = r.json()["results"][0]
    assert r.json()["city"]["population_class"] == "lt_3m" and e["verdict"] == "restricted"


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"height": None}, "proposals.0.height"),  # neither height nor floors
        ({"height": -5.0}, "proposals.0.height"),
        ({"height": 0}, "proposals.0.height"),
        ({"height": 1000.01}, "proposals.0.height"),
        ({"height": "tall"}, "proposals.0.height"),
        ({"height": None, "floors": 251}, "proposals.0.floors"),
        ({"height": None, "floors": 200, "storey_height": 5.5}, "proposals.0.floors"),  # 1100 m
        ({"storey_height": 0}, "proposals.0.storey_height"),
        ({"use": "hotel"}, "proposals.0.use"),
        ({"use": None}, "proposals.0.use"),
        ({"id": ""}, "proposals.0.id"),
        ({"footprint": {"type": "Point", "coordinates": [123.4, 41.8]}}, "proposals.0.footprint.type"),
        (
            {"footprint": {"type": "Polygon", "coordinates": [[[123.4, 41.8], [123.41, 41.8], [123.4, 41.8]]]}},
            "proposals.0.footprint",
        ),  # two distinct positions
        (
            {
                "footprint": {
                    "type": "Polygon",
                    "coordinates": [[[123.4, 41.8, 1.0, 2.0], [123.41, 41.8], [123.41, 41.81]]],
                }
            },
            "proposals.0.footprint",
        ),
        (
            {
                "footprint": {
                    "type": "Polygon",
                    "coordinates": [
                        [[123.40, 41.80], [123.41, 41.81], [123.41, 41.80], [123.40, 41.81], [123.40, 41.80]]
                    ],
                }
            },
            "proposals.0.footprint",
        ),  # a bow tie: self-intersecting
        ({"extra": 1}, "proposals.0.extra"),
    ],
)
def test_post_bad_proposals(client, change, parameter):
    p = {k: v for k, v in {**proposal(), **change}.items() if not (k == "height" and v is None)}
    body = assert_problem(client.post(PATH, json={"proposals": [p]}), 400, parameter)
    assert parameter.split(".")[-1] in body["detail"] or parameter in body["detail"]


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"proposals": []}, "proposals"),
        ({}, "proposals"),
        ({"crs": "EPSG:9999", "proposals": [proposal()]}, "crs"),
        ({"profile": "paris", "proposals": [proposal()]}, "profile"),
    ],
)
def test_post_bad_requests(client, body, parameter):
    assert_problem(client.post(PATH, json=body), 400, parameter)


def test_post_not_json(client):
    r = client.post(PATH, content=b"not json", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith("application/problem+json")


def test_openapi_documents_the_screening(client):
    doc = client.get("/api").json()
    ops = doc["paths"][PATH]
    assert {"get", "post"} <= set(ops)
    schema = ops["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/HighRiseRequest")
    assert {"verdict", "min_height", "bbox", "bbox-crs", "limit", "offset", "f"} <= {
        p["name"] for p in ops["get"]["parameters"]
    }
    assert "ScreeningResult" in doc["components"]["schemas"] and "Reason" in doc["components"]["schemas"]
    from openapi_spec_validator import validate

    validate(doc)
