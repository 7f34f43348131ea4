"""The sample city's sensors: the seeded events raise exactly their alarms; the DMA inlet meters and the leak."""

from __future__ import annotations

import numpy as np
import pytest

from cim import sensors
from cim.store import open_store
from sample_city import sensors as S


@pytest.fixture(scope="module")
def store(sample_city_path):
    s = open_store(sample_city_path)
    yield s
    s.close()


def test_seeded_events_raise_exactly_their_alarms(store):
    alarms = sensors.Sensors(store).alarms()
    got = sorted((a["datastream"]["name"], a["kind"], a["first"]) for a in alarms)
    burst_logger = next(a["datastream"]["name"] for a in alarms if a["kind"] == "low")
    expected = sorted(
        [
            (burst_logger, "low", "2026-01-25T02:00:00.000Z"),  # the burst at 10:00 China time
            ("DMA-SE inlet flow", "high", "2026-01-20T18:00:00.000Z"),  # the leak's first night, 02:00 China time
            ("U-UTL-1 gas compartment CH4-2", "high", got[-1][2] if got else ""),
        ]
    )
    assert got == expected
    by = {a["kind"] + a["datastream"]["name"][:3]: a for a in alarms}
    burst = by["low" + burst_logger[:3]]
    assert burst["closed"] == "2026-01-25T05:00:00.000Z" and burst["severity"] == "alarm"  # three hours
    assert burst["peak"] < S.BURST_BAR and burst["feature"].startswith("pipe-nodes/")
    leak = by["highDMA"]
    assert leak["active"] and leak["feature"] == "water-districts/DMA-SE" and leak["closed"] is None
    gas = by["highU-U"]
    # the spike is a Gaussian of 35 %LEL, sigma 12 min, on 0.6 +- 0.3 background: above 20 for about +-12.7 min
    first = np.datetime64(gas["first"][:-1])
    assert abs((first - np.datetime64("2026-01-12T03:30")) / np.timedelta64(1, "m") + 12.7) <= S.STEP_S / 60
    assert 33.0 < gas["peak"] < 38.0 and gas["feature"] == "underground-structures/U-UTL-1"
    assert gas["geometry"]["type"] == "Point"


def test_dma_inlets_and_the_leak_in_the_night_flow(store):
    inlets = sensors.find_datastreams(store, role="dma-inlet")
    assert [d["name"] for d in inlets] == [f"{d} inlet flow" for d in S.DMAS]
    assert {d["unitOfMeasurement"]["symbol"] for d in inlets} == {"m3/h"}
    [se] = sensors.things_for_feature(store, "water-districts/DMA-SE")
    assert se["properties"]["role"] == "dma-inlet" and se["datastreams"][0]["name"] == "DMA-SE inlet flow"
    t, q = sensors.series(store, se["datastreams"][0]["id"])
    assert len(t) == S.DAYS * 86400 // S.STEP_S and np.all(np.diff(t.astype(np.int64)) == S.STEP_S * 1000)
    hour = (t.astype(np.int64) // 3_600_000) % 24
    night = (hour >= 18) & (hour < 20)
    day = (t - np.datetime64("2026-01-01T00:00")) // np.timedelta64(1, "D")
    mnf = np.array([q[night & (day == d)].mean() for d in range(S.DAYS - 1)])  # nights starting on day d (UTC)
    before, after = mnf[5:19].mean(), mnf[19:].mean()  # day index 19 = 2026-01-20, the leak's first night
    assert after - before == pytest.approx(S.LEAK_M3H, abs=1.5)
    # the other districts' night flow stays put
    t2, q2 = sensors.series(store, inlets[0]["id"])
    mnf2 = np.array([q2[night & (day == d)].mean() for d in range(S.DAYS - 1)])
    assert abs(mnf2[19:].mean() - mnf2[5:19].mean()) < 1.5


def test_every_sensor_is_tied_to_a_feature(store):
    sta = sensors.Sensors(store)
    things = sta.get("Things", {"$top": "1000", "$select": "properties"}, "")["value"]
    roles = [t["properties"]["role"] for t in things]
    assert roles.count("pressure-logger") == 40 and roles.count("dma-inlet") == 4
    assert roles.count("gas-detector") == 4 and roles.count("settlement-gauge") == 5
    for t in things:
        coll, fid = t["properties"]["cim:feature"].split("/")
        if coll != "water-districts":  # that collection comes with the water network helper
            assert store.get(coll, fid).id == fid


def test_observations_frame_local_and_remote_alike(sample_city_path, sample_server):
    import cim

    local = cim.open(sample_city_path)
    remote = cim.connect(sample_server.url)
    try:
        a = local.observations("water-districts/DMA-SE", "2026-01-20T12:00:00Z", "2026-01-21T00:00:00Z")
        b = remote.observations("water-districts/DMA-SE", "2026-01-20T12:00:00Z", "2026-01-21T00:00:00Z")
        assert len(a) == 12 * 3600 // S.STEP_S and a["unit"].iloc[0] == "m3/h"
        assert a["time"].iloc[0].isoformat() == "2026-01-20T12:00:00+00:00" and str(a["time"].dt.tz) == "UTC"
        assert a.equals(b)
        ds = int(a["datastream"].iloc[0])
        c = remote.observations(ds)
        assert len(c) == S.DAYS * 86400 // S.STEP_S and c.equals(local.observations(ds))
    finally:
        local.close()
        remote.close()
