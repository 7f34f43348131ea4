"""A filtered items page (attribute filter and bbox) on 200,000 buildings: SQLite against PostGIS.

The same CQL2 filter (``height > 30 AND use IN ('residential','mixed')``) and a 400 m x 400 m bbox at
random places, ``limit=100``, through ``store.query`` on each backend (the store compiles the filter to
its own SQL), p50 and p99 of 200 queries; both stores hold the same synthetic city (bench/synth.py).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from cim.query.cql2 import parse_filter
from cim.store import Region, open_store

from . import synth
from .common import Context, Row, latency_stats, remove_store

NAME = "filters"
TITLE = "Filtered items page: SQLite vs PostGIS"
TEXT = "height > 30 AND use IN ('residential','mixed')"


def _times(store, n: int, count: int) -> dict[str, Any]:
    flt = parse_filter(TEXT, city_epsg=synth.CITY.crs_epsg)
    x0, y0, x1, y1 = synth.extent(n)
    rng = np.random.default_rng(9)
    times, matched = [], []
    for _ in range(count):
        x, y = rng.uniform(x0, x1 - 400), rng.uniform(y0, y1 - 400)
        t = time.perf_counter()
        page = store.query("buildings", region=Region.box(x, y, x + 400, y + 400), filter=flt, limit=100)
        times.append(time.perf_counter() - t)
        matched.append(page.matched)
    return {**latency_stats(times), "mean_matched": float(np.mean(matched))}


def run(ctx: Context) -> dict[str, Any]:
    from tests import pg

    n = 20_000 if ctx.quick else 200_000
    feats = synth.buildings(n)
    out: dict[str, Any] = {"buildings": n, "filter": TEXT, "runs": {}}
    path = ctx.out / f"filters-{n}.sqlite"
    remove_store(path)
    stores = {"sqlite": str(path)}
    why = pg.why_unavailable()
    cluster = None if why else pg.Cluster()
    if cluster is not None:
        stores["postgis"] = f"{cluster.url}?schema=filters"
    try:
        for backend, url in stores.items():
            s = open_store(url, create=True)
            s.init(synth.CITY, overwrite=True)
            s.write(feats)
            out["runs"][backend] = _times(s, n, 50 if ctx.quick else 200)
            s.close()
            ctx.log(f"filters: {backend}: p50 {out['runs'][backend]['p50']:.2f} ms")
    finally:
        if cluster is not None:
            cluster.stop()
        remove_store(path)
    out["postgis"] = why or "available"
    return out


def rows(r: dict[str, Any]) -> list[Row]:
    res = []
    for backend, v in r["runs"].items():
        res.append(
            (
                NAME,
                f"{backend}: filter + bbox 400 m, limit 100, {r['buildings']:,} bldg",
                {"p50": v["p50"], "p99": v["p99"]},
                f"~{v['mean_matched']:.0f} matched",
            )
        )
    if "sqlite" in r["runs"] and "postgis" in r["runs"]:
        ratio = r["runs"]["postgis"]["p50"] / r["runs"]["sqlite"]["p50"]
        res.append((NAME, "PostGIS p50 / SQLite p50", {"value": ratio}, "above 1: SQLite faster"))
    return res
