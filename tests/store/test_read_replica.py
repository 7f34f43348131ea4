"""Reads from a streaming replica (CIM_STORE_READ): a primary and a hot standby cluster on this machine.

Imports go through one worker's API to the primary; a second worker bound to the replica reads. With
replay paused on the standby, the second worker's /health shows ``read_version`` behind ``version`` and
the new feature is not there yet; once replay resumes, both agree and the feature is served.
"""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.errors import StoreError
from cim.store import open_store

from .. import common
from ..api.conftest import no_server_errors

TOKEN = "replica-test-token-000001"


@pytest.fixture(scope="module")
def clusters():
    from .. import pg

    why = pg.why_unavailable()
    if why:
        pytest.skip(f"PostGIS tests skipped: {why}")
    primary = pg.Cluster()
    store = open_store(f"{primary.url}?schema=city", create=True)
    store.init(common.CITY)
    store.write(common.buildings()[:5])
    store.close()
    standby = pg.Cluster(primary=primary)
    try:
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()


def _wait(cond, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


def _feature(fid: str) -> bytes:
    x, y = common.X0 + 500, common.Y0 + 500
    ring = [[x, y], [x + 10, y], [x + 10, y + 10], [x, y + 10], [x, y]]
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": fid,
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": {"height": 12.0, "ground_elevation": 45.0, "use": "residential"},
                }
            ],
        }
    ).encode()


def test_reads_follow_the_replica(clusters, tmp_path):
    primary, standby = clusters
    main_url = f"{primary.url}?schema=city"
    replica_url = f"{standby.url}?schema=city"
    writer = create_app(Settings(store=main_url, write_tokens=[TOKEN], upload_dir=str(tmp_path / "up")))
    reader = create_app(Settings(store=main_url, store_read=replica_url))
    with TestClient(writer) as w, TestClient(reader) as r, psycopg.connect(standby.url, autocommit=True) as sb:
        w.event_hooks["response"].append(no_server_errors)
        r.event_hooks["response"].append(no_server_errors)
        assert sb.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        assert _wait(lambda: r.get("/health").json()["read_version"] == r.get("/health").json()["version"])
        before = r.get("/health").json()
        assert before["counts"]["buildings"] == 5

        sb.execute("SELECT pg_wal_replay_pause()")
        resp = w.post(
            "/imports",
            files=[("files", ("new.geojson", _feature("B-NEW-1")))],
            data={"wait": "true", "crs": "EPSG:4550"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert resp.status_code in (200, 201, 202), resp.text
        assert w.get("/collections/buildings/items/B-NEW-1").status_code == 200
        lagging = r.get("/health").json()
        assert lagging["version"] == before["version"] + 1  # the primary's
        assert lagging["read_version"] == before["version"]  # the replica has not replayed it
        assert lagging["counts"]["buildings"] == 5
        assert r.get("/collections/buildings/items/B-NEW-1").status_code == 404

        sb.execute("SELECT pg_wal_replay_resume()")
        assert _wait(lambda: r.get("/health").json()["read_version"] == lagging["version"])
        assert r.get("/collections/buildings/items/B-NEW-1").status_code == 200
        assert r.get("/health").json()["counts"]["buildings"] == 6


def test_a_replica_needs_postgis(tmp_path):
    path = tmp_path / "c.sqlite"
    open_store(path, create=True).init(common.CITY)
    with pytest.raises(StoreError, match="PostGIS"):
        open_store(path, read_url="postgresql://x@127.0.0.1:1/db")
