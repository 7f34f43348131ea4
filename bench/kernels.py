"""Spatial query kernels: this service's SQLite kernel against the same query as raw SQL in PostGIS.

The same synthetic city (``bench/synth.py``) at several sizes is held twice: in a SQLite store
(``bench/datasets.synth_store``) and in a PostGIS store of this service (throwaway cluster,
``tests/pg.py``; table ``f_<collection>`` with a 2-D GiST index on ``geom`` and an n-D GiST index on
``env``, the 3-D segment spanning each solid's box).  Each query runs on both, alternately, over the
same seeded random windows; the answers must agree (the number matched is compared for every query).

``bbox``      buildings intersecting a 200 m x 200 m window: ours ``store.query(region, limit=0)`` (R*Tree
              candidates, then the exact 2-D test in shapely; gives the matching ids and numberMatched,
              decodes no feature) against ``SELECT fid ... WHERE geom && ST_MakeEnvelope(...) AND
              ST_Intersects(geom, ST_MakeEnvelope(...))``;
``underground`` the candidate search of the underground-use analysis: pipes in a 500 m window and a
              depth band (30-45 m, the 15 m under the ground): ours ``Region(..., zmin, zmax)`` on the
              3-D R*Tree against ``env &&& <3-D box>`` on the n-D GiST index plus the same ``ST_Intersects``;
``tall``      buildings reaching above 100 m in a 500 m window (a z filter that the 3-D index answers);
``page``      a whole bbox page, ``store.query(..., limit=100)`` with 100 features decoded, on both of this
              service's backends (the figure ``bench/stores.py`` reports, here at every size).

PostgreSQL is reached over its Unix socket with psycopg 3 (statements prepared after 5 runs): the
peer's best case.  ``EXPLAIN ANALYZE`` of a sample of the queries gives PostGIS's own execution time,
to separate the kernel from the round trip.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from . import synth
from .common import Context, Row, latency_stats
from .datasets import synth_store
from .peers_env import loadavg

NAME = "kernels"
TITLE = "Spatial query kernels: SQLite R*Tree + exact test against PostGIS SQL"

KINDS = ("bbox", "underground", "tall", "page")
SRID = synth.CITY.crs_epsg
BAND = (30.0, 45.0)  # the 15 m under the synthetic ground (about 45 m)
TALL = (100.0, 10_000.0)

SQL = {
    "bbox": (
        "SELECT fid FROM {s}.f_buildings WHERE geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, {srid}) "
        "AND ST_Intersects(geom, ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, {srid}))"
    ),
    "underground": (
        "SELECT fid FROM {s}.f_pipes WHERE env &&& ST_SetSRID(ST_MakeLine(ST_MakePoint(%(x0)s, %(y0)s, "
        "%(z0)s), ST_MakePoint(%(x1)s, %(y1)s, %(z1)s)), {srid}) "
        "AND ST_Intersects(geom, ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, {srid}))"
    ),
    "tall": (
        "SELECT fid FROM {s}.f_buildings WHERE env &&& ST_SetSRID(ST_MakeLine(ST_MakePoint(%(x0)s, %(y0)s, "
        "%(z0)s), ST_MakePoint(%(x1)s, %(y1)s, %(z1)s)), {srid}) "
        "AND ST_Intersects(geom, ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, {srid}))"
    ),
}
COLLECTION = {"bbox": "buildings", "underground": "pipes", "tall": "buildings", "page": "buildings"}


def sizes(ctx: Context) -> list[int]:
    return [1_000, 10_000, 100_000] if ctx.quick else [1_000, 10_000, 100_000, 1_000_000]


def windows(n: int, kind: str, count: int, seed: int = 17) -> list[dict[str, float]]:
    x0, y0, x1, y1 = synth.extent(n)
    side = 200.0 if kind in ("bbox", "page") else 500.0
    side = min(side, x1 - x0, y1 - y0)
    rng = np.random.default_rng(seed + KINDS.index(kind))
    z = {"underground": BAND, "tall": TALL}.get(kind, (None, None))
    out = []
    for _ in range(count):
        x, y = rng.uniform(x0, x1 - side), rng.uniform(y0, y1 - side)
        out.append({"x0": x, "y0": y, "x1": x + side, "y1": y + side, "z0": z[0], "z1": z[1]})
    return out


def _ours(store: Any, kind: str) -> Any:
    from cim.store import Region

    col = COLLECTION[kind]
    limit = 100 if kind == "page" else 0

    def call(w: dict[str, float]) -> int:
        region = Region.box(w["x0"], w["y0"], w["x1"], w["y1"], w["z0"], w["z1"])
        return store.query(col, region=region, limit=limit).matched

    return call


def _raw(conn: Any, schema: str, kind: str) -> Any:
    q = SQL[kind].format(s=schema, srid=SRID)

    def call(w: dict[str, float]) -> int:
        return len(conn.execute(q, w).fetchall())

    return call


def _explain(conn: Any, schema: str, kind: str, ws: list[dict[str, float]]) -> dict[str, Any]:
    """PostGIS's own execution and planning time (ms, median) and the plan's index of a few queries."""
    q = "EXPLAIN (ANALYZE, FORMAT JSON) " + SQL[kind].format(s=schema, srid=SRID)
    ex, plan, index = [], [], None
    for w in ws:
        doc = conn.execute(q, w).fetchone()[0]
        doc = doc if isinstance(doc, list) else json.loads(doc)
        ex.append(doc[0]["Execution Time"])
        plan.append(doc[0].get("Planning Time", float("nan")))
        node = doc[0]["Plan"]
        while index is None and node:
            index = node.get("Index Name")
            node = (node.get("Plans") or [None])[0]
    return {"execution_ms": float(np.median(ex)), "planning_ms": float(np.median(plan)), "index": index}


def _alternate(a: Any, b: Any, ws: list[dict[str, float]], warm: int = 10) -> tuple[list[float], list[float], int]:
    """Seconds per call of ``a`` and ``b`` on each window in turn, and how many answers differed."""
    for w in ws[:warm]:
        a(w)
        b(w)
    ta, tb, differ = [], [], 0
    for i, w in enumerate(ws):
        order = (a, b) if i % 2 == 0 else (b, a)
        got = {}
        for fn in order:
            t0 = time.perf_counter()
            got[fn] = fn(w)
            (ta if fn is a else tb).append(time.perf_counter() - t0)
        differ += got[a] != got[b]
    return ta, tb, differ


def run(ctx: Context) -> dict[str, Any]:
    import psycopg

    from cim.store import open_store
    from tests import pg

    why = pg.why_unavailable()
    result: dict[str, Any] = {
        "sizes": sizes(ctx),
        "postgis": why and f"skipped: {why}",
        "runs": {},
        "band": BAND,
        "tall": TALL,
        "loadavg_start": loadavg(),
    }
    count = 100 if ctx.quick else 300
    cluster = None if why else pg.Cluster()
    try:
        conn = None
        if cluster is not None:
            conn = psycopg.connect(
                host=str(cluster.dir), port=cluster.port, user="cim", dbname="postgres", autocommit=True
            )
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            result["postgis"] = conn.execute(
                "SELECT split_part(version(), ' on ', 1) || ', PostGIS ' || postgis_lib_version()"
            ).fetchone()[0]
        for n in sizes(ctx):
            path = synth_store(ctx, n)
            ours = open_store(str(path))
            pgs = None
            schema = f"kern_{n}"
            if cluster is not None:
                ctx.log(f"kernels: loading {n:,} buildings into PostGIS (schema {schema})")
                feats = synth.city(n)
                pgs = open_store(f"{cluster.url}?schema={schema}", create=True)
                pgs.init(synth.CITY, overwrite=True)
                t0 = time.perf_counter()
                pgs.write(feats)
                del feats
                conn.execute(f"ANALYZE {schema}.f_buildings; ANALYZE {schema}.f_pipes")
                ctx.log(f"kernels: PostGIS write {time.perf_counter() - t0:.0f} s")
            counts = ours.counts()
            per: dict[str, Any] = {"buildings": counts["buildings"], "pipes": counts["pipes"]}
            for kind in KINDS:
                ws = windows(n, kind, count)
                a = _ours(ours, kind)
                if pgs is None:
                    ta, tb, differ = [], [], 0
                    for w in ws:
                        t0 = time.perf_counter()
                        a(w)
                        ta.append(time.perf_counter() - t0)
                    matched = [a(w) for w in ws[:20]]
                else:
                    b = _ours(pgs, kind) if kind == "page" else _raw(conn, schema, kind)
                    ta, tb, differ = _alternate(a, b, ws)
                    matched = [a(w) for w in ws[:20]]
                r: dict[str, Any] = {
                    "ours": latency_stats(ta),
                    "mean_matched": float(np.mean(matched)),
                    "answers_differ": differ,
                    "queries": len(ws),
                }
                if tb:
                    r["postgis"] = latency_stats(tb)
                    r["ratio_p50"] = r["postgis"]["p50"] / r["ours"]["p50"]
                    r["ratio_p99"] = r["postgis"]["p99"] / r["ours"]["p99"]
                    if kind != "page":
                        r["postgis_server"] = _explain(conn, schema, kind, ws[:20])
                per[kind] = r
                ctx.log(
                    f"kernels {n:,} {kind}: ours p50 {r['ours']['p50']:.3f} ms"
                    + (f", PostGIS p50 {r['postgis']['p50']:.3f} ms ({r['ratio_p50']:.1f}x)" if tb else "")
                    + f", ~{r['mean_matched']:.0f} matched"
                    + (f", {differ} ANSWERS DIFFER" if differ else "")
                )
            ours.close()
            if pgs is not None:
                pgs.close()
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
            result["runs"][str(n)] = per
        if conn is not None:
            conn.close()
    finally:
        if cluster is not None:
            cluster.stop()
    result["loadavg_end"] = loadavg()
    return result


_LABEL = {
    "bbox": "bbox 200 m, ids",
    "underground": "3-D pipes 500 m x 30-45 m",
    "tall": "3-D bldg > 100 m, 500 m",
    "page": "bbox page of 100, store.query",
}


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for n, per in result["runs"].items():
        for kind in KINDS:
            r = per.get(kind)
            if not r:
                continue
            note = f"~{r['mean_matched']:.0f} matched"
            if "postgis" in r:
                note += f"; PostGIS/ours p50 {r['ratio_p50']:.2f}x, p99 {r['ratio_p99']:.2f}x"
            if r.get("answers_differ"):
                note += f"; {r['answers_differ']} ANSWERS DIFFER"
            out.append((NAME, f"{int(n):,} bldg {_LABEL[kind]}: ours SQLite", r["ours"], note))
            if "postgis" in r:
                srv = r.get("postgis_server")
                pnote = "raw SQL, Unix socket" if kind != "page" else "this service's PostGIS store"
                if srv:
                    pnote += f"; server exec {srv['execution_ms']:.3f} ms ({srv['index']})"
                out.append((NAME, f"{int(n):,} bldg {_LABEL[kind]}: PostGIS", r["postgis"], pnote))
    if str(result.get("postgis", "")).startswith("skipped"):
        out.append((NAME, "postgis", {}, result["postgis"]))
    return out
