"""3D Tiles, feature GLBs and the viewer over HTTP (in-process, tiny test city)."""

from __future__ import annotations

import gzip
import os

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.routers import viewer
from api.settings import Settings
from cim.store import open_store
from tiles.gltf import read_glb, read_property_table

from .. import common
from .conftest import assert_problem, no_server_errors

LAYERS = ["buildings", "pipes", "underground-structures", "terrain"]


def _walk(tile):
    yield tile
    for c in tile.get("children", []):
        yield from _walk(c)


def _uris(doc):
    return [t["content"]["uri"] for t in _walk(doc["root"]) if "content" in t]


def test_layers_index_links_every_tileset(client):
    body = client.get("/3dtiles").json()
    assert [lay["id"] for lay in body["layers"]] == LAYERS
    for lay in body["layers"]:
        href = lay["links"][0]["href"]
        assert href.endswith(f"/3dtiles/{lay['id']}/tileset.json")
        assert client.get(href).status_code == 200


@pytest.mark.parametrize("layer", LAYERS)
def test_tileset_and_tiles_with_etags_and_caching(client, layer):
    r = client.get(f"/3dtiles/{layer}/tileset.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "public, no-cache" and r.headers["etag"].startswith('"')
    doc = r.json()
    assert doc["asset"]["version"] == "1.1"
    again = client.get(f"/3dtiles/{layer}/tileset.json", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == r.headers["etag"]
    uris = _uris(doc)
    assert uris
    version = client.get("/health").json()["version"]
    for uri in uris:
        assert uri.startswith(f"v{version}/")
        t = client.get(f"/3dtiles/{layer}/{uri}")
        assert t.status_code == 200 and t.headers["content-type"] == "model/gltf-binary"
        assert t.headers["cache-control"] == "public, max-age=31536000, immutable"
        gltf, _ = read_glb(t.content)
        assert gltf["asset"]["version"] == "2.0"
        assert client.get(f"/3dtiles/{layer}/{uri}", headers={"If-None-Match": t.headers["etag"]}).status_code == 304


def test_json_and_tiles_are_sent_gzipped_when_accepted(client):
    r = client.get("/3dtiles/buildings/tileset.json", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and "Accept-Encoding" in r.headers["vary"]
    plain = client.get("/3dtiles/buildings/tileset.json", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == r.json()
    uri = _uris(r.json())[0]
    z = client.get(f"/3dtiles/buildings/{uri}", headers={"Accept-Encoding": "gzip"})
    p = client.get(f"/3dtiles/buildings/{uri}", headers={"Accept-Encoding": "identity"})
    assert z.headers["content-encoding"] == "gzip" and z.content == p.content  # httpx decodes
    assert int(z.headers["content-length"]) < 0.6 * len(p.content)
    assert gzip.decompress(gzip.compress(p.content)) == p.content


@pytest.mark.parametrize(
    "path",
    ["nope.glb", "v1/../../../etc/passwd", "..%2F..%2Fpyproject.toml", "v999/0.glb", "tileset.json.gz", "v1/0.glb.gz"],
)
def test_tile_paths_are_only_those_of_the_tileset(client, path):
    assert_problem(client.get(f"/3dtiles/buildings/{path}"), 404)


def test_unknown_layer_is_a_404_problem(client):
    body = assert_problem(client.get("/3dtiles/roads/tileset.json"), 404)
    assert "buildings" in body["detail"]


@pytest.mark.parametrize(
    ("cid", "fid", "rows"),
    [
        ("buildings", "b-3-4", 1),
        ("pipes", "p-diag", 1),
        ("pipe-nodes", "n-1", 1),
        ("underground-structures", "s-tunnel", 1),
    ],
)
def test_one_feature_as_glb(client, cid, fid, rows):
    r = client.get(f"/collections/{cid}/items/{fid}/mesh.glb")
    assert r.status_code == 200 and r.headers["content-type"] == "model/gltf-binary"
    doc, binary = read_glb(r.content)
    table = read_property_table(doc, binary)
    assert table["id"] == [fid] and table["collection"] == [cid]
    geo = doc["asset"]["extras"]["georeference"]
    assert len(geo["enu_to_ecef"]) == 16 and geo["origin_city"]["crs"] == "EPSG:4550"
    assert (
        client.get(f"/collections/{cid}/items/{fid}/mesh.glb", headers={"If-None-Match": r.headers["etag"]}).status_code
        == 304
    )


def test_feature_glb_errors(client):
    assert_problem(client.get("/collections/buildings/items/nope/mesh.glb"), 404)
    assert_problem(client.get("/collections/roads/items/x/mesh.glb"), 404)


def test_tiles_follow_the_store_version(tmp_path):
    path = tmp_path / "city.sqlite"
    s = open_store(path, create=True)
    s.init(common.CITY)
    s.write(common.buildings()[:20], terrain=common.terrain())
    with TestClient(create_app(Settings(store=str(path)))) as c:
        c.event_hooks["response"].append(no_server_errors)
        first = c.get("/3dtiles/buildings/tileset.json")
        old_uri = _uris(first.json())[0]
        assert c.get(f"/3dtiles/buildings/{old_uri}").status_code == 200
        s.write(common.buildings()[20:40])
        second = c.get("/3dtiles/buildings/tileset.json", headers={"If-None-Match": first.headers["etag"]})
        assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
        assert second.json()["extras"]["features"] == 40
        body = assert_problem(c.get(f"/3dtiles/buildings/{old_uri}"), 404)
        assert "reload" in body["detail"]
    s.close()


def test_a_cache_directory_is_shared(tmp_path, tiny_city_path, monkeypatch):
    monkeypatch.setenv("CIM_TILES_CACHE_DIR", str(tmp_path / "cache"))
    with TestClient(create_app(Settings(store=str(tiny_city_path)))) as c:
        doc = c.get("/3dtiles/pipes/tileset.json").json()
    files = sorted(p.relative_to(tmp_path / "cache").as_posix() for p in (tmp_path / "cache").rglob("*.glb"))
    assert len(files) == len(_uris(doc)) and all("/pipes/v" in f for f in files)
    with TestClient(create_app(Settings(store=str(tiny_city_path)))) as c:  # a second worker: no rebuild
        state = c.app.state
        r = c.get("/3dtiles/pipes/" + _uris(doc)[0])
        assert r.status_code == 200
        assert (
            state.tile_cache._built["pipes"].sink.read("tileset.json")
            == (tmp_path / "cache").joinpath(state.tile_cache.store_key, "pipes", "tileset.json").read_bytes()
        )


def test_viewer_page_and_cesium(client):
    if not viewer.cesium_available():
        if os.environ.get("CI"):
            pytest.fail("CesiumJS must be installed under CI (make install runs npm ci in viewer/)")
        pytest.skip("CesiumJS not installed (npm ci in viewer/)")
    r = client.get("/viewer")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'src="/viewer/cesium/Cesium.js"' in r.text and "__ROOT__" not in r.text
    assert client.get("/viewer/cesium/Cesium.js").status_code == 200
    assert client.get("/viewer/cesium/Widgets/widgets.css").status_code == 200
    assert client.get("/viewer/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/viewer/cesium/nope.js").status_code == 404


def test_viewer_without_cesium_is_a_503_problem(tiny_city_path, monkeypatch, tmp_path):
    monkeypatch.setattr(viewer, "CESIUM_DIR", tmp_path / "missing")
    with TestClient(create_app(Settings(store=str(tiny_city_path)))) as c:
        body = assert_problem(c.get("/viewer"), 503)
        assert "npm ci" in body["detail"]
        assert_problem(c.get("/viewer/cesium/Cesium.js"), 503)


def test_npm_lock_pins_cesium():
    import json

    lock = json.loads((viewer.VIEWER_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/cesium"]["version"] == "1.140.0"
