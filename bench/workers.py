"""Scale-out: the same requests at 1, 2 and 4 uvicorn workers, on SQLite and on PostGIS.

The sample city is copied into a throwaway PostGIS cluster (``tests/pg.py``); each worker count serves
it with 16 connections of wrk, on a mix of bbox pages, offset pages and single items.  The load
generator and the database share the same 2 cores as the workers, so the ceiling here is the machine,
not the design: the figures show how the service behaves as workers are added, not a cluster's rate.
"""

from __future__ import annotations

from typing import Any

from cim.store import open_store
from cim.store.copy import copy_store

from . import items
from .common import Context, Row, Server, load, median_of_runs

NAME = "workers"
TITLE = "Throughput at 1, 2 and 4 workers (SQLite and PostGIS)"
WORKERS = (1, 2, 4)
CONNECTIONS = 16


def run(ctx: Context) -> dict[str, Any]:
    from tests import pg

    path = ctx.sample_store()
    src = open_store(path)
    mix = items.paths(items.plan(src))
    urls = mix["bbox"] * 10 + mix["offsets"][:10] + mix["item"][:20]
    why = pg.why_unavailable()
    cluster = None if why else pg.Cluster()
    stores: dict[str, str] = {"sqlite": str(path)}
    result: dict[str, Any] = {"connections": CONNECTIONS, "postgis": why or "available", "runs": {}}
    try:
        if cluster is not None:
            url = f"{cluster.url}?schema=sample"
            dst = open_store(url, create=True)
            copy_store(src, dst, overwrite=True)
            dst.close()
            stores["postgis"] = url
        src.close()
        for backend, store in stores.items():
            for w in WORKERS:
                runs = []
                with Server(store, workers=w) as srv:
                    load(srv.url, urls, connections=CONNECTIONS, duration=min(2.0, ctx.duration))  # warm every worker
                    for _ in range(ctx.repeats):
                        runs.append(load(srv.url, urls, connections=CONNECTIONS, duration=ctx.duration))
                result["runs"][f"{backend}-{w}"] = median_of_runs(runs, ("rps", "p50", "p99", "errors"))
                r = result["runs"][f"{backend}-{w}"]
                ctx.log(f"workers: {backend} x{w}: {r['rps']:.0f} req/s, p99 {r['p99']:.1f} ms")
    finally:
        if cluster is not None:
            cluster.stop()
    return result


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for key, r in result["runs"].items():
        backend, w = key.split("-")
        out.append(
            (
                NAME,
                f"{backend}, {w} worker(s), {result['connections']} conn, mixed",
                {"p50": r.get("p50"), "p99": r.get("p99"), "rps": r.get("rps")},
                f"errors {r.get('errors', 0)}",
            )
        )
    if result["postgis"] != "available":
        out.append((NAME, "postgis", {}, f"skipped: {result['postgis']}"))
    return out
