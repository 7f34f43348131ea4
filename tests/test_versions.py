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
