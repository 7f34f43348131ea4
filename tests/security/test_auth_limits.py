"""Authentication and limits: refused secrets, protected reads, bounded imports and requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.main import create_app
from api.settings import Settings
from cim.io import ImportError_, import_files
from cim.store import open_store

from .. import common
from ..api.conftest import assert_problem
from ..conftest import _free_port, shared_data

GOOD = "a-strong-token-for-the-tests-01"


@pytest.mark.parametrize("tokens", [["dev-token"], ["short"], [GOOD, "dev-token"]])
def test_refuses_default_or_weak_secrets(tiny_city_path, tokens):
    with pytest.raises(ValidationError, match="refusing to start"):
        Settings(store=str(tiny_city_path), write_tokens=tokens)
    Settings(store=str(tiny_city_path), write_tokens=tokens, dev=True)  # development mode allows it


def test_protected_reads_need_a_token_that_exists(tiny_city_path):
    with pytest.raises(ValidationError, match="no read or write token"):
        Settings(store=str(tiny_city_path), protect_reads=True)


def test_server_refuses_to_start_with_the_dev_secret(tiny_city_path):
    env = {**os.environ, "CIM_STORE": str(tiny_city_path), "CIM_WRITE_TOKENS": "dev-token"}
    env.pop("CIM_DEV", None)
    r = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "refusing to start" in r.stderr


def test_protected_reads(tiny_city_path):
    reader = "a-reader-token-for-the-tests-01"
    app = create_app(Settings(store=str(tiny_city_path), protect_reads=True, read_tokens=[reader], write_tokens=[GOOD]))
    with TestClient(app) as c:
        assert_problem(c.get("/collections"), 401)
        assert_problem(c.get("/collections/buildings/items", headers={"Authorization": "Bearer nope"}), 401)
        assert c.get("/collections", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
        assert c.get("/collections", headers={"Authorization": f"Bearer {GOOD}"}).status_code == 200
        assert c.get("/health").status_code == 200  # liveness stays open
        # a read token cannot write
        r = c.post("/imports", files={"files": ("a.geojson", b"{}")}, headers={"Authorization": f"Bearer {reader}"})
        assert_problem(r, 401)


def test_bbox_area_limit(tiny_city_path):
    with TestClient(create_app(Settings(store=str(tiny_city_path), max_bbox_km2=1.0))) as c:
        body = assert_problem(
            c.get("/collections/buildings/items", params={"bbox": "123.0,41.5,123.9,42.0"}), 400, "bbox"
        )
        assert "km²" in body["detail"]
        assert c.get("/collections/buildings/items", params={"bbox": "123.42,41.777,123.425,41.78"}).status_code == 200


def _buildings_geojson(n: int) -> bytes:
    def ring(x: float) -> list[list[float]]:
        return [[x, 41.78], [x + 5e-5, 41.78], [x + 5e-5, 41.78005], [x, 41.78]]

    feats = [
        {
            "type": "Feature",
            "id": f"g{i}",
            "properties": {"height": 10, "ground_z": 45},
            "geometry": {"type": "Polygon", "coordinates": [ring(123.42 + i * 1e-4)]},
        }
        for i in range(n)
    ]
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def test_feature_limit_per_import(tmp_path):
    s = open_store(tmp_path / "c.sqlite", create=True)
    s.init(common.CITY)
    path = tmp_path / "many.geojson"
    path.write_bytes(_buildings_geojson(30))
    with pytest.raises(ImportError_, match="more than 20 features"):
        import_files(s, [path], max_features=20)
    assert s.counts()["buildings"] == 0
    assert import_files(s, [path], max_features=30).counts == {"buildings": 30}


@pytest.mark.shared_data
def test_point_limit_per_file(tmp_path):
    s = open_store(tmp_path / "c.sqlite", create=True)
    s.init(common.CITY.model_copy(update={"crs_epsg": 32610}))
    with pytest.raises(ImportError_, match="110,000 points, more than"):
        import_files(s, [shared_data("terrain", "autzen_trim.las")], max_points=100_000)
    assert s.terrain() is None


def test_analysis_time_limit(sample_city_path):
    """A slow analysis answers 503 problem+json at the limit instead of holding the request."""
    import time

    with TestClient(create_app(Settings(store=str(sample_city_path), analysis_timeout_s=0.05))) as c:
        t = time.perf_counter()
        body = assert_problem(c.get("/analysis/pipe-compliance"), 503)  # the whole city: ~1 s of work
        assert time.perf_counter() - t < 0.9
        assert "time limit" in body["title"].lower()
        assert c.get("/collections/buildings/items").status_code == 200  # other routes have no limit
