"""Sensor time series: DataArray bulk ingest and one-day window queries (``python -m bench sensors``).

* Ingest: 1,000,000 observations (10 datastreams x 100,000 one-minute readings, one threshold rule each so
  alarms are computed) as one ``CreateObservations`` DataArray body: in-process into SQLite and PostGIS, and
  over HTTP (uvicorn, SQLite); against PostgreSQL ``COPY`` of the same rows into a table shaped and indexed
  like ``sta_obs`` (the ceiling).
* Window: a store of 10,000,000 observations (100 datastreams x 100,000 one-minute readings, about 69 days
  each), p50/p99 of 300 one-day windows (1,440 observations) at random datastreams and days:
  ``cim.sensors.series`` in-process, ``GET /sta/v1.1/Datastreams(n)/Observations?$filter=phenomenonTime ge
  ... and phenomenonTime lt ...&$top=1440`` in-process (the library call the route makes) and over HTTP.

``--quick``: a tenth of the rows.  The window store is built once and kept in ``bench/out`` (with a ``.ok``
marker holding its build rate); delete it to rebuild.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import orjson

from .common import Context, Row, latency_stats, remove_store

NAME = "sensors"
TITLE = "Sensor time series: DataArray ingest and one-day windows"
T0 = np.datetime64("2026-01-01T00:00:00", "ms")
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def _thing(k: int) -> dict[str, Any]:
    return {
        "name": f"logger {k}",
        "description": "bench",
        "properties": {"cim:feature": f"pipe-nodes/N-{k}"},
        "Datastreams": [
            {
                "name": f"pressure {k}",
                "description": "bench",
                "observationType": MEASUREMENT,
                "unitOfMeasurement": {"name": "bar", "symbol": "bar"},
                "properties": {"thresholds": {"low": 1.0, "high": 9.0}},
                "Sensor": {"name": "s", "description": "s", "encodingType": "text/plain", "metadata": "m"}
                if k == 0
                else {"@iot.id": 1},
                "ObservedProperty": {"name": "p", "definition": "d", "description": "d"} if k == 0 else {"@iot.id": 1},
            }
        ],
    }


def _mb(path: Any) -> float:
    """MB of a SQLite store with its WAL (pages not yet checkpointed live there)."""
    wal = f"{path}-wal"
    return (os.path.getsize(path) + (os.path.getsize(wal) if os.path.exists(wal) else 0)) / 1e6


def _located(k: int) -> dict[str, Any]:
    """The bench Thing k with a Location: its observations get a FeatureOfInterest made from it."""
    loc = {"type": "Point", "coordinates": [123.40 + k * 1e-3, 41.80]}
    return {**_thing(k), "Locations": [{"name": f"site {k}", "description": "bench", "encodingType":
            "application/geo+json", "location": loc}]}  # fmt: skip


def _store(url: str, things: int, located: bool = False):
    from cim.sensors import Sensors
    from cim.store import open_store
    from tests import common

    s = open_store(url, create=True)
    s.init(common.CITY, overwrite=True)
    sta = Sensors(s)
    for k in range(things):
        sta.create("Things", _located(k) if located else _thing(k), "")
    return s, sta


def _series(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    t = T0.astype(np.int64) + np.arange(n, dtype=np.int64) * 60_000
    v = np.round(4.0 + np.sin(np.arange(n) / 300.0 + k) + 0.02 * np.random.default_rng(k).standard_normal(n), 3)
    return t, v


def _body(streams: int, per: int) -> list[dict[str, Any]]:
    out = []
    for k in range(streams):
        t, v = _series(per, k)
        iso = [s + "Z" for s in np.datetime_as_string(t.astype("datetime64[ms]"), unit="ms").tolist()]
        out.append(
            {
                "Datastream": {"@iot.id": k + 1},
                "components": ["phenomenonTime", "result"],
                "dataArray": [list(r) for r in zip(iso, v.tolist(), strict=True)],
            }
        )
    return out


def _ingest(ctx: Context, pg_url: str | None) -> dict[str, Any]:
    from .common import Server

    streams, per = 10, (10_000 if ctx.quick else 100_000)
    n = streams * per
    body = _body(streams, per)
    raw = orjson.dumps(body)
    out: dict[str, Any] = {"observations": n, "body_mb": len(raw) / 1e6}
    path = ctx.out / "sensors-ingest.sqlite"
    remove_store(path)
    s, sta = _store(str(path), streams)
    t, c = time.perf_counter(), time.process_time()
    sta.create_observations(body, "")
    out["sqlite_dataarray"] = n / (time.perf_counter() - t)
    out["sqlite_dataarray_cpu"] = n / (time.process_time() - c)  # per second of this process's CPU time
    ctx.log(f"sensors: DataArray into SQLite in-process {out['sqlite_dataarray']:,.0f} obs/s")
    s.close()  # checkpoints the WAL into the file
    out["sqlite_mb_per_mobs"] = _mb(path) / (n / 1e6)
    remove_store(path)
    # the same into Things with a Location: every observation gets the FeatureOfInterest made from it
    s, sta = _store(str(path), streams, located=True)
    t, c = time.perf_counter(), time.process_time()
    sta.create_observations(body, "")
    out["sqlite_dataarray_foi"] = n / (time.perf_counter() - t)
    out["sqlite_dataarray_foi_cpu"] = n / (time.process_time() - c)
    s.close()
    out["sqlite_foi_mb_per_mobs"] = _mb(path) / (n / 1e6)
    ctx.log(f"sensors: DataArray into SQLite, Things with a Location {out['sqlite_dataarray_foi']:,.0f} obs/s")
    remove_store(path)
    out["sqlite_executemany"], out["sqlite_executemany_cpu"] = _sqlite_ceiling(ctx, streams, per)
    ctx.log(f"sensors: sqlite3 executemany of the same rows {out['sqlite_executemany']:,.0f} rows/s")
    # over HTTP: the same body posted to a uvicorn server
    import httpx

    s, _ = _store(str(path), streams)
    s.close()
    token = "bench-sensor-token-000000000001"
    with Server(path, extra_env={"CIM_WRITE_TOKENS": token}) as srv:
        t = time.perf_counter()
        r = httpx.post(
            srv.url + "/sta/v1.1/CreateObservations",
            content=raw,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=600,
        )
        dt = time.perf_counter() - t
        assert r.status_code == 201, r.text[:300]
    out["sqlite_http"] = n / dt
    ctx.log(f"sensors: DataArray into SQLite over HTTP {out['sqlite_http']:,.0f} obs/s")
    remove_store(path)
    if pg_url is not None:
        s, sta = _store(pg_url + "?schema=bench_sensors", streams)
        t = time.perf_counter()
        sta.create_observations(body, "")
        out["postgis_dataarray"] = n / (time.perf_counter() - t)
        s.close()
        out["postgres_copy"] = _copy(pg_url, streams, per)
        ctx.log(
            f"sensors: DataArray into PostGIS {out['postgis_dataarray']:,.0f} obs/s, "
            f"COPY {out['postgres_copy']:,.0f} rows/s"
        )
    return out


def _sqlite_ceiling(ctx: Context, streams: int, per: int) -> tuple[float, float]:
    """Rows/s of plain sqlite3 executemany of the same rows into a table shaped like sta_obs (the SQLite
    ceiling: what DataArray parsing, validation, alarms and the HTTP layer add is the rest)."""
    import sqlite3

    path = ctx.out / "sensors-ceiling.sqlite"
    remove_store(path)
    rows = [(np.arange(k * per + 1, (k + 1) * per + 1), np.full(per, k + 1), *_series(per, k)) for k in range(streams)]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE o (ds INTEGER NOT NULL, t INTEGER NOT NULL, id INTEGER NOT NULL, result REAL, rj TEXT, "
        "rt INTEGER, foi INTEGER, PRIMARY KEY (ds, t, id)) WITHOUT ROWID"
    )
    t0, c0 = time.perf_counter(), time.process_time()
    conn.execute("BEGIN")
    for ids, ds, t, v in rows:
        conn.executemany(
            "INSERT INTO o (id, ds, t, result) VALUES (?, ?, ?, ?)",
            zip(ids.tolist(), ds.tolist(), t.tolist(), v.tolist(), strict=True),
        )
    conn.execute("COMMIT")
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    conn.close()
    remove_store(path)
    return streams * per / dt, streams * per / dc


def _copy(pg_url: str, streams: int, per: int) -> float:
    """Rows/s of psycopg COPY of the same rows (id, ds, t, result) into a table indexed like sta_obs."""
    import psycopg

    rows = []
    for k in range(streams):
        t, v = _series(per, k)
        rows.append((np.arange(k * per + 1, (k + 1) * per + 1), np.full(per, k + 1), t, v))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy (id bigint, ds bigint, t bigint, result float8)")
        conn.execute("CREATE INDEX ON bench_copy (ds, t)")
        conn.execute("CREATE INDEX ON bench_copy USING brin (t)")
        t0 = time.perf_counter()
        with conn.transaction(), conn.cursor().copy("COPY bench_copy (id, ds, t, result) FROM STDIN") as cp:
            cp.set_types(["int8", "int8", "int8", "float8"])
            for ids, ds, t, v in rows:
                for r in zip(ids.tolist(), ds.tolist(), t.tolist(), v.tolist(), strict=True):
                    cp.write_row(r)
        dt = time.perf_counter() - t0
        conn.execute("DROP TABLE bench_copy")
    return streams * per / dt


def _window(ctx: Context) -> dict[str, Any]:
    import httpx

    from cim import sensors
    from cim.sensors import Sensors
    from cim.store import open_store

    from .common import Server

    streams, per = 100, (10_000 if ctx.quick else 100_000)
    path = ctx.out / f"sensors-{streams * per}.sqlite"
    ok = path.with_suffix(".ok")  # the store is built once and kept (bench/out is not committed)
    out: dict[str, Any] = {"observations": streams * per}
    if ok.exists() and path.exists():
        s = open_store(str(path))
        sta = Sensors(s)
        out["cached"] = True
        out["numpy_ingest"] = float(ok.read_text() or "nan")
        ctx.log(f"sensors: reusing the {streams * per:,}-observation store {path}")
    else:
        remove_store(path)
        ok.unlink(missing_ok=True)
        s, sta = _store(str(path), streams)
        t0 = time.perf_counter()
        for k0 in range(0, streams, 10):
            sta.ingest([(k + 1, *_series(per, k)) for k in range(k0, k0 + 10)])
        build_s = time.perf_counter() - t0
        out["numpy_ingest"] = streams * per / build_s
        s.close()
        s = open_store(str(path))
        sta = Sensors(s)
        ok.write_text(f"{out['numpy_ingest']:.0f}")
        ctx.log(f"sensors: {streams * per:,} observations in {build_s:.1f} s ({out['numpy_ingest']:,.0f}/s)")
    out["store_mb"] = os.path.getsize(path) / 1e6
    rng = np.random.default_rng(3)
    days = per // 1440
    picks = [
        (int(rng.integers(1, streams + 1)), int(rng.integers(0, days))) for _ in range(300 if not ctx.quick else 60)
    ]

    def window(day: int) -> tuple[str, str]:
        a = T0 + np.timedelta64(day, "D")
        return str(a) + "Z", str(a + np.timedelta64(1, "D")) + "Z"

    def query(ds: int, day: int) -> tuple[str, dict[str, str]]:
        a, b = window(day)
        return f"Datastreams({ds})/Observations", {
            "$filter": f"phenomenonTime ge {a} and phenomenonTime lt {b}",
            "$top": "1440",
            "$select": "phenomenonTime,result",
        }

    times, cpu = [], []
    for ds, day in picks:
        t, c = time.perf_counter(), time.process_time()
        tt, _ = sensors.series(s, ds, *window(day))
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        assert len(tt) == 1440
    out["series"] = latency_stats(times)
    out["series_cpu"] = latency_stats(cpu)
    times, cpu = [], []
    for ds, day in picks:
        path_, params = query(ds, day)
        t, c = time.perf_counter(), time.process_time()
        page = sta.get(path_, params, "http://x/sta/v1.1")
        orjson.dumps(page)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        assert len(page["value"]) == 1440
    out["sta_inprocess"] = latency_stats(times)
    out["sta_inprocess_cpu"] = latency_stats(cpu)
    s.close()
    with Server(path) as srv, httpx.Client(base_url=srv.url + "/sta/v1.1") as client:
        for ds, day in picks[:10]:  # warm up
            client.get(*query(ds, day)[:1], params=query(ds, day)[1])
        times = []
        for _ in picks:  # the floor: the service root (a few hundred bytes), same server, client and moment
            t = time.perf_counter()
            r = client.get(srv.url + "/sta/v1.1")
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text[:300]
        out["root_http"] = latency_stats(times)
        times = []
        for ds, day in picks:
            path_, params = query(ds, day)
            t = time.perf_counter()
            r = client.get(path_, params=params)
            times.append(time.perf_counter() - t)
            assert r.status_code == 200 and len(r.json()["value"]) == 1440
    out["sta_http"] = latency_stats(times)
    ctx.log(
        "sensors: one-day window p50 "
        f"series {out['series']['p50']:.2f} ms, STA in-process {out['sta_inprocess']['p50']:.2f} ms, "
        f"HTTP {out['sta_http']['p50']:.2f} ms"
    )
    return out


def run(ctx: Context) -> dict[str, Any]:
    from tests import pg

    why = pg.why_unavailable()
    cluster = None if why else pg.Cluster()
    try:
        ingest = _ingest(ctx, cluster.url if cluster else None)
    finally:
        if cluster is not None:
            cluster.stop()
    load = os.getloadavg()
    window = _window(ctx)
    return {"ingest": ingest, "window": window, "load_average": [load, os.getloadavg()], "postgis": why or "available"}


def rows(r: dict[str, Any]) -> list[Row]:
    i, w = r["ingest"], r["window"]
    res: list[Row] = [
        (
            NAME,
            f"DataArray into SQLite, in-process, {i['observations']:,} obs",
            {"value": i["sqlite_dataarray"]},
            "obs/s",
        ),
        (NAME, "  same, per CPU-second of the process", {"value": i["sqlite_dataarray_cpu"]}, "obs/s"),
        (
            NAME,
            "DataArray into SQLite, Things with a Location (auto FOI)",
            {"value": i["sqlite_dataarray_foi"]},
            "obs/s",
        ),
        (NAME, "DataArray into SQLite over HTTP", {"value": i["sqlite_http"]}, "obs/s"),
        (NAME, "sqlite3 executemany of the same rows (SQLite ceiling)", {"value": i["sqlite_executemany"]}, "rows/s"),
        (NAME, "  same, per CPU-second", {"value": i["sqlite_executemany_cpu"]}, "rows/s"),
    ]
    if "postgres_copy" in i:
        res.append((NAME, "DataArray into PostGIS, in-process", {"value": i["postgis_dataarray"]}, "obs/s"))
        res.append((NAME, "PostgreSQL COPY of the same rows (ceiling)", {"value": i["postgres_copy"]}, "rows/s"))
    n = f"{w['observations']:,} obs"
    res += [
        (NAME, f"one-day window, cim.sensors.series, {n}", {"p50": w["series"]["p50"], "p99": w["series"]["p99"]}, ""),
        (NAME, f"one-day window, STA query in-process, {n}", {k: w["sta_inprocess"][k] for k in ("p50", "p99")}, ""),
        (NAME, "  same, CPU time of the process", {k: w["sta_inprocess_cpu"][k] for k in ("p50", "p99")}, ""),
        (NAME, f"one-day window, STA over HTTP, {n}", {k: w["sta_http"][k] for k in ("p50", "p99")}, ""),
        (NAME, "  floor: GET /sta/v1.1 (service root) over HTTP", {k: w["root_http"][k] for k in ("p50", "p99")}, ""),
    ]
    return res


if __name__ == "__main__":  # python -m bench.sensors [--quick]
    import sys

    ctx = Context(quick="--quick" in sys.argv)
    ctx.out.mkdir(parents=True, exist_ok=True)
    result = run(ctx)
    (ctx.out / "sensors.json").write_text(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    for row in rows(result):
        print(row)
