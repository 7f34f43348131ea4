"""The ``alarm`` queryable of /collections/{cid}/items: a feature's highest active alarm severity, on SQLite and
PostGIS, from the sample city's seeded events and from readings posted afterwards."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.query.cql2 import parse_filter
from cim.query.queryables import ALARM_SEVERITIES
from cim.sensors import Sensors, find_datastreams, things_for_feature
from cim.sensors.alarms import SEVERITIES
from cim.sensors.backend import backend_of
from cim.store import open_store
from sample_city import sensors as S
from tests.api.conftest import no_server_errors

COLLECTIONS = ("pipe-nodes", "buildings", "underground-structures", "water-districts")
SEED = 20260101  # build_sample_city's default seed (the burst logger is picked by position, not by seed)
TOKEN = "alarm-queryable-token-0000000001"


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def city(request, sample_city_path, tmp_path_factory):
    """The sample city's watched collections in a fresh store of each backend, before sensors: (store, features)."""
    src = open_store(sample_city_path)
    feats = {cid: list(src.iter_features(cid)) for cid in COLLECTIONS}
    city_doc = src.city()
    src.close()
    if request.param == "sqlite":
        url = str(tmp_path_factory.mktemp("alarm") / "city.sqlite")
    else:
        url = f"{request.getfixturevalue('pg_cluster').url}?schema=a_{uuid.uuid4().hex[:12]}"
    store = open_store(url, create=True)
    store.init(city_doc)
    store.write([f for fs in feats.values() for f in fs])
    yield store, feats
    store.close()


def _ids(store, cid: str, text: str, sortby=None) -> list[str]:
    page = store.query(cid, filter=parse_filter(text), sortby=sortby)
    assert page.matched == len(page.features)
    return [f.id for f in page.features]


def test_severities_agree():
    assert ALARM_SEVERITIES == SEVERITIES


def test_alarm_queryable(city):
    store, feats = city
    # no sensor tables yet: no feature has an alarm, and the query creates nothing
    assert _ids(store, "pipe-nodes", "alarm IS NOT NULL") == []
    assert len(_ids(store, "pipe-nodes", "alarm IS NULL")) == len(feats["pipe-nodes"])
    assert not backend_of(store).exists()

    # the sample city's sensors, every 15 minutes (the gas spike's peak lands on a reading)
    events = S.build_sensors(
        store,
        feats["pipe-nodes"],
        feats["buildings"],
        feats["underground-structures"],
        SEED,
        step_s=900,
    )
    assert sorted(e.id for e in events) == ["burst", "gas", "leak"]
    sta = Sensors(store)
    # the leak's night-flow alarm stays open; the burst and the gas spike closed
    [leak] = sta.alarms(active=True)
    assert leak["feature"] == "water-districts/DMA-SE" and leak["severity"] == "warning"
    assert len(sta.alarms(active=False)) == 2
    expected = {cid: [] for cid in COLLECTIONS} | {"water-districts": ["DMA-SE"]}
    for cid in COLLECTIONS:
        assert _ids(store, cid, "alarm IS NOT NULL") == expected[cid], cid
        n = len(feats[cid])
        assert len(_ids(store, cid, "alarm IS NULL")) == n - len(expected[cid])
    assert _ids(store, "water-districts", "alarm = 'warning'") == ["DMA-SE"]
    assert _ids(store, "water-districts", "alarm IN ('alarm', 'critical')") == []

    # readings after the 30 days: the burst logger drops below its low threshold (severity "alarm"), a second
    # methane detector in U-UTL-1 passes 20 %LEL ("alarm"), a new critical rule on DMA-SE's inlet
    end = int((S.START + np.timedelta64(S.DAYS, "D")).astype(np.int64))
    burst_ds = next(a["datastream"] for a in sta.alarms(active=False) if a["kind"] == "low")
    [burst_thing] = [
        th
        for th in sta.get("Things", {"$top": "1000", "$expand": "Datastreams($select=id)"}, "")["value"]
        if th["Datastreams"][0]["@iot.id"] == burst_ds["id"]
    ]
    burst_node = burst_thing["properties"]["cim:feature"].split("/")[1]
    gas = [d for th in things_for_feature(store, "underground-structures/U-UTL-1") for d in th["datastreams"]]
    [inlet] = [d for d in find_datastreams(store, role="dma-inlet") if d["thing"]["properties"]["dma"] == "DMA-SE"]
    sta.update(
        f"Datastreams({inlet['id']})",
        {"properties": {**inlet["properties"], "thresholds": [inlet["properties"]["thresholds"],
                                                                {"high": 0.0, "severity": "critical"}]}},
    )  # fmt: skip
    t = end + np.arange(4, dtype=np.int64) * 60_000
    sta.ingest([(burst_ds["id"], t, np.full(4, 0.8)), (gas[2]["id"], t, np.array([5.0, 25.0, 30.0, 28.0]))])
    assert _ids(store, "pipe-nodes", "alarm IS NOT NULL") == [burst_node]
    assert _ids(store, "pipe-nodes", "alarm IN ('alarm', 'critical')") == [burst_node]
    assert _ids(store, "pipe-nodes", "alarm = 'warning'") == []
    assert _ids(store, "underground-structures", "alarm = 'alarm'") == ["U-UTL-1"]
    # DMA-SE: the warning (night flow) and the critical rule are both active; the highest counts
    kinds = {a["severity"] for a in sta.alarms(active=True) if a["feature"] == "water-districts/DMA-SE"}
    assert kinds == {"warning", "critical"}
    assert _ids(store, "water-districts", "alarm = 'critical'") == ["DMA-SE"]
    assert _ids(store, "water-districts", "alarm = 'warning'") == []
    # with other conditions, and sorted by severity (not by spelling: alarm < critical < warning)
    nodes = sorted(f.id for f in feats["pipe-nodes"])
    assert _ids(store, "pipe-nodes", f"alarm IS NULL AND id = '{burst_node}'") == []
    other = next(n for n in nodes if n != burst_node)
    assert _ids(store, "pipe-nodes", f"alarm IS NULL AND id = '{other}'") == [other]
    top = store.query("pipe-nodes", sortby=[("alarm", False)], limit=1).features
    assert [f.id for f in top] == [burst_node]
    assert store.query("water-districts", sortby=[("alarm", False)], limit=1).features[0].id == "DMA-SE"

    # the burst logger back to normal: its alarm closes, the node no longer matches
    sta.ingest([(burst_ds["id"], end + np.arange(5, 7) * 60_000, np.array([4.2, 4.3]))])
    assert _ids(store, "pipe-nodes", "alarm IS NOT NULL") == []

    # the same over HTTP: the queryable is listed, the filter and sortby work, a bad value type is a 400
    with TestClient(create_app(Settings(store=store.url))) as c:
        c.event_hooks["response"].append(no_server_errors)
        doc = c.get("/collections/pipe-nodes/queryables").json()
        assert doc["properties"]["alarm"]["enum"] == list(SEVERITIES)
        assert {"id": "alarm", "type": "string"} in doc["queryables"]
        body = c.get("/collections/underground-structures/items", params={"filter": "alarm = 'alarm'"}).json()
        assert [f["id"] for f in body["features"]] == ["U-UTL-1"] and body["numberMatched"] == 1
        body = c.get("/collections/water-districts/items", params={"sortby": "-alarm", "limit": 1}).json()
        assert body["features"][0]["id"] == "DMA-SE"
        r = c.get("/collections/pipe-nodes/items", params={"filter": "alarm > 3"})
        assert r.status_code == 400 and "alarm" in r.json()["detail"]
