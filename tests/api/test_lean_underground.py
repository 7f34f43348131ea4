"""The lean path of POST /analysis/underground-use (api.lean) answers as the framework's route does.

Two apps on the same store, one with the lean path (the default) and one without (``lean_routes=False``): the same
status, content type and JSON for answers and for every kind of bad request, on SQLite (regions on the event loop
and, past its limit, in the thread pool) and on PostGIS (thread pool); and the lean path is the one that answered.
"""

from __future__ import annotations

import uuid

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

import api.lean
from api.main import create_app
from api.settings import Settings
from cim.analysis.solids import UNDERGROUND
from cim.crs import city_to_lonlat, epsg_uri
from cim.store import open_store

from .conftest import no_server_errors


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def store_url(request, sample_city_path):
    if request.param == "sqlite":
        yield str(sample_city_path)
        return
    src = open_store(sample_city_path)
    cluster = request.getfixturevalue("pg_cluster")
    url = f"{cluster.url}?schema=lean_{uuid.uuid4().hex[:10]}"
    dst = open_store(url, create=True)
    dst.init(src.city())
    dst.write([f for cid in UNDERGROUND for f in src.iter_features(cid)], terrain=src.terrain())
    src.close()
    dst.close()
    yield url


@pytest.fixture(scope="module")
def clients(store_url):
    with (
        TestClient(create_app(Settings(store=store_url)), raise_server_exceptions=False) as lean,
        TestClient(create_app(Settings(store=store_url, lean_routes=False)), raise_server_exceptions=False) as route,
    ):
        for c in (lean, route):
            c.event_hooks["response"].append(no_server_errors)
        yield lean, route


def _bodies(store_url: str) -> list[dict]:
    store = open_store(store_url)
    try:
        x0, y0, _, x1, y1, _ = store.bounds("pipes")
        epsg = store.city().crs_epsg
    finally:
        store.close()
    rng = np.random.default_rng(8)
    out: list[dict] = []
    for size in (150, 200, 420, 700):  # 420 m and 700 m: past the event loop's limit, in the thread pool
        x, y = rng.uniform(x0, x1 - size), rng.uniform(y0, y1 - size)
        ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
        lonlat = city_to_lonlat(np.array(ring), epsg).tolist()
        out.append({"region": {"type": "Polygon", "coordinates": [lonlat]}})
        crs = epsg_uri(epsg)
        out.append(
            {
                "region": {"type": "Polygon", "coordinates": [[[p[1], p[0]] for p in ring]]},
                "crs": crs,
                "bands": [[0, 3], [3, 15]],
            }
        )
        out.append({"region": {"type": "Polygon", "coordinates": [lonlat]}, "z_min": 20.0, "z_max": 40.0})
    return out


BAD = [
    b'{"region": null}',
    b'{"region": {"type": "Polygon", "coordinates": []}}',
    b'{"unknown": 1}',
    b'{"bands": [[15, 30], [0, 15]], "region": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}',
    b'{"z_min": 10, "z_max": 5}',
    b'{"crs": "not a crs"}',
    b"not json",
    b'{"region": {"type": "Polygon", "coordinates": [[[NaN, 0], [1, 0], [1, 1], [0, 0]]]}}',
    b"",
]


def test_answers_equal_the_route(clients, store_url, monkeypatch):
    lean, route = clients
    calls: list[int] = []
    real = api.lean.run_json
    monkeypatch.setattr(api.lean, "run_json", lambda *a: calls.append(1) or real(*a))
    features = 0
    for body in _bodies(store_url):
        a, b = lean.post("/analysis/underground-use", json=body), route.post("/analysis/underground-use", json=body)
        assert a.status_code == b.status_code == 200, (a.text[:300], b.text[:300])
        assert a.headers["content-type"] == b.headers["content-type"] == "application/json"
        assert int(a.headers["content-length"]) == len(a.content)
        assert orjson.loads(a.content) == orjson.loads(b.content)
        features += sum(len(band["features"]) for band in orjson.loads(a.content)["bands"])
    assert len(calls) == len(_bodies(store_url)) and features > 100  # the lean path answered, with volumes


def test_errors_equal_the_route(clients):
    lean, route = clients
    for raw in BAD:
        for ctype in ("application/json", "text/plain"):
            h = {"Content-Type": ctype}
            a = lean.post("/analysis/underground-use", content=raw, headers=h)
            b = route.post("/analysis/underground-use", content=raw, headers=h)
            assert a.status_code == b.status_code and 400 <= a.status_code < 500, (raw, a.status_code, b.status_code)
            assert a.headers["content-type"] == b.headers["content-type"]
            assert a.json() == b.json(), raw
