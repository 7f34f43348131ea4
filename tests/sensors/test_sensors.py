"""cim.sensors on every store backend: entities, query options compiled to SQL, DataArray, alarms, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from cim import sensors
from cim.errors import FeatureNotFound, InvalidParameter
from cim.sensors import Sensors

from .common import MEASUREMENT, T0_MS, minutes, thing

B = "http://h/sta/v1.1"


def _ds_id(sta: Sensors, thing_id: int) -> int:
    return sta.get(f"Things({thing_id})/Datastreams", {}, B)["value"][0]["@iot.id"]


def _obs_count(sta: Sensors) -> int:
    return sta.get("Observations", {"$count": "true", "$top": "0"}, B)["@iot.count"]


@pytest.fixture
def sta(empty_store):
    return Sensors(empty_store)


def test_deep_insert_read_and_navigate(sta, empty_store):
    url, ent = sta.create("Things", thing("L1", depth=2.5, role="logger"), B)
    assert url == f"{B}/Things(1)" and ent["@iot.id"] == 1 and ent["properties"]["depth"] == 2.5
    sta.create("Things", thing("L2", feature="pipe-nodes/N-2", depth=1.0, role="logger"), B)
    sta.create("Things", thing("M3", feature="pipe-nodes/N-3", depth=4.0, role="meter"), B)
    assert ent["Datastreams@iot.navigationLink"] == f"{B}/Things(1)/Datastreams"
    # JSON property filters: text, number, and a text function
    names = lambda r: [e["name"] for e in r["value"]]  # noqa: E731
    assert names(sta.get("Things", {"$filter": "properties/role eq 'logger'"}, B)) == ["L1", "L2"]
    assert names(sta.get("Things", {"$filter": "properties/depth gt 2"}, B)) == ["L1", "M3"]
    assert names(sta.get("Things", {"$filter": "startswith(name, 'L') and not (properties/depth lt 2)"}, B)) == ["L1"]
    assert names(sta.get("Things", {"$orderby": "properties/depth desc"}, B)) == ["M3", "L1", "L2"]
    # a linked entity's property, navigation, $expand with nested options, $select
    ds = sta.get("Datastreams", {"$filter": "Thing/properties/cim:feature eq 'pipe-nodes/N-2'"}, B)["value"]
    assert [d["name"] for d in ds] == ["L2 pressure"]
    assert sta.get("Datastreams(2)/Thing", {}, B)["name"] == "L2"
    assert sta.get("Things(2)/Locations", {}, B)["value"][0]["location"]["type"] == "Point"
    assert len(sta.get("Things(1)/HistoricalLocations", {}, B)["value"]) == 1
    got = sta.get(
        "Things", {"$expand": "Datastreams($select=name,unitOfMeasurement)", "$select": "name", "$top": "2"}, B
    )
    assert got["value"][0] == {
        "name": "L1",
        "Datastreams": [
            {"name": "L1 pressure", "unitOfMeasurement": {"name": "bar", "symbol": "bar", "definition": "urn:bar"}}
        ],
    }
    assert got["@iot.nextLink"].endswith("%24skip=2") and "%24top=2" in got["@iot.nextLink"]
    assert sta.get("Things(3)/name", {}, B) == {"name": "M3"}
    # the library helpers
    tf = sensors.things_for_feature(empty_store, "pipe-nodes/N-2")
    assert [t["name"] for t in tf] == ["L2"] and tf[0]["datastreams"][0]["unitOfMeasurement"]["symbol"] == "bar"
    assert [d["name"] for d in sensors.find_datastreams(empty_store, role="meter")] == ["M3 pressure"]
    assert [d["id"] for d in sensors.find_datastreams(empty_store, role="logger", depth=1.0)] == [2]


def test_data_array_windows_and_series(sta, empty_store):
    sta.create("Things", thing(), B)
    n = 3 * 1440
    times = minutes(n)
    values = np.round(3 + np.sin(np.arange(n) / 100.0), 4)
    links = sta.create_observations(
        [
            {
                "Datastream": {"@iot.id": 1},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[t, v] for t, v in zip(times, values.tolist(), strict=True)],
            }
        ],
        B,
    )
    assert links[0] == f"{B}/Observations(1)" and links[-1] == f"{B}/Observations({n})"
    # one hour of day 2: 60 observations, newest first
    q = {
        "$filter": "phenomenonTime ge 2026-03-02T10:00:00Z and phenomenonTime lt 2026-03-02T11:00:00Z",
        "$orderby": "phenomenonTime desc",
        "$count": "true",
        "$top": "1000",
    }
    page = sta.get("Datastreams(1)/Observations", q, B)
    assert page["@iot.count"] == 60 and len(page["value"]) == 60
    assert page["value"][0]["phenomenonTime"] == "2026-03-02T10:59:00.000Z"
    k = 1440 + 659
    assert page["value"][0]["result"] == pytest.approx(values[k])
    # result filters run in SQL over the numeric column
    above = sta.get("Observations", {"$filter": "result gt 3.99", "$count": "true", "$top": "0"}, B)["@iot.count"]
    assert above == int((values > 3.99).sum())
    # the library's series: [start, end), datetime64[ms], float64
    t, v = sensors.series(empty_store, 1, "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")
    assert t.dtype == np.dtype("datetime64[ms]") and len(t) == 1440
    assert t[0] == np.datetime64("2026-03-02T00:00:00") and np.array_equal(v, values[1440:2880])
    # an observation by id, its datastream, PATCH and DELETE
    ob = sta.get(f"Observations({k + 1})", {}, B)
    assert ob["phenomenonTime"] == "2026-03-02T10:59:00.000Z"
    assert sta.get(f"Observations({k + 1})/Datastream", {}, B)["@iot.id"] == 1
    sta.update(f"Observations({k + 1})", {"result": 9.5, "phenomenonTime": "2026-03-09T00:00:00Z"})
    assert sta.get(f"Observations({k + 1})", {}, B)["result"] == 9.5
    assert sta.get(f"Observations({k + 1})/phenomenonTime", {}, B) == {"phenomenonTime": "2026-03-09T00:00:00.000Z"}
    sta.delete(f"Observations({k + 1})")
    with pytest.raises(FeatureNotFound):
        sta.get(f"Observations({k + 1})", {}, B)
    assert _obs_count(sta) == n - 1
    df = sensors.observations_frame(empty_store, "pipe-nodes/N-1", "2026-03-01T00:00:00Z", "2026-03-01T00:10:00Z")
    assert list(df.columns) == ["time", "datastream", "name", "unit", "result"] and len(df) == 10
    assert df["unit"].iloc[0] == "bar" and df["result"].tolist() == pytest.approx(values[:10].tolist())


def _alarms(sta):
    return [(a["kind"], a["severity"], a["first"], a["last"], a["closed"], a["peak"]) for a in sta.alarms()][::-1]


def test_alarms_on_ingest_match_hand_computed_and_batch(sta):
    rules = [{"low": 2.0, "severity": "alarm"}, {"high": 5.0}, {"rate_per_hour": 60.0, "severity": "info"}]
    sta.create("Things", thing(thresholds=rules), B)
    v = np.full(30, 3.0)
    v[5:8] = 1.5  # low run, closed at minute 8; the step 3 -> 1.5 in a minute is 90/h: rate alarms at 5 and at 8
    v[20:] = 5.5  # high from minute 20, still open; rate 150/h at 20
    times = minutes(30)
    # ingest in three requests (the incremental path), the last one crossing the open alarm
    for a, b in ((0, 7), (7, 22), (22, 30)):
        sta.create_observations(
            [
                {
                    "Datastream": {"@iot.id": 1},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [[times[i], v[i]] for i in range(a, b)],
                }
            ],
            B,
        )
    iso = lambda m: f"2026-03-01T00:{m:02d}:00.000Z"  # noqa: E731
    expected = [
        ("low", "alarm", iso(5), iso(7), iso(8), 1.5),
        ("rate_per_hour", "info", iso(5), iso(5), iso(6), -90.0),
        ("rate_per_hour", "info", iso(8), iso(8), iso(9), 90.0),
        ("high", "warning", iso(20), iso(29), None, 5.5),
        ("rate_per_hour", "info", iso(20), iso(20), iso(21), 150.0),  # 2.5 bar in a minute
    ]
    got = sorted(_alarms(sta), key=lambda a: (a[2], a[0]))
    assert got == sorted(expected, key=lambda a: (a[2], a[0]))
    active = sta.alarms(active=True)
    assert [(a["kind"], a["feature"], a["datastream"]["id"]) for a in active] == [("high", "pipe-nodes/N-1", 1)]
    # out-of-order data recomputes the datastream's alarms: a late low reading at minute 12 opens a new alarm
    sta.create(
        "Observations", {"Datastream": {"@iot.id": 1}, "phenomenonTime": "2026-03-01T00:12:30Z", "result": 1.0}, B
    )
    lows = [a for a in _alarms(sta) if a[0] == "low"]
    assert [a[2] for a in lows] == [iso(5), "2026-03-01T00:12:30.000Z"]
    # changing the thresholds recomputes too
    sta.update("Datastreams(1)", {"properties": {"thresholds": {"high": 100.0}}})
    assert sta.alarms() == []


def test_hours_window_keeps_one_alarm_open_across_days(sta):
    sta.create("Things", thing(thresholds={"high": 10.0, "hours_utc": [2, 3]}), B)
    t = T0_MS + np.arange(3 * 24 * 60, dtype=np.int64) * 60_000
    v = np.where(((t // 3_600_000) % 24 >= 9), 50.0, 5.0)  # high all day, but only 02:00-03:00 counts
    v[t >= T0_MS + 86_400_000] += 8.0  # from day 2 the night reading is 13 > 10
    sta.ingest([(1, t, v)])
    [a] = sta.alarms()
    assert (a["first"], a["last"], a["active"]) == ("2026-03-02T02:00:00.000Z", "2026-03-03T02:59:00.000Z", True)


def test_bad_input_writes_nothing(sta):
    sta.create("Things", thing(), B)
    before = _obs_count(sta)
    rows = [["2026-03-01T00:00:00Z", 1.0], ["2026-03-01T00:01:00Z", "high"], ["2026-03-01T00:02:00Z", 2.0]]
    with pytest.raises(InvalidParameter, match="not a number"):
        sta.create_observations(
            [{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"], "dataArray": rows}], B
        )
    good = [{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"], "dataArray": rows[:1]}]
    with pytest.raises(FeatureNotFound):  # the second item names a missing datastream: the first lands neither
        sta.create_observations([*good, {**good[0], "Datastream": {"@iot.id": 99}}], B)
    with pytest.raises(InvalidParameter):
        sta.create("Observations", {"phenomenonTime": "2026-03-01T00:00:00Z", "result": 1.0}, B)
    with pytest.raises(InvalidParameter, match="phenomenonTime"):
        sta.create("Observations", {"Datastream": {"@iot.id": 1}, "phenomenonTime": "yesterday", "result": 1.0}, B)
    assert _obs_count(sta) == before == 0
    # a deep insert failing in its last part leaves no Thing, Location, Sensor behind
    body = thing("Broken")
    body["Datastreams"][0]["observationType"] = "urn:not-a-type"
    with pytest.raises(InvalidParameter, match="observationType"):
        sta.create("Things", body, B)
    body = thing("Broken", thresholds={"low": "two"})
    with pytest.raises(InvalidParameter) as e:
        sta.create("Things", body, B)
    assert e.value.where["parameter"] == "properties.thresholds[0]"
    for es in ("Things", "Locations", "Sensors", "Datastreams"):
        assert sta.get(es, {"$count": "true"}, B)["@iot.count"] == 1, es
    for bad_filter in (
        "result gt",
        "name eq 'x' and",
        "foo eq 1",
        "result gt 'x' or (",
        "phenomenonTime gt 5",
        "name add 1",
    ):
        with pytest.raises(InvalidParameter) as e:
            sta.get(
                "Observations" if "result" in bad_filter or "phen" in bad_filter else "Things",
                {"$filter": bad_filter},
                B,
            )
        assert e.value.where["parameter"] == "$filter", bad_filter
    with pytest.raises(InvalidParameter):
        sta.get("Things", {"$top": "-1"}, B)
    with pytest.raises(InvalidParameter):
        sta.get("Things", {"$orderby": "name sideways"}, B)
    with pytest.raises(FeatureNotFound):
        sta.get("Things(42)", {}, B)
    with pytest.raises(InvalidParameter):
        sta.get("Widgets", {}, B)


def test_delete_cascades(sta, empty_store):
    sta.create("Things", thing(thresholds={"low": 2.0}), B)
    sta.create("Things", thing("Other", feature="pipe-nodes/N-9"), B)
    sta.ingest([(1, T0_MS + np.arange(10) * 60_000, np.array([3, 1, 1, 3, 3, 3, 3, 3, 3, 3.0]))])
    sta.ingest([(2, T0_MS + np.arange(5) * 60_000, np.full(5, 4.0))])
    assert len(sta.alarms()) == 1
    sta.delete("Things(1)")
    assert sta.get("Datastreams", {}, B)["value"][0]["name"] == "Other pressure"
    assert _obs_count(sta) == 5 and sta.alarms() == []
    assert sta.get("Locations", {"$count": "true"}, B)["@iot.count"] == 2  # Locations stay (STA: shared entities)
    assert sensors.things_for_feature(empty_store, "pipe-nodes/N-1") == []


def test_datastream_needs_its_links_and_numeric_results(sta):
    sta.create("Things", thing(), B)
    base = {
        "name": "x",
        "description": "x",
        "observationType": MEASUREMENT,
        "unitOfMeasurement": {"name": "m", "symbol": "m"},
        "Thing": {"@iot.id": 1},
        "Sensor": {"@iot.id": 1},
    }
    with pytest.raises(InvalidParameter, match="ObservedProperty"):
        sta.create("Datastreams", base, B)
    with pytest.raises(FeatureNotFound):
        sta.create("Datastreams", {**base, "ObservedProperty": {"@iot.id": 7}}, B)
    url, ds = sta.create("Datastreams(1)/Observations", {"result": 2.5}, B)
    assert ds["result"] == 2.5 and url.startswith(f"{B}/Observations(")
    with pytest.raises(InvalidParameter, match="not a number"):
        sta.create("Datastreams(1)/Observations", {"result": "2.5"}, B)
    # a non-numeric datastream keeps any JSON result
    sta.create(
        "Datastreams",
        {
            **base,
            "ObservedProperty": {"@iot.id": 1},
            "observationType": MEASUREMENT.replace("Measurement", "Observation"),
        },
        B,
    )
    sta.create("Datastreams(2)/Observations", {"result": {"state": "open"}}, B)
    got = sta.get("Datastreams(2)/Observations", {"$filter": "result ne null"}, B)["value"]
    assert got[0]["result"] == {"state": "open"}


def test_incremental_alarms_equal_one_batch_on_random_data(tmp_path):
    """Random readings with every kind of rule, ingested in random chunks (the incremental path, alarms carried
    across requests) and in one batch: the same alarms, field for field."""
    from cim.store import open_store
    from tests import common

    rules = [
        {"low": -1.0, "severity": "alarm"},
        {"high": 1.2},
        {"rate_per_hour": 40.0, "severity": "info"},
        {"high": 0.5, "hours_utc": [22, 2]},
    ]
    rng = np.random.default_rng(5)
    n = 5000
    t = T0_MS + np.cumsum(rng.integers(30_000, 90_000, n)).astype(np.int64)
    v = np.round(np.cumsum(rng.normal(0, 0.08, n)) * 0.5 + rng.normal(0, 0.3, n), 3)
    got = []
    for name, cuts in (("one", [0, n]), ("chunks", [0, *sorted(rng.choice(np.arange(1, n), 40, replace=False)), n])):
        store = open_store(tmp_path / f"{name}.sqlite", create=True)
        store.init(common.CITY)
        sta = Sensors(store)
        sta.create("Things", thing(thresholds=rules), B)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            sta.ingest([(1, t[a:b], v[a:b])])
        got.append(sorted(_alarms(sta)))
        store.close()
    assert len(got[0]) > 20 and {a[0] for a in got[0]} == {"low", "high", "rate_per_hour"}
    assert got[0] == got[1]


def test_non_numeric_results_round_trip_and_column_selection(sta, empty_store):
    """An OM_Observation datastream keeps any JSON result (the row-by-row load, the rj column); $select reads
    only the columns asked for and still finds the JSON results; the auto FeatureOfInterest comes with them."""
    body = thing(name="Valve 3", feature="pipe-nodes/N-3")
    body["Datastreams"][0]["observationType"] = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation"
    sta.create("Things", body, B)
    results = [1.5, "open", {"state": "closed", "turns": 12}, True, [1, 2], 2]
    times = minutes(len(results))
    sta.create_observations(
        [
            {
                "Datastream": {"@iot.id": 1},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[t, r] for t, r in zip(times, results, strict=True)],
            }
        ],
        B,
    )
    q = {"$orderby": "phenomenonTime", "$select": "result,phenomenonTime"}
    got = sta.get("Datastreams(1)/Observations", q, B)["value"]
    assert [o["result"] for o in got] == results and [o["phenomenonTime"][:19] for o in got] == [t[:19] for t in times]
    assert all(set(o) == {"result", "phenomenonTime"} for o in got)
    only_ids = sta.get("Datastreams(1)/Observations", {"$orderby": "phenomenonTime", "$select": "id"}, B)["value"]
    assert [set(o) for o in only_ids] == [{"@iot.id"}] * len(results)
    one = sta.get(f"Observations({only_ids[2]['@iot.id']})", {"$expand": "FeatureOfInterest($select=feature)"}, B)
    assert one["result"] == {"state": "closed", "turns": 12}
    assert one["FeatureOfInterest"]["feature"] == {"type": "Point", "coordinates": [123.41, 41.79]}
    assert sta.get("FeaturesOfInterest", {"$count": "true"}, B)["@iot.count"] == 1
    # the same shape of lists posted to a numeric (OM_Measurement) datastream is refused, nothing written
    sta.create("Things", thing(name="Logger 4", feature="pipe-nodes/N-4"), B)
    before = _obs_count(sta)
    with pytest.raises(InvalidParameter, match="not a number"):
        sta.create_observations(
            [
                {
                    "Datastream": {"@iot.id": 2},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [[times[0], [1, 2]], [times[1], [3, 4]]],
                }
            ],
            B,
        )
    assert _obs_count(sta) == before
