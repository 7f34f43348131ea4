"""Versions of the city on both stores: an import, a replacement and a deletion, then every earlier state
rebuilt exactly, the diff listing exactly the changes made, times, lifespans, the CLI and the HTTP API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cim import versions
from cim.collections import COLLECTIONS
from cim.errors import FeatureNotFound, InvalidParameter
from cim.io import import_files
from cim.model import Building

from . import common
from .common import X0, Y0


def snapshot(store) -> dict[str, dict[str, str]]:
    return {cid: {f.id: f.model_dump_json() for f in store.iter_features(cid)} for cid in COLLECTIONS}


def state(store, n: int) -> dict[str, dict[str, str]]:
    return {cid: {i: f.model_dump_json() for i, f in versions.state_at(store, cid, n).items()} for cid in COLLECTIONS}


def _new_buildings_geojson(path, ids_heights):
    from pyproj import Transformer

    t = Transformer.from_crs(4550, 4326, always_xy=True)
    feats = []
    for k, (fid, h) in enumerate(ids_heights):
        x, y = X0 + 2000 + 40 * k, Y0 + 2000
        ring = [list(t.transform(a, b)) for a, b in [(x, y), (x + 20, y), (x + 20, y + 20), (x, y + 20), (x, y)]]
        feats.append(
            {
                "type": "Feature",
                "id": fid,
                "properties": {"height": h, "ground_z": 50.0},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


@pytest.fixture
def history(store, tmp_path):
    """The tiny city (version 0), then v1 an import, v2 a replacement, v3 a deletion; the states after each."""
    states = [snapshot(store)]
    rep = import_files(
        store,
        [_new_buildings_geojson(tmp_path / "a.geojson", [("n1", 12.0), ("n2", 30.0)])],
        author="alice",
        note="two new buildings",
    )
    assert rep.version == 1
    states.append(snapshot(store))
    b00 = store.get("buildings", "b-0-0")
    taller = Building.model_validate({**b00.model_dump(), "height": 99.0, "roof_elevation": None})
    versions.write(store, [taller], replace=True, author="bob", note="b-0-0 raised")
    states.append(snapshot(store))
    pipe_id = next(iter(states[0]["pipes"]))
    versions.write(store, [], delete={"buildings": ["b-0-1", "n2"], "pipes": [pipe_id]}, author="carol")
    states.append(snapshot(store))
    return store, states, pipe_id


def test_every_earlier_state_is_given_back_exactly(history):
    store, states, pipe_id = history
    assert [v.n for v in versions.versions(store)] == [1, 2, 3] and versions.latest(store) == 3
    for n, want in enumerate(states):
        assert state(store, n) == want, f"version {n}"
    assert states[0] != states[1] != states[2] != states[3]


def test_diff_lists_exactly_the_changes(history):
    store, _, pipe_id = history
    d = versions.diff(store, 0, 3)
    assert d["buildings"].model_dump() == {"added": ["n1"], "changed": ["b-0-0"], "removed": ["b-0-1"]}
    assert d["pipes"].model_dump() == {"added": [], "changed": [], "removed": [pipe_id]}
    assert set(d) == {"buildings", "pipes"}
    assert versions.diff(store, 1, 2)["buildings"].changed == ["b-0-0"] and set(versions.diff(store, 1, 2)) == {
        "buildings"
    }
    assert versions.diff(store, 3, 3) == {}
    v = versions.get_version(store, 3)
    assert v.author == "carol" and v.changes["buildings"].removed == ["b-0-1", "n2"]
    assert versions.get_version(store, 1).note == "two new buildings"


def test_datetimes_and_lifespans(history):
    store, states, _ = history
    vs = versions.versions(store)
    assert versions.version_at(store, vs[0].time - timedelta(seconds=1)) == 0
    assert versions.version_at(store, vs[1].time) == 2
    assert versions.version_at(store, vs[2].time.isoformat()) == 3
    life = versions.lifespans(store, "buildings")
    assert life["b-0-0"] == [(0, 2), (2, None)] and life["b-0-1"] == [(0, 3)] and life["n2"] == [(1, 3)]
    assert life["n1"] == [(1, None)]


def test_bad_versions_and_deletes_are_refused(history):
    store, _, _ = history
    with pytest.raises(InvalidParameter):
        versions.state_at(store, "buildings", 4)
    with pytest.raises(InvalidParameter):
        versions.version_at(store, "yesterday")
    with pytest.raises(FeatureNotFound):
        versions.delete(store, "buildings", ["no-such-building"])
    assert versions.latest(store) == 3


def test_cli_versions_diff_delete(tmp_path):
    from typer.testing import CliRunner

    from cim.cli import app
    from cim.store import open_store

    db = tmp_path / "c.sqlite"
    s = open_store(db, create=True)
    s.init(common.CITY)
    s.write(common.buildings()[:5])
    s.close()
    run = CliRunner().invoke
    src = _new_buildings_geojson(tmp_path / "a.geojson", [("n1", 12.0)])
    r = run(app, ["import", str(src), "--store", str(db), "--author", "alice", "--note", "n1", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["version"] == 1
    r = run(app, ["delete", "buildings", "b-0-2", "--store", str(db), "--note", "demolished"])
    assert r.exit_code == 0 and "version 2" in r.stdout
    r = run(app, ["diff", "0", "2", "--store", str(db)])
    assert r.exit_code == 0 and r.stdout.split() == ["+", "buildings/n1", "-", "buildings/b-0-2"]
    r = run(app, ["versions", "--store", str(db), "--json"])
    vs = json.loads(r.stdout)
    assert [(v["n"], v["author"], v["note"]) for v in vs] == [(1, "alice", "n1"), (2, None, "demolished")]
    r = run(app, ["delete", "buildings", "nope", "--store", str(db)])
    assert r.exit_code == 2


def test_http_versions_and_items_as_they_were(tmp_path):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings
    from cim.store import open_store

    db = tmp_path / "c.sqlite"
    s = open_store(db, create=True)
    s.init(common.CITY)
    s.write(common.buildings()[:5])
    s.close()
    token = "versions-test-token-0001"
    auth = {"Authorization": f"Bearer {token}"}
    app = create_app(Settings(store=str(db), write_tokens=[token], upload_dir=str(tmp_path / "up")))
    with TestClient(app) as c:
        src = _new_buildings_geojson(tmp_path / "a.geojson", [("n1", 12.0), ("n2", 20.0)])
        job = c.post(
            "/imports", files=[("files", ("a.geojson", src.read_bytes()))], data={"wait": "true"}, headers=auth
        ).json()
        assert job["status"] == "succeeded"
        r = c.delete("/collections/buildings/items/b-0-0", params={"note": "gone"}, headers=auth)
        assert r.status_code == 200 and r.json()["version"] == 2
        assert c.delete("/collections/buildings/items/b-0-1").status_code == 401  # writes need a token
        vs = c.get("/versions").json()
        assert vs["latest"] == 2 and [v["n"] for v in vs["versions"]] == [1, 2]
        assert vs["versions"][0]["author"].startswith("token:") and token not in json.dumps(vs)
        assert c.get("/versions/2/changes").json()["changes"] == {
            "buildings": {"added": [], "changed": [], "removed": ["b-0-0"]}
        }

        def ids(**params):
            body = c.get("/collections/buildings/items", params={"limit": 100, **params}).json()
            return sorted(f["id"] for f in body["features"])

        five = sorted(b.id for b in common.buildings()[:5])
        assert ids(version=0) == five
        assert ids(version=1) == sorted(five + ["n1", "n2"])
        assert ids(version=2) == ids() == sorted(set(five) - {"b-0-0"} | {"n1", "n2"})
        t1 = vs["versions"][0]["time"]
        assert ids(datetime=t1) == ids(version=1)
        assert ids(datetime="2000-01-01T00:00:00Z") == five
        assert c.get("/versions/diff", params={"from": 0, "to": 2}).json()["changes"] == {
            "buildings": {"added": ["n1", "n2"], "changed": [], "removed": ["b-0-0"]}
        }
        bad = c.get("/collections/buildings/items", params={"version": 9})
        assert bad.status_code == 400 and bad.json()["parameter"] == "version"
        bad = c.get("/collections/buildings/items", params={"version": 1, "filter": "height > 3"})
        assert bad.status_code == 400 and bad.json()["parameter"] == "filter"


def test_sample_city_import_replace_delete_and_back(sample_city_path, tmp_path):
    """On (a copy of) the sample city: each earlier state of every collection comes back exactly."""
    import shutil

    from cim.store import open_store

    db = tmp_path / "sample.sqlite"
    shutil.copy(sample_city_path, db)
    store = open_store(db)
    states = [snapshot(store)]
    import_files(store, [_new_buildings_geojson(tmp_path / "a.geojson", [("n1", 12.0), ("n2", 30.0)])])
    states.append(snapshot(store))
    some = sorted(states[0]["buildings"])[:3]
    moved = [store.get("buildings", i) for i in some]
    moved = [Building.model_validate({**b.model_dump(), "height": b.height + 3, "roof_elevation": None}) for b in moved]
    versions.write(store, moved, replace=True, note="three buildings raised by 3 m")
    states.append(snapshot(store))
    pipe_ids = sorted(states[0]["pipes"])[:5]
    versions.write(store, [], delete={"pipes": pipe_ids, "buildings": ["n1"]}, note="abandoned")
    states.append(snapshot(store))
    for n, want in enumerate(states):
        assert state(store, n) == want, f"version {n}"
    d = versions.diff(store, 0, 3)
    assert d["buildings"].model_dump() == {"added": ["n2"], "changed": some, "removed": []}
    assert d["pipes"].removed == pipe_ids and set(d) == {"buildings", "pipes"}
    store.close()
