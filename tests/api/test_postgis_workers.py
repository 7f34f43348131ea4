"""Several uvicorn workers on one PostGIS: concurrent imports and reads lose nothing and double nothing."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from pyproj import Transformer

from cim.store import open_store

from .. import common
from ..conftest import Server

TOKEN = "workers-token-for-tests-0001"
N_FILES, PER_FILE = 8, 150


def geojson_buildings(k: int) -> bytes:
    """A GeoJSON file of PER_FILE 10 m squares (CRS84), ids f<k>-<i>, in a row of their own."""
    fwd = Transformer.from_crs(4550, 4326, always_xy=True)
    feats = []
    for i in range(PER_FILE):
        x, y = common.X0 + 15 * i, common.Y0 + 2000 + 30 * k
        ring = [fwd.transform(px, py) for px, py in [(x, y), (x + 10, y), (x + 10, y + 10), (x, y + 10), (x, y)]]
        feats.append(
            {
                "type": "Feature",
                "id": f"f{k}-{i}",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"height": 3.0 + i, "ground_z": 45.0},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


@pytest.fixture
def pg_url(pg_cluster):
    url = f"{pg_cluster.url}?schema=workers"
    s = open_store(url, create=True)
    s.init(common.CITY, overwrite=True)
    s.write(common.all_features())
    s.close()
    return url


def test_four_workers_concurrent_imports_and_reads(pg_url):
    server = Server(pg_url, workers=4, CIM_WRITE_TOKENS=TOKEN)
    try:

        def do_import(k: int) -> dict:
            with httpx.Client(base_url=server.url, timeout=120) as http:
                r = http.post(
                    "/imports",
                    files={"files": (f"rows{k}.geojson", geojson_buildings(k))},
                    data={"wait": "true"},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                assert r.status_code == 202, r.text
                # the job may be read back through any worker
                return http.get(r.headers["location"]).json()

        def do_reads(k: int) -> list[int]:
            statuses = []
            with httpx.Client(base_url=server.url, timeout=60) as http:
                for j in range(15):
                    r = http.get("/collections/buildings/items", params={"limit": 50, "offset": 10 * j})
                    statuses.append(r.status_code)
                    body = r.json()
                    ids = [f["id"] for f in body["features"]]
                    assert len(ids) == len(set(ids))
            return statuses

        with ThreadPoolExecutor(max_workers=12) as pool:
            imports = [pool.submit(do_import, k) for k in range(N_FILES)]
            reads = [pool.submit(do_reads, k) for k in range(4)]
            jobs = [f.result() for f in imports]
            statuses = [s for f in reads for s in f.result()]
        assert all(j["status"] == "succeeded" for j in jobs), jobs
        assert set(statuses) == {200}
        with httpx.Client(base_url=server.url, timeout=60) as http:
            seen, url = [], "/collections/buildings/items?limit=1000"
            while url:
                body = http.get(url).json()
                seen += [f["id"] for f in body["features"]]
                url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        expected = {b.id for b in common.buildings()} | {f"f{k}-{i}" for k in range(N_FILES) for i in range(PER_FILE)}
        assert len(seen) == len(set(seen)) == len(expected)
        assert set(seen) == expected
    finally:
        server.stop()
