"""OGC API - Processes - Part 1: Core over every registered analysis: descriptions, synchronous and
asynchronous execution (jobs in the store), and the answers equal to ``/analysis/{id}``."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from api.main import create_app
from api.settings import Settings
from cim.analysis import registry
from cim.analysis.processes import CONFORMANCE, EXCEPTIONS
from cim.crs import epsg_uri
from tests.common import X0, Y0

from .conftest import assert_problem, no_server_errors

CITY_CRS = epsg_uri(4550)


def square(x0: float, y0: float, x1: float, y1: float) -> dict:
    """A box in local metres as a GeoJSON Polygon in EPSG:4550's axis order (northing, easting)."""
    ring = [[Y0 + y, X0 + x] for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
    return {"type": "Polygon", "coordinates": [ring]}


#: one request per built-in analysis, answered by the tiny test city
REQUESTS: dict[str, dict] = {
    "underground-use": {"region": square(0, 0, 200, 200), "crs": CITY_CRS, "bands": [[0, 5], [5, 20]]},
    "excavation": {"region": square(40, 40, 120, 120), "crs": CITY_CRS, "depth": 6, "buffer": 2},
    "pipe-compliance": {"crs": CITY_CRS},
    "high-rise": {
        "crs": CITY_CRS,
        "proposals": [
            {"id": "p1", "footprint": square(600, 600, 640, 630), "height": 120, "use": "residential"},
            {"id": "p2", "footprint": square(700, 600, 720, 620), "floors": 8, "use": "commercial"},
        ],
    },
}


@pytest.fixture(scope="module")
def client(tiny_city_path):
    app = create_app(Settings(store=str(tiny_city_path)))
    with TestClient(app, raise_server_exceptions=False) as c:
        c.event_hooks["response"].append(no_server_errors)
        yield c


def direct(client, pid: str, body: dict) -> dict:
    """The answer of the analysis's own route, ``/analysis/{id}``."""
    a = registry.get(pid)
    if a.method == "GET":
        r = client.get(f"/analysis/{pid}", params=body)
    else:
        r = client.post(f"/analysis/{pid}", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(client, url: str, timeout: float = 60.0) -> dict:
    """Poll a job's status until it has ended."""
    end = time.monotonic() + timeout
    while True:
        info = client.get(url).json()
        if info["status"] in ("successful", "failed", "dismissed") or time.monotonic() > end:
            return info
        time.sleep(0.05)


def test_landing_and_conformance(client):
    rels = {link["rel"]: link["href"] for link in client.get("/").json()["links"]}
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/processes"].endswith("/processes")
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/job-list"].endswith("/jobs")
    conf = client.get("/conformance").json()["conformsTo"]
    for c in ("core", "ogc-process-description", "json", "job-list"):
        assert f"http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/{c}" in conf
    assert set(CONFORMANCE) <= set(conf)


def test_every_analysis_is_a_process_with_inputs_and_outputs(client):
    listed = {p["id"]: p for p in client.get("/processes").json()["processes"]}
    assert set(registry.analyses()) <= set(listed)
    assert set(REQUESTS) <= set(listed)
    for pid in registry.analyses():
        assert listed[pid]["jobControlOptions"] == ["sync-execute", "async-execute"]
        d = client.get(f"/processes/{pid}").json()
        assert d["id"] == pid and d["title"] and d["inputs"] and d["outputs"]["result"]["schema"]
        fields = registry.get(pid).request.model_fields
        aliases = {(f.alias or name) for name, f in fields.items()}
        assert set(d["inputs"]) == aliases
        for name, f in fields.items():
            inp = d["inputs"][f.alias or name]
            assert inp["minOccurs"] == (1 if f.is_required() else 0)
            assert "$ref" not in str(inp["schema"])  # self-contained
    ug = client.get("/processes/underground-use").json()
    assert ug["inputs"]["region"]["schema"]["properties"]["type"]["const"] == "Polygon"
    assert ug["inputs"]["bands"]["minOccurs"] == 0
    out = ug["outputs"]["result"]["schema"]
    assert "bands" in out["properties"] and out["contentMediaType"] == "application/json"
    pc = client.get("/processes/pipe-compliance").json()
    assert "bbox-crs" in pc["inputs"]
    assert pc["outputs"]["result"]["schema"]["properties"]["type"]["const"] == "FeatureCollection"


@pytest.mark.parametrize("pid", sorted(REQUESTS))
def test_sync_and_async_equal_the_analysis_route(client, pid):
    body = REQUESTS[pid]
    want = direct(client, pid, body)
    assert want  # a real answer
    raw = client.post(f"/processes/{pid}/execution", json={"inputs": body})
    assert raw.status_code == 200, raw.text
    assert raw.json() == want
    doc = client.post(
        f"/processes/{pid}/execution", json={"inputs": body, "response": "document"}, headers={"Prefer": "respond-sync"}
    )
    assert doc.json() == {"result": want}
    assert doc.headers["preference-applied"] == "respond-sync"

    r = client.post(f"/processes/{pid}/execution", json={"inputs": body}, headers={"Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    assert r.headers["preference-applied"] == "respond-async"
    loc = r.headers["location"]
    job_id = r.json()["jobID"]
    assert loc.endswith(f"/jobs/{job_id}") and r.json()["status"] in ("accepted", "running", "successful")
    info = wait_for(client, loc)
    assert info["status"] == "successful", info
    assert info["processID"] == pid and info["type"] == "process"
    results_link = next(link["href"] for link in info["links"] if link["rel"].endswith("/results"))
    got = client.get(results_link)
    assert got.status_code == 200
    assert got.json() == {"result": want}
    assert job_id in [j["jobID"] for j in client.get("/jobs").json()["jobs"]]


def test_answers_are_not_trivial(client):
    ug = direct(client, "underground-use", REQUESTS["underground-use"])
    assert ug["area"] == pytest.approx(40_000, rel=1e-6)  # 200 m x 200 m
    assert [b["bottom"] for b in ug["bands"]] == [5, 20]
    hr = direct(client, "high-rise", REQUESTS["high-rise"])
    assert [r["id"] for r in hr["results"]] == ["p1", "p2"]
    assert hr["results"][1]["height"] == pytest.approx(24.0)  # 8 floors x 3 m


def test_errors(client):
    r = client.get("/processes/nope")
    assert r.status_code == 404 and r.json()["type"] == EXCEPTIONS + "no-such-process"
    r = client.post("/processes/nope/execution", json={"inputs": {}})
    assert r.status_code == 404 and r.json()["type"] == EXCEPTIONS + "no-such-process"
    r = client.get("/jobs/nope")
    assert r.status_code == 404 and r.json()["type"] == EXCEPTIONS + "no-such-job"
    assert client.get("/jobs/nope/results").status_code == 404
    bad = {**REQUESTS["excavation"], "buffer": -1}
    assert_problem(client.post("/processes/excavation/execution", json={"inputs": bad}), 400, "buffer")
    assert_problem(
        client.post("/processes/excavation/execution", json={"inputs": bad}, headers={"Prefer": "respond-async"}),
        400,
        "buffer",
    )
    assert_problem(
        client.post(
            "/processes/excavation/execution",
            json={"inputs": REQUESTS["excavation"], "outputs": {"result": {"format": {"mediaType": "text/csv"}}}},
        ),
        400,
        "outputs.result.format.mediaType",
    )


def test_failed_job_reports_the_library_error(client):
    # a region over the service's area limit (4 km²) passes validation and fails in the analysis
    big = {"region": square(0, 0, 3000, 3000), "crs": CITY_CRS}
    r = client.post("/processes/underground-use/execution", json={"inputs": big}, headers={"Prefer": "respond-async"})
    assert r.status_code == 201
    info = wait_for(client, r.headers["location"])
    assert info["status"] == "failed" and "km²" in info["message"]
    res = client.get(f"/jobs/{info['jobID']}/results")
    assert res.status_code == 400 and res.json()["parameter"] == "region"
    assert_problem(client.post("/processes/underground-use/execution", json={"inputs": big}), 400, "region")


# -- a slow toy analysis: the time limit and the thread cap -------------------------------------------------------
class NapRequest(BaseModel):
    seconds: float = Field(ge=0, le=10, description="How long to sleep.")


class NapResult(BaseModel):
    slept: float


def _nap(city, req: NapRequest) -> NapResult:
    time.sleep(req.seconds)
    return NapResult(slept=req.seconds)


NAP = registry.Analysis(
    id="toy-nap", title="Toy: sleep", description="Sleeps.", request=NapRequest, result=NapResult, run=_nap
)


@pytest.fixture
def nap_client(tiny_city_path):
    registry.register(NAP)
    app = create_app(Settings(store=str(tiny_city_path), analysis_timeout_s=0.6, threads=1))
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            yield c
    finally:
        registry.unregister(NAP.id)


def test_job_past_the_time_limit_fails_and_jobs_wait_for_a_thread(nap_client):
    c = nap_client
    slow = c.post(
        "/processes/toy-nap/execution", json={"inputs": {"seconds": 1.5}}, headers={"Prefer": "respond-async"}
    )
    quick = c.post("/processes/toy-nap/execution", json={"inputs": {"seconds": 0}}, headers={"Prefer": "respond-async"})
    time.sleep(0.3)
    # one thread: the quick job waits while the slow one runs
    assert c.get(slow.headers["location"]).json()["status"] == "running"
    assert c.get(quick.headers["location"]).json()["status"] == "accepted"
    info = wait_for(c, slow.headers["location"])
    assert info["status"] == "failed" and "CIM_ANALYSIS_TIMEOUT_S" in info["message"]
    assert c.get(f"/jobs/{info['jobID']}/results").status_code == 503
    done = wait_for(c, quick.headers["location"])
    assert done["status"] == "successful"  # it ran once the slow one's thread ended
    assert c.get(f"/jobs/{done['jobID']}/results").json() == {"result": {"slept": 0.0}}
    # synchronous execution is under the same limit (503 problem+json)
    r = c.post("/processes/toy-nap/execution", json={"inputs": {"seconds": 1.5}})
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
