"""/sta/v1.1 and /alarms over HTTP (in-process): status codes, headers, problem+json, nothing written on error."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from tests.api.conftest import assert_problem, no_server_errors

from .common import minutes, thing

TOKEN = "sensor-write-token-for-tests-0002"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(tiny_city_path, tmp_path):
    path = tmp_path / "city.sqlite"
    shutil.copy(tiny_city_path, path)
    with TestClient(create_app(Settings(store=str(path), write_tokens=[TOKEN])), raise_server_exceptions=False) as c:
        c.event_hooks["response"].append(no_server_errors)
        yield c


def _count(client) -> int:
    return client.get("/sta/v1.1/Observations", params={"$count": "true", "$top": "0"}).json()["@iot.count"]


def test_create_read_and_alarms_over_http(client):
    root = client.get("/sta/v1.1").json()
    assert (
        "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array" in root["serverSettings"]["conformance"]
    )
    assert {v["name"] for v in root["value"]} >= {"Things", "Datastreams", "Observations", "FeaturesOfInterest"}
    r = client.post("/sta/v1.1/Things", json=thing(thresholds={"low": 2.0, "severity": "critical"}), headers=AUTH)
    assert r.status_code == 201 and r.headers["location"].endswith("/sta/v1.1/Things(1)")
    assert r.json()["@iot.selfLink"] == r.headers["location"]
    rows = [[t, 1.0 if 3 <= i < 6 else 3.0] for i, t in enumerate(minutes(10))]
    r = client.post(
        "/sta/v1.1/CreateObservations",
        json=[{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"], "dataArray": rows}],
        headers=AUTH,
    )
    assert r.status_code == 201 and len(r.json()) == 10 and r.json()[0].endswith("/sta/v1.1/Observations(1)")
    page = client.get("/sta/v1.1/Datastreams(1)/Observations", params={"$filter": "result lt 2", "$select": "result"})
    assert page.json() == {"value": [{"result": 1}, {"result": 1}, {"result": 1}]}
    assert client.get("/sta/v1.1/Things(1)/name/$value").text == "Logger 1"
    fc = client.get("/alarms", params={"active": "false"}).json()
    [f] = fc["features"]
    assert f["geometry"] == {"type": "Point", "coordinates": [123.41, 41.79]}
    assert f["properties"]["severity"] == "critical" and f["properties"]["first"] == "2026-03-01T00:03:00.000Z"
    assert f["properties"]["closed"] == "2026-03-01T00:06:00.000Z" and f["properties"]["feature"] == "pipe-nodes/N-1"
    assert client.get("/alarms", params={"bbox": "123.4,41.7,123.42,41.8"}).json()["numberReturned"] == 1
    assert client.get("/alarms", params={"bbox": "120,30,121,31"}).json()["numberReturned"] == 0
    assert client.get("/alarms", params={"active": "true"}).json()["numberReturned"] == 0
    # PATCH and DELETE
    r = client.patch("/sta/v1.1/Things(1)", json={"name": "Logger one"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["name"] == "Logger one"
    assert client.delete("/sta/v1.1/Datastreams(1)", headers=AUTH).status_code == 200
    assert _count(client) == 0 and client.get("/alarms").json()["features"] == []


def test_bad_requests_are_problems_and_write_nothing(client):
    client.post("/sta/v1.1/Things", json=thing(), headers=AUTH)
    assert_problem(client.get("/sta/v1.1/Things(7)"), 404)
    assert_problem(client.get("/sta/v1.1/Things", params={"$filter": "name eq"}), 400, "$filter")
    assert_problem(client.get("/sta/v1.1/Things", params={"$expand": "Nothing"}), 400, "$expand")
    assert_problem(client.get("/sta/v1.1/Things", params={"$frobnicate": "1"}), 400, "$frobnicate")
    assert_problem(client.get("/alarms", params={"bbox": "1,2,3"}), 400, "bbox")
    # an observation for a missing datastream, a non-numeric result, a malformed body: 4xx, nothing written
    r = client.post("/sta/v1.1/Observations", json={"Datastream": {"@iot.id": 5}, "result": 1.0}, headers=AUTH)
    assert_problem(r, 404)
    r = client.post("/sta/v1.1/Datastreams(1)/Observations", json={"result": "wet"}, headers=AUTH)
    assert_problem(r, 400)
    rows = [["2026-03-01T00:00:00Z", 1.0], ["2026-03-01T00:01:00Z", None]]
    r = client.post(
        "/sta/v1.1/CreateObservations",
        json=[{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"], "dataArray": rows}],
        headers=AUTH,
    )
    assert_problem(r, 400)
    assert_problem(client.post("/sta/v1.1/Things", content=b"{not json", headers=AUTH), 400, "body")
    assert_problem(
        client.post("/sta/v1.1/Things", json={"name": "x", "description": "y", "colour": 1}, headers=AUTH), 400
    )
    assert _count(client) == 0
    assert client.get("/sta/v1.1/Things", params={"$count": "true"}).json()["@iot.count"] == 1
    # writes need the token
    assert client.post("/sta/v1.1/Things", json=thing()).status_code == 401
    assert client.delete("/sta/v1.1/Things(1)").status_code == 401


def test_feature_page_links_its_sensors(client):
    before = client.get("/collections/buildings/items/b-L").json()
    assert "sensors" not in before and all(ln["rel"] != "related" for ln in before["links"])
    client.post("/sta/v1.1/Things", json=thing(feature="buildings/b-L", thresholds={"high": 5.0}), headers=AUTH)
    rows = [[t, v] for t, v in zip(minutes(3), [4.0, 6.5, 7.0], strict=True)]
    client.post(
        "/sta/v1.1/CreateObservations",
        json=[{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"], "dataArray": rows}],
        headers=AUTH,
    )
    doc = client.get("/collections/buildings/items/b-L").json()
    [rel] = [ln for ln in doc["links"] if ln["rel"] == "related"]
    assert rel["href"].endswith("/sta/v1.1/Things(1)")
    [s] = doc["sensors"]
    assert s["datastreams"][0]["latest"] == {"time": "2026-03-01T00:02:00.000Z", "result": 7.0}
    assert s["datastreams"][0]["alarm"] == "warning" and s["datastreams"][0]["unit"] == "bar"
