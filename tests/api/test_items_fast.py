"""Items from the stored CRS84 GeoJSON bytes (issue 16): byte for byte what the model path answers.

Each store keeps every feature's CRS84 GeoJSON Feature beside its row (``gj``), written in the same transaction;
``/items`` pages and single items in CRS84 without projections splice those bytes.  The reference is the model
path itself, reached for real: the same requests once the stored bytes are cleared (what an older store holds).
Run on SQLite and PostGIS (``store``/``empty_store``), on the tiny city and on the sample city copied into each
backend with ``cim copy``'s ``copy_store``, and after replacements.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from urllib.parse import quote

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.collections import COLLECTIONS, get_spec
from cim.crs import CRS84, OutputCRS, city_to_lonlat, epsg_uri
from cim.geojson import encode_features
from cim.store import SQLiteStore, open_store
from cim.store.copy import copy_store

from .. import common
from .conftest import no_server_errors

_STAMP = re.compile(rb'"timeStamp":"[^"]*"')


def _clear_gj(store) -> None:
    """Clear every stored GeoJSON: the rows as an older store holds them (the model path answers)."""
    if isinstance(store, SQLiteStore):
        conn = store._conn()
        for cid in COLLECTIONS:
            conn.execute(f"UPDATE f_{cid.replace('-', '_')} SET gj = NULL")
        return
    from psycopg import sql

    with store._pool.connection() as conn:
        for cid in COLLECTIONS:
            conn.execute(sql.SQL("UPDATE {} SET gj = NULL").format(store._t(cid)))


def _model_bytes(store, cid: str) -> list[bytes]:
    """Every feature of a collection through today's path: decoded models, encode_features, orjson."""
    feats = store.query(cid).features
    out = OutputCRS(store.city().crs_epsg)
    return [orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY) for d in encode_features(get_spec(cid), feats, out)]


def _check_store_bytes(store, at_least: int) -> int:
    """Stored bytes equal the model path's for every feature of every collection; returns how many."""
    n = 0
    for cid in COLLECTIONS:
        page = store.query_geojson(cid)
        want = _model_bytes(store, cid)
        assert page is not None and page.matched == len(want)
        assert page.features == want, cid
        for i, raw in enumerate(page.features[:5]):
            fid = orjson.loads(raw)["id"]
            assert store.get_geojson(cid, fid) == want[i]
        n += len(want)
    assert n >= at_least
    return n


def _requests(store, per_collection: int = 12) -> list[str]:
    """Pages (plain, offsets, a CRS84 bbox over the middle of each collection, a filter, a sort) and single items
    of every non-empty collection."""
    epsg = store.city().crs_epsg
    paths = []
    for cid in COLLECTIONS:
        n = store.counts()[cid]
        if not n:
            continue
        items = f"/collections/{cid}/items"
        paths += [f"{items}?limit=7", f"{items}?limit=25&offset={n // 3}", f"{items}?limit=1000"]
        b = store.bounds(cid)
        cx, cy, hx, hy = (b[0] + b[3]) / 2, (b[1] + b[4]) / 2, (b[3] - b[0]) / 4 + 1, (b[4] - b[1]) / 4 + 1
        ll = city_to_lonlat(np.array([[cx - hx, cy - hy], [cx + hx, cy + hy]]), epsg)
        bbox = ",".join(f"{v:.7f}" for v in (ll[0, 0], ll[0, 1], ll[1, 0], ll[1, 1]))
        paths += [f"{items}?bbox={bbox}&limit=40", f"{items}?bbox={bbox}&limit=5&offset=3"]
        ids = [f.id for f in store.query(cid).features]
        for i in np.linspace(0, len(ids) - 1, min(per_collection, len(ids))).astype(int):
            paths.append(f"{items}/{quote(ids[i], safe='')}")
    b = "/collections/buildings/items"
    paths += [f"{b}?filter={quote('height > 20')}&limit=30", f"{b}?sortby=-height&limit=15&offset=2"]
    return paths


def _answers(client: TestClient, paths: list[str]) -> list[bytes]:
    out = []
    for p in paths:
        r = client.get(p)
        assert r.status_code == 200, (p, r.text)
        assert r.headers["content-type"] == "application/geo+json" and r.headers["content-crs"] == f"<{CRS84}>"
        out.append(_STAMP.sub(b'"timeStamp":""', r.content))
    return out


def _fast_equals_model_path(store, per_collection: int = 12) -> int:
    """The same requests from the stored bytes and, with them cleared, from the models: equal byte for byte."""
    paths = _requests(store, per_collection)
    with TestClient(create_app(Settings(store=store.url))) as client:
        client.event_hooks["response"].append(no_server_errors)
        fast = _answers(client, paths)
        _clear_gj(store)
        assert store.query_geojson("buildings", limit=3) is None
        slow = _answers(client, paths)
    for p, a, b in zip(paths, fast, slow, strict=True):
        assert a == b, p
    assert sum(orjson.loads(a).get("numberReturned", 1) for a in fast) > len(paths)
    return len(paths)


def test_stored_bytes_are_the_model_path(store):
    _check_store_bytes(store, at_least=len(common.all_features()))
    assert _fast_equals_model_path(store) > 30


def test_after_replacement_and_deletion(store):
    spec = get_spec("buildings")
    old = store.query("buildings", limit=5).features
    moved = [b.model_copy(update={"height": b.height + 7.5, "name": f"renamed {i}"}) for i, b in enumerate(old[:3])]
    store.write(moved, replace=True, delete={"buildings": [old[4].id]})
    raw = {orjson.loads(r)["id"]: r for r in store.query_geojson("buildings").features}
    for b in moved:
        doc = orjson.loads(raw[b.id])
        assert doc["properties"]["name"] == b.name and doc["properties"]["height"] == pytest.approx(b.height)
        want = encode_features(spec, [store.get("buildings", b.id)], OutputCRS(store.city().crs_epsg))[0]
        assert raw[b.id] == orjson.dumps(want)
    assert old[4].id not in raw
    _check_store_bytes(store, at_least=len(common.all_features()) - 1)
    _fast_equals_model_path(store, per_collection=4)


@pytest.mark.parametrize("target", ["sqlite", "postgis"])
def test_sample_city_copied_between_stores(sample_city_path, tmp_path, request, target):
    """The sample city (every collection it has), copied into each backend the way ``cim copy`` does."""
    src = open_store(sample_city_path)
    if target == "sqlite":
        dst = open_store(tmp_path / "copy.sqlite", create=True)
    else:
        cluster = request.getfixturevalue("pg_cluster")
        dst = open_store(f"{cluster.url}?schema=t_fast_{uuid.uuid4().hex[:12]}", create=True)
    try:
        copy_store(src, dst)
        assert sum(1 for cid in COLLECTIONS if dst.counts()[cid]) >= 4
        assert _check_store_bytes(dst, at_least=3000) == sum(src.counts().values())
        _fast_equals_model_path(dst)
    finally:
        dst.close()
        src.close()


def test_store_made_before_the_column(tmp_path):
    """A SQLite file whose tables have no ``gj`` column gains it on first use; its rows answer through the
    models, rows written after carry their bytes."""
    path = tmp_path / "old.sqlite"
    s = open_store(path, create=True)
    s.init(common.CITY)
    s.write(common.all_features())
    s.close()
    conn = sqlite3.connect(path)
    for cid in COLLECTIONS:
        conn.execute(f"ALTER TABLE f_{cid.replace('-', '_')} DROP COLUMN gj")
    conn.commit()
    conn.close()
    s = open_store(path)
    try:
        assert s.query_geojson("buildings") is None
        fid = s.query("buildings", limit=1).features[0].id
        assert s.get_geojson("buildings", fid) is None
        extra = common.buildings()[0].model_copy(update={"id": "new-one"})
        s.write([extra])
        assert s.get_geojson("buildings", "new-one") == _model_bytes(s, "buildings")[-1]
        with TestClient(create_app(Settings(store=str(path)))) as client:
            r = client.get("/collections/buildings/items?limit=1000")
            ids = [f["id"] for f in r.json()["features"]]
            assert ids[-1] == "new-one" and len(ids) == s.counts()["buildings"]
    finally:
        s.close()


def test_documents_cached_per_store_version(store):
    """/collections, a collection and its queryables are made once per store version: a write (a new version)
    makes them anew (numberOfFeatures follows it); the city record is validated once per change of it."""
    with TestClient(create_app(Settings(store=store.url))) as client:
        client.event_hooks["response"].append(no_server_errors)
        app = client.app
        first = client.get("/collections").json()
        one = client.get("/collections/buildings").json()
        q = client.get("/collections/buildings/queryables")
        assert q.headers["content-type"].startswith("application/schema+json")
        assert "height" in q.json()["properties"]
        version, docs = app.state.docs_cache
        assert version[1] == store.read_version() and len(docs) == 3
        again = client.get("/collections").content
        assert app.state.docs_cache[1] is docs and orjson.loads(again) == first
        n = one["numberOfFeatures"]
        store.write([common.buildings()[0].model_copy(update={"id": "one-more"})])
        assert client.get("/collections/buildings").json()["numberOfFeatures"] == n + 1
        assert app.state.docs_cache[0][1] == store.read_version() == version[1] + 1
        after = {c["id"]: c["numberOfFeatures"] for c in client.get("/collections").json()["collections"]}
        assert after["buildings"] == n + 1
        assert client.get("/collections/buildings/queryables").json() == q.json()
        assert client.get("/collections/nope/queryables").status_code == 404
    c1 = store.city()
    assert store.city() is c1  # unchanged record: the validated model is kept
    store.init(common.CITY.model_copy(update={"name": "Renamed city"}), overwrite=True)
    assert store.city().name == "Renamed city" and store.city().crs_epsg == c1.crs_epsg
    assert epsg_uri(store.city().crs_epsg).endswith("4550")


@pytest.mark.parametrize(
    ("name", "epsg", "crs"),
    [("zurich_subset_lod2.json", 2056, None), ("multi_lod.json", 28992, "EPSG:7415")],
)
def test_real_lod2_imports_store_the_model_paths_bytes(empty_store, name, epsg, crs):
    """Real LoD2 buildings (surfaces, several LODs) through the import's array path: the stored GeoJSON, encoded
    without validating their surfaces and LODs, equals the model path's bytes, ``lod`` property included."""
    from cim.io import import_files
    from cim.model import City

    from ..conftest import shared_data

    empty_store.init(City(name="t", crs_epsg=epsg), overwrite=True)
    import_files(empty_store, [shared_data("buildings", name)], crs=crs)
    assert _check_store_bytes(empty_store, at_least=10) == empty_store.counts()["buildings"]
    lods = {orjson.loads(raw)["properties"]["lod"] for raw in empty_store.query_geojson("buildings").features}
    assert max(lods) >= 2.0
