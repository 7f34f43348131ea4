"""POST /imports and GET /imports/{id}: authentication, all-or-nothing, errors that point at the fault."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.store import open_store

from .. import common
from .conftest import assert_problem, no_server_errors

TOKEN = "s3cret-token-for-tests-0001"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def city(tmp_path):
    path = tmp_path / "c.sqlite"
    s = open_store(path, create=True)
    s.init(common.CITY)
    s.write(common.buildings()[:3])
    s.close()
    return path


@pytest.fixture
def client(city, tmp_path):
    app = create_app(Settings(store=str(city), write_tokens=[TOKEN], upload_dir=str(tmp_path / "up")))
    with TestClient(app, raise_server_exceptions=False) as c:
        c.event_hooks["response"].append(no_server_errors)
        yield c


def snapshot(client):
    store = client.app.state.store
    return store.counts(), store.version()


def post(client, files, headers=AUTH, **form):
    return client.post("/imports", files=[("files", f) for f in files], data={"wait": "true", **form}, headers=headers)


def test_needs_a_token(client):
    before = snapshot(client)
    r = post(client, [("a.geojson", b"{}")], headers={})
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_problem(post(client, [("a.geojson", b"{}")], headers={"Authorization": "Bearer wrong"}), 401)
    assert_problem(post(client, [("a.geojson", b"{}")], headers={"Authorization": "Basic abc"}), 401)
    assert snapshot(client) == before


def test_writes_disabled_without_tokens(city):
    with TestClient(create_app(Settings(store=str(city)))) as c:
        body = assert_problem(c.post("/imports", files=[("files", ("a.json", b"{}"))], headers=AUTH), 403)
        assert "CIM_WRITE_TOKENS" in body["detail"]


def test_dev_mode_token(city):
    with TestClient(create_app(Settings(store=str(city), dev=True))) as c:
        r = c.post(
            "/imports",
            files=[("files", ("empty.geojson", b""))],
            data={"wait": "true"},
            headers={"Authorization": "Bearer dev-token"},
        )
        assert r.status_code == 202


def test_empty_file_fails_cleanly_and_names_it(client):
    before = snapshot(client)
    r = post(client, [("roads.geojson", b"   \n")])
    assert r.status_code == 202
    job = client.get(r.headers["location"]).json()
    assert job["status"] == "failed"
    assert job["error"]["file"] == "roads.geojson" and "empty" in job["error"]["detail"]
    assert snapshot(client)[0] == before[0]


def test_unrecognised_file(client):
    r = post(client, [("notes.txt", b"hello, city")])
    job = client.get(r.headers["location"]).json()
    assert job["status"] == "failed" and job["error"]["file"] == "notes.txt"
    assert "Unrecognised" in job["error"]["detail"]


def test_unknown_format_400(client):
    assert_problem(post(client, [("a.json", b"{}")], format="shapefile"), 400)


def test_unknown_job_404(client):
    assert_problem(client.get("/imports/nope"), 404)


def test_uploads_are_removed_and_names_never_reach_disk(client, tmp_path):
    post(client, [("../../../etc/evil.geojson", b"   ")])
    up = tmp_path / "up"
    assert not list(up.rglob("*evil*")) and not list(up.glob("*/*"))


def test_upload_limit(city, tmp_path):
    app = create_app(Settings(store=str(city), write_tokens=[TOKEN], max_upload_mb=0.001))
    with TestClient(app) as c:
        r = c.post("/imports", files=[("files", ("big.las", b"x" * 4096))], headers=AUTH)
        assert_problem(r, 413)


def test_real_files_land_whole(tmp_path):
    """delft.json over HTTP into a Dutch city: 160 buildings, and a bad second file undoes the first."""
    from cim.model import City

    from ..conftest import shared_data

    delft = shared_data("buildings", "delft.json").read_bytes()
    path = tmp_path / "nl.sqlite"
    s = open_store(path, create=True)
    s.init(City(name="Delft", crs_epsg=28992, vertical_datum="EPSG:5709"))
    s.close()
    with TestClient(create_app(Settings(store=str(path), write_tokens=[TOKEN]))) as c:
        c.event_hooks["response"].append(no_server_errors)
        bad = delft[: len(delft) // 2]
        r = post(c, [("delft.json", delft), ("delft_cut.json", bad)])
        job = c.get(r.headers["location"]).json()
        assert job["status"] == "failed" and job["error"]["file"] == "delft_cut.json"
        assert job["error"].get("line"), job["error"]
        assert c.app.state.store.counts()["buildings"] == 0
        r = post(c, [("delft.json", delft)])
        job = c.get(r.headers["location"]).json()
        assert job["status"] == "succeeded", job
        assert job["counts"] == {"buildings": 160}
        assert c.get("/collections/buildings/items").json()["numberMatched"] == 160
        # the same file again: duplicate ids, nothing lands, the error names the feature
        job = c.get(post(c, [("delft.json", delft)]).headers["location"]).json()
        assert job["status"] == "failed" and job["error"]["status"] == 409 and job["error"]["feature"]
        assert c.app.state.store.counts()["buildings"] == 160
