"""/analysis/underground-use, /analysis/excavation, /analysis/pipe-compliance over HTTP (in-process)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.crs import CRS84, city_to_lonlat, epsg_uri
from cim.store import open_store
from tests.analysis.underground_cases import GROUND, basement, flat_terrain, manhole, pipe
from tests.common import CITY, X0, Y0

from .conftest import assert_problem, no_server_errors

CITY_CRS = epsg_uri(4550)


@pytest.fixture(scope="module")
def ug_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("ug") / "ug.sqlite"
    s = open_store(path, create=True)
    s.init(CITY)
    s.write(
        [
            pipe("w", [(20, 50, GROUND - 2), (120, 50, GROUND - 2)], 0.6, "water", lane="footway"),
            pipe("g", [(20, 60, GROUND - 2), (120, 60, GROUND - 2)], 0.2, "gas", lane="footway", pressure_class="low"),
            basement("b", 10, 110, 20, 30, GROUND, GROUND - 20.0),
            manhole("m", 150, 150, 4.0, 1.2),
        ],
        terrain=flat_terrain(),
    )
    s.close()
    return path


def _client(path, **settings):
    app = create_app(Settings(store=str(path), **settings))
    c = TestClient(app, raise_server_exceptions=False)
    c.event_hooks["response"].append(no_server_errors)
    return c


@pytest.fixture(scope="module")
def client(ug_path):
    with _client(ug_path, max_analysis_area_km2=1.0) as c:
        yield c


def ring(x0: float, y0: float, x1: float, y1: float, crs: str = CRS84) -> list[list[float]]:
    """A closed box ring given in local metres, written in ``crs`` (its axis order)."""
    xy = np.array([[X0 + x0, Y0 + y0], [X0 + x1, Y0 + y0], [X0 + x1, Y0 + y1], [X0 + x0, Y0 + y1], [X0 + x0, Y0 + y0]])
    if crs == CITY_CRS:
        return xy[:, ::-1].tolist()  # EPSG:4550 is northing, easting
    return city_to_lonlat(xy, 4550).tolist()


def region(*box, crs: str = CRS84) -> dict:
    return {"type": "Polygon", "coordinates": [ring(*box, crs=crs)]}


def test_underground_use(client):
    r = client.post("/analysis/underground-use", json={"region": region(0, 0, 200, 200)})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert [(b["top"], b["bottom"]) for b in body["bands"]] == [(0, 15), (15, 30), (30, 50), (50, 100)]
    first = body["bands"][0]
    assert set(first) == {
        "reference",
        "top",
        "bottom",
        "soil_volume",
        "occupied_volume",
        "ratio",
        "by_category",
        "features",
    }
    vols = {f["id"]: f for f in first["features"]}
    assert vols["w"]["volume"] == pytest.approx(math.pi * 0.09 * 100, rel=5e-3)
    assert vols["w"]["collection"] == "pipes" and vols["w"]["category"] == "water"
    assert vols["b"]["volume"] == pytest.approx(20 * 30 * 15, rel=1e-6) and vols["m"]["category"] == "manhole"
    assert first["soil_volume"] == pytest.approx(body["area"] * 15) and body["area"] == pytest.approx(40000, rel=1e-3)
    assert body["bands"][1]["by_category"] == pytest.approx({"basement": 20 * 30 * 5})
    # the city CRS in its own axis order, custom bands, and absolute elevations
    r = client.post(
        "/analysis/underground-use",
        json={"region": region(0, 0, 200, 200, crs=CITY_CRS), "crs": CITY_CRS, "bands": [[0, 2], [2, 3]]},
    )
    b = r.json()["bands"]
    assert {f["id"]: f["volume"] for f in b[1]["features"]}["w"] == pytest.approx(math.pi * 0.09 * 100 / 2, rel=1e-6)
    assert r.json()["area"] == pytest.approx(40000, abs=1e-6)
    r = client.post(
        "/analysis/underground-use", json={"region": region(0, 0, 200, 200), "z_min": GROUND - 2, "z_max": GROUND}
    )
    assert r.json()["bands"][0]["reference"] == "elevation"


def test_excavation(client):
    r = client.post("/analysis/excavation", json={"region": region(60, 40, 80, 56), "depth": 3, "buffer": 5})
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{CRS84}>"
    hits = {h["id"]: h for h in r.json()["hits"]}
    assert set(hits) == {"w", "g"}
    assert hits["w"]["distance"] == 0 and hits["w"]["severity"] == "high"
    assert hits["g"]["distance"] == pytest.approx(4 - 0.1, abs=1e-3) and hits["g"]["severity"] == "high"
    assert hits["w"]["depth"] == pytest.approx(2.0) and hits["w"]["utility"] == "water"
    lon, lat = hits["w"]["location"]
    assert 123 < lon < 124 and 41 < lat < 42
    r = client.post(
        "/analysis/excavation",
        json={"region": region(60, 40, 80, 56, crs=CITY_CRS), "crs": CITY_CRS, "bottom_z": GROUND - 1.0, "buffer": 0.8},
    )
    hits = r.json()["hits"]
    assert r.headers["content-crs"] == f"<{CITY_CRS}>" and [h["id"] for h in hits] == ["w"]
    assert hits[0]["distance"] == pytest.approx(0.7, abs=1e-3)
    northing, easting = hits[0]["location"]
    assert northing == pytest.approx(Y0 + 50, abs=1e-3) and X0 + 60 <= easting <= X0 + 80


BAD = [
    ("/analysis/underground-use", {"region": {"type": "Polygon", "coordinates": []}}, "region.coordinates"),
    (
        "/analysis/underground-use",
        {
            "region": {
                "type": "Polygon",
                "coordinates": [[[123.4, 41.8], [123.41, 41.81], [123.41, 41.8], [123.4, 41.81], [123.4, 41.8]]],
            }
        },
        "region",
    ),
    ("/analysis/underground-use", {"region": {"type": "Polygon", "coordinates": [[[123.4, 41.8]] * 4]}}, "region"),
    ("/analysis/underground-use", {"region": {"type": "Point", "coordinates": [123.4, 41.8]}}, "region.type"),
    ("/analysis/underground-use", {"region": None}, "region"),
    ("/analysis/underground-use", {"bands": [[15, 30], [0, 15]]}, "bands"),
    ("/analysis/underground-use", {"bands": [[0, 15], [10, 30]]}, "bands"),
    ("/analysis/underground-use", {"bands": [[0, 15, 30]]}, "bands.0"),
    ("/analysis/underground-use", {"bands": [[-5, 15]]}, "bands"),
    ("/analysis/underground-use", {"bands": [[0, 15]], "z_min": 1, "z_max": 2}, "bands"),
    ("/analysis/underground-use", {"z_min": 10, "z_max": 5}, "z_min"),
    ("/analysis/underground-use", {"z_min": 10}, "z_max"),
    ("/analysis/underground-use", {"crs": "http://www.opengis.net/def/crs/EPSG/0/9999"}, "crs"),
    ("/analysis/underground-use", {"crs": "not a crs"}, "crs"),
    ("/analysis/underground-use", {"region": region(0, 0, 1100, 1000)}, "region"),  # 1.1 km² > 1 km²
    ("/analysis/underground-use", {"unknown": 1}, "unknown"),
    ("/analysis/excavation", {"depth": -3}, "depth"),
    ("/analysis/excavation", {"depth": 0}, "depth"),
    ("/analysis/excavation", {}, "depth"),
    ("/analysis/excavation", {"depth": 3, "bottom_z": 40}, "depth"),
    ("/analysis/excavation", {"depth": 3, "buffer": -1}, "buffer"),
    ("/analysis/excavation", {"depth": 3, "crs": "EPSG:1234567"}, "crs"),
]


@pytest.mark.parametrize(("path", "body", "parameter"), BAD)
def test_bad_input_is_a_problem_naming_the_field(client, path, body, parameter):
    r = client.post(path, json={"region": region(0, 0, 100, 100), **body})
    assert_problem(r, 400, parameter)


def test_malformed_json_body(client):
    r = client.post("/analysis/underground-use", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")


@pytest.fixture(scope="module")
def sample_client(sample_city_path):
    with _client(sample_city_path) as c:
        yield c


def test_pipe_compliance_on_the_sample_city(sample_client):
    r = sample_client.get("/analysis/pipe-compliance")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["type"] == "FeatureCollection" and body["numberMatched"] == 8 == len(body["features"])
    assert body["counts"]["compartment"] == 2 and body["counts"]["cover"] == 2
    f = next(x for x in body["features"] if x["id"] == "cover:P-WAT-V1")
    p = f["properties"]
    assert p["rule"] == "cover.frost" and p["clause"] == "§4.1.1" and p["confidence"] == "S"
    assert p["measured"] == pytest.approx(0.45) and p["required"] == pytest.approx(1.2)
    assert p["features"] == [{"id": "P-WAT-V1", "collection": "pipes"}]
    lon, lat, z = f["geometry"]["coordinates"]
    assert 123 < lon < 124 and 41 < lat < 42 and 30 < z < 60
    # a bbox around V1 only, answered in the city CRS (northing, easting)
    line = sample_client.get("/collections/pipes/items/P-WAT-V1?crs=" + CITY_CRS).json()["geometry"]["coordinates"]
    (n0, e0, _), (n1, e1, _) = line[0], line[-1]
    bbox = f"{min(n0, n1) - 5},{min(e0, e1) - 5},{max(n0, n1) + 5},{max(e0, e1) + 5}"
    r = sample_client.get(f"/analysis/pipe-compliance?bbox={bbox}&bbox-crs={CITY_CRS}&crs={CITY_CRS}")
    body = r.json()
    assert [x["id"] for x in body["features"]] == ["cover:P-WAT-V1"] and r.headers["content-crs"] == f"<{CITY_CRS}>"
    n, e, _ = body["features"][0]["geometry"]["coordinates"]
    assert min(n0, n1) - 1 < n < max(n0, n1) + 1 and min(e0, e1) - 1 < e < max(e0, e1) + 1


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("bbox=1,2,3", "bbox"),
        ("bbox=123.3,41.7,123.5,41.9", "bbox"),
        ("bbox-crs=EPSG:9999", "bbox-crs"),
        ("crs=foo", "crs"),
    ],
)
def test_pipe_compliance_bad_input(sample_client, query, parameter):
    assert_problem(sample_client.get(f"/analysis/pipe-compliance?{query}"), 400, parameter)


def test_openapi_documents_the_analyses(client):
    doc = client.get("/api").json()
    for path in ("/analysis/underground-use", "/analysis/excavation", "/analysis/pipe-compliance"):
        assert path in doc["paths"]
    schemas = doc["components"]["schemas"]
    assert {
        "UndergroundUseRequest",
        "ExcavationRequest",
        "UndergroundUse",
        "BandUse",
        "Excavation",
        "ComplianceCollection",
    } <= set(schemas)
    from openapi_spec_validator import validate

    validate(doc)
