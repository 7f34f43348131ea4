"""A real server killed with SIGKILL in the middle of an import: the store opens, passes its
integrity checks and holds all of that import or none of it; the job reads as interrupted."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from cim.store import open_store

from .. import common
from ..conftest import Server

TOKEN = "crash-test-token-0123456789"
N = 40_000


def big_geojson() -> bytes:
    feats = []
    for i in range(N):
        x, y = 123.30 + (i % 200) * 1e-3, 41.70 + (i // 200) * 1e-3
        feats.append(
            {
                "type": "Feature",
                "id": f"k{i}",
                "properties": {"height": 3 + i % 90, "ground_z": 45.0},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[x, y], [x + 5e-4, y], [x + 5e-4, y + 5e-4], [x, y + 5e-4], [x, y]]],
                },
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


@pytest.mark.parametrize("delay", [0.3, 1.5, "writing"])
def test_sigkill_during_import(tmp_path, delay):
    """``delay``: seconds after the upload, or "writing": as soon as the job reports its store write."""
    path = tmp_path / "city.sqlite"
    s = open_store(path, create=True)
    s.init(common.CITY)
    s.write(common.all_features())
    before = s.counts()["buildings"]
    s.close()
    body = big_geojson()
    server = Server(path, CIM_WRITE_TOKENS=TOKEN)
    try:
        r = httpx.post(
            f"{server.url}/imports",
            files={"files": ("big.geojson", body)},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=120,
        )
        assert r.status_code == 202
        job_url = r.headers["location"].replace(server.url, "")
        if delay == "writing":
            deadline = time.monotonic() + 60
            while httpx.get(server.url + job_url, timeout=10).json().get("stage") != "writing":
                assert time.monotonic() < deadline, "the import never reached its write"
                time.sleep(0.01)
        else:
            time.sleep(delay)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)
    finally:
        server.stop()
    s = open_store(path)
    assert s.integrity_check()
    after = s.counts()["buildings"]
    assert after in (before, before + N), after
    print(f"delay {delay}: {'all' if after > before else 'none'} of the import landed")
    s.close()
    server = Server(path, CIM_WRITE_TOKENS=TOKEN)
    try:
        job = httpx.get(server.url + job_url, timeout=30).json()
        if after == before:
            assert job["status"] == "failed" and job["error"]["title"] == "Import interrupted"
        else:
            assert job["status"] in ("succeeded", "failed")  # killed after the commit, maybe before the job update
    finally:
        server.stop()
