"""Sensors and time series on city features: OGC SensorThings API 1.1 (Sensing) entities in the city store,
thresholds and alarms, and the reads notebooks and analyses use.

A Thing names the city feature it watches in its properties (``{"cim:feature": "pipe-nodes/N-123"}``); its
Datastreams hold the observations (one numeric column, ordered by datastream and time) and may carry
thresholds (:mod:`cim.sensors.alarms`).  The tables are created in the store on first use.

    from cim import sensors
    t, v = sensors.series(store, 7, "2026-01-20T00:00:00Z", "2026-01-21T00:00:00Z")
    sensors.things_for_feature(store, "water-districts/DMA-SE")
    sensors.find_datastreams(store, role="dma-inlet")
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import backend_of
from .errors import EntityNotFound
from .service import Sensors, _series
from .times import iso, parse_ms

__all__ = [
    "EntityNotFound",
    "feature_sensors",
    "Sensors",
    "find_datastreams",
    "latest",
    "observations_frame",
    "observations_frame_http",
    "series",
    "things_for_feature",
]


def _ms(value: Any, parameter: str) -> int | None:
    return None if value is None else parse_ms(value, parameter)


def series(store: Any, datastream_id: int, start: Any = None, end: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """One datastream's observations in [start, end) (ISO 8601 strings, datetimes or numpy datetime64; None =
    open), ordered by phenomenonTime.

    Returns (times, results): times ``datetime64[ms]`` (UTC), shape (n,); results float64, shape (n,) (NaN
    where a result is not a number).  EntityNotFound when the datastream does not exist.
    """
    with backend_of(store).read() as c:
        if not c.q(f"SELECT 1 FROM {c.T('sta_datastreams')} WHERE id = ?", [int(datastream_id)]):
            raise EntityNotFound("Datastreams", datastream_id)
        t, v = _series(c, int(datastream_id), _ms(start, "start"), _ms(end, "end"))
    return t.astype("datetime64[ms]"), v


def _datastreams(c: Any, where: str, params: list[Any]) -> list[dict[str, Any]]:
    T = c.T  # noqa: N806
    rows = c.q(
        f"SELECT d.id, d.name, d.description, d.unit, d.observation_type, d.properties, th.id, th.name, th.properties "
        f"FROM {T('sta_datastreams')} d JOIN {T('sta_things')} th ON th.id = d.thing_id WHERE {where} ORDER BY d.id",
        params,
    )
    return [
        {
            "id": r[0],
            "name": r[1],
            "description": r[2],
            "unitOfMeasurement": c.dec(r[3]),
            "observationType": r[4],
            "properties": c.dec(r[5]) if r[5] is not None else {},
            "thing": {"id": r[6], "name": r[7], "properties": c.dec(r[8]) if r[8] is not None else {}},
        }
        for r in rows
    ]


def things_for_feature(store: Any, feature: str) -> list[dict[str, Any]]:
    """The Things whose properties have ``"cim:feature": feature`` ("collection/fid"), by id.

    Each: ``{"id", "name", "description", "properties", "datastreams": [{"id", "name", "unitOfMeasurement",
    "observationType", "properties"}]}``.
    """
    with backend_of(store).read() as c:
        key = c.json_get("properties", ["cim:feature"], "text")
        things = c.q(
            f"SELECT id, name, description, properties FROM {c.T('sta_things')} WHERE {key} = ? ORDER BY id", [feature]
        )
        out = []
        for tid, name, desc, props in things:
            ds = _datastreams(c, "d.thing_id = ?", [tid])
            out.append(
                {
                    "id": tid,
                    "name": name,
                    "description": desc,
                    "properties": c.dec(props) if props is not None else {},
                    "datastreams": [
                        {k: d[k] for k in ("id", "name", "unitOfMeasurement", "observationType", "properties")}
                        for d in ds
                    ],
                }
            )
    return out


def find_datastreams(store: Any, **property_equals: Any) -> list[dict[str, Any]]:
    """Datastreams whose Datastream or Thing properties have every given key equal to the value
    (``find_datastreams(store, role="dma-inlet")``), by id.

    Each: ``{"id", "name", "description", "unitOfMeasurement", "observationType", "properties",
    "thing": {"id", "name", "properties"}}``.  Keys that are not Python names: ``**{"cim:feature": ...}``.
    """
    with backend_of(store).read() as c:
        conds, params = ["1=1"], []
        for k, v in property_equals.items():
            kind = "bool" if isinstance(v, bool) else "num" if isinstance(v, int | float) else "text"
            conds.append(
                f"({c.json_get('d.properties', [k], kind)} = ? OR {c.json_get('th.properties', [k], kind)} = ?)"
            )
            params += [v, v]
        return _datastreams(c, " AND ".join(conds), params)


def latest(store: Any, datastream_ids: list[int]) -> dict[int, tuple[str, float | None]]:
    """The newest observation of each datastream: {id: (ISO time, result)} (datastreams without any left out)."""
    out: dict[int, tuple[str, float | None]] = {}
    with backend_of(store).read() as c:
        for ds in datastream_ids:
            row = c.q(f"SELECT t, result FROM {c.T('sta_obs')} WHERE ds = ? ORDER BY t DESC, id DESC LIMIT 1", [ds])
            if row:
                out[ds] = (iso(row[0][0]) or "", row[0][1])
    return out


def feature_sensors(store: Any, feature: str) -> list[dict[str, Any]]:
    """What watches a city feature ("collection/fid"), for its ``/items/{fid}`` page: per Thing ``{"id",
    "name", "datastreams": [{"id", "name", "unit", "latest": {"time", "result"} | None, "alarm": severity of
    its most severe active alarm | None}]}``.  Empty (and nothing created) when the store has no sensor
    tables yet."""
    from .alarms import SEVERITIES

    b = backend_of(store)
    if not b.exists():
        return []
    things = things_for_feature(store, feature)
    if not things:
        return []
    ds_ids = [d["id"] for th in things for d in th["datastreams"]]
    last = latest(store, ds_ids)
    active: dict[int, str] = {}
    with b.read() as c:
        marks = ",".join("?" * len(ds_ids))
        for ds, sev in c.q(
            f"SELECT ds, severity FROM {c.T('sta_alarms')} WHERE closed_t IS NULL AND ds IN ({marks})", ds_ids
        ):
            if ds not in active or SEVERITIES.index(sev) > SEVERITIES.index(active[ds]):
                active[ds] = sev
    return [
        {
            "id": th["id"],
            "name": th["name"],
            "datastreams": [
                {
                    "id": d["id"],
                    "name": d["name"],
                    "unit": (d.get("unitOfMeasurement") or {}).get("symbol"),
                    "latest": {"time": last[d["id"]][0], "result": last[d["id"]][1]} if d["id"] in last else None,
                    "alarm": active.get(d["id"]),
                }
                for d in th["datastreams"]
            ],
        }
        for th in things
    ]


def observations_frame(store: Any, feature_or_datastream: int | str, start: Any = None, end: Any = None):
    """Observations in [start, end) as a pandas DataFrame, one row per observation, columns ``time``
    (datetime64[ms, UTC]), ``datastream`` (id), ``name``, ``unit`` (symbol) and ``result`` (float).

    ``feature_or_datastream``: a datastream id (int, or its digits), or a city feature ``"collection/fid"``
    (every datastream of the Things watching it).  Sorted by datastream, then time.
    """
    if isinstance(feature_or_datastream, int) or (
        isinstance(feature_or_datastream, str) and feature_or_datastream.isdigit()
    ):
        ds_ids = [int(feature_or_datastream)]
        with backend_of(store).read() as c:
            meta = _datastreams(c, "d.id = ?", ds_ids)
        if not meta:
            raise EntityNotFound("Datastreams", feature_or_datastream)
    else:
        meta = [d for th in things_for_feature(store, str(feature_or_datastream)) for d in th["datastreams"]]
    return _frame([(d, *series(store, d["id"], start, end)) for d in meta])


def _frame(parts: list[tuple[dict[str, Any], np.ndarray, np.ndarray]]):
    """(datastream dict, times datetime64[ms], results) per datastream -> the long DataFrame."""
    import pandas as pd

    cols: dict[str, list] = {"time": [], "datastream": [], "name": [], "unit": [], "result": []}
    for d, t, v in parts:
        n = len(t)
        cols["time"].append(t.astype("datetime64[ms]"))
        cols["datastream"].append(np.full(n, d["id"], dtype=np.int64))
        cols["name"].append(np.full(n, d["name"], dtype=object))
        cols["unit"].append(np.full(n, (d.get("unitOfMeasurement") or {}).get("symbol"), dtype=object))
        cols["result"].append(np.asarray(v, dtype=np.float64))
    empty = {"time": "datetime64[ms]", "datastream": np.int64, "name": object, "unit": object, "result": np.float64}
    df = pd.DataFrame({k: np.concatenate(v) if v else np.zeros(0, dtype=empty[k]) for k, v in cols.items()})
    df["time"] = df["time"].dt.tz_localize("UTC")
    return df


def observations_frame_http(get_json: Any, feature_or_datastream: int | str, start: Any = None, end: Any = None):
    """:func:`observations_frame` through a service's SensorThings API: ``get_json(path, params)`` returns the
    decoded JSON of ``GET /sta/v1.1/<path>`` (paths and ``@iot.nextLink`` URLs both).  Same columns and order."""
    from .times import iso

    if isinstance(feature_or_datastream, int) or str(feature_or_datastream).isdigit():
        ds = get_json(f"Datastreams({int(feature_or_datastream)})", {"$select": "id,name,unitOfMeasurement"})
        meta = [ds]
    else:
        lit = str(feature_or_datastream).replace("'", "''")
        doc = get_json(
            "Things",
            {
                "$filter": f"properties/cim:feature eq '{lit}'",
                "$expand": "Datastreams($select=id,name,unitOfMeasurement;$top=10000)",
                "$top": "10000",
            },
        )
        meta = [d for th in doc["value"] for d in th.get("Datastreams", [])]
        meta.sort(key=lambda d: d["@iot.id"])
    conds = []
    if start is not None:
        conds.append(f"phenomenonTime ge {iso(parse_ms(start, 'start'))}")
    if end is not None:
        conds.append(f"phenomenonTime lt {iso(parse_ms(end, 'end'))}")
    parts = []
    for d in meta:
        params = {"$select": "phenomenonTime,result", "$orderby": "phenomenonTime asc", "$top": "10000"}
        if conds:
            params["$filter"] = " and ".join(conds)
        times: list[str] = []
        values: list[Any] = []
        doc = get_json(f"Datastreams({d['@iot.id']})/Observations", params)
        while True:
            for o in doc["value"]:
                times.append(o["phenomenonTime"])
                values.append(o["result"])
            nxt = doc.get("@iot.nextLink")
            if not nxt:
                break
            doc = get_json(nxt, None)
        t = np.array([x[:-1] for x in times], dtype="datetime64[ms]")
        v = np.array(
            [x if isinstance(x, int | float) and not isinstance(x, bool) else np.nan for x in values], dtype=float
        )
        parts.append(({"id": d["@iot.id"], "name": d["name"], "unitOfMeasurement": d.get("unitOfMeasurement")}, t, v))
    return _frame(parts)
