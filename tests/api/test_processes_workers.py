"""OGC API - Processes jobs with several uvicorn workers on one PostGIS: a job accepted by one worker is
answered by any (status, list, results), because jobs live in the store."""

from __future__ import annotations

import time

import httpx
import pytest

from cim.store import open_store

from .. import common
from ..conftest import Server

CITY_CRS = "http://www.opengis.net/def/crs/EPSG/0/4550"


@pytest.fixture
def pg_url(pg_cluster):
    url = f"{pg_cluster.url}?schema=processes"
    s = open_store(url, create=True)
    s.init(common.CITY, overwrite=True)
    s.write(common.all_features(), terrain=common.terrain())
    s.close()
    return url


def fresh(server: Server, method: str, path: str, **kw) -> httpx.Response:
    """One request on a new connection (the workers share the socket: any of them may take it)."""
    with httpx.Client(base_url=server.url, timeout=60) as http:
        return http.request(method, path, **kw)


def test_jobs_are_answered_by_any_worker(pg_url):
    server = Server(pg_url, workers=3)
    try:
        want = fresh(server, "GET", "/analysis/pipe-compliance", params={"crs": CITY_CRS}).json()
        assert want["type"] == "FeatureCollection" and want["numberMatched"] > 0
        ids = []
        for _ in range(4):
            r = fresh(
                server,
                "POST",
                "/processes/pipe-compliance/execution",
                json={"inputs": {"crs": CITY_CRS}},
                headers={"Prefer": "respond-async"},
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["jobID"])
        end = time.monotonic() + 120
        done: dict[str, str] = {}
        polls = 0
        while len(done) < len(ids) and time.monotonic() < end:
            for job_id in ids:
                status = fresh(server, "GET", f"/jobs/{job_id}")
                polls += 1
                assert status.status_code == 200, status.text  # never "no such job", whichever worker answers
                if status.json()["status"] in ("successful", "failed"):
                    done[job_id] = status.json()["status"]
            time.sleep(0.1)
        assert done == {j: "successful" for j in ids}
        assert polls >= len(ids)
        listed = [j["jobID"] for j in fresh(server, "GET", "/jobs").json()["jobs"]]
        assert set(ids) <= set(listed)
        for job_id in ids:
            assert fresh(server, "GET", f"/jobs/{job_id}/results").json() == {"result": want}
    finally:
        server.stop()
