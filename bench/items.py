"""OGC API - Features items on the sample city: pages of 100 buildings and single items.

Three requests, each measured three ways:

``bbox``     ``/collections/buildings/items?bbox=<CRS84 box holding >= 100 buildings>&limit=100``
``offsets``  ``/collections/buildings/items?limit=100&offset=<k>``, k cycling over the whole collection
``item``     ``/collections/buildings/items/{id}``, ids cycling over a spread of buildings

* ``library``: the calls the route makes, without FastAPI (bbox parsing and region, ``store.query``,
  ``cim.geojson.encode_features``, orjson), timed per stage; "query+encode" is the headline; "stored" is the
  route's path since issue 16 (``store.query_geojson`` / ``get_geojson``: the stored CRS84 bytes, joined);
* ``testclient``: the app from ``api.main.create_app`` through ``fastapi.testclient.TestClient``
  (in process: routing, validation, the response; no sockets);
* ``http``: uvicorn in a subprocess on loopback, loaded by wrk at 1 and 16 connections.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any
from urllib.parse import quote

import numpy as np
import orjson

from .common import Context, Row, Server, burst, latency_stats, load, median_of_runs, percentile, timed_loop, wrk_path

NAME = "items"
TITLE = "OGC API - Features items (buildings)"

COLLECTION = "buildings"
LIMIT = 100
ITEMS = f"/collections/{COLLECTION}/items"
WARM_S = 15.0  # seconds of load at the highest concurrency before the measured HTTP runs (quick: half)


def _bbox_text(lonlat: np.ndarray) -> str:
    lo, hi = lonlat.min(axis=0), lonlat.max(axis=0)
    return ",".join(f"{v:.7f}" for v in (lo[0], lo[1], hi[0], hi[1]))


def plan(store: Any) -> dict[str, Any]:
    """The requests: a CRS84 bbox around the buildings' centre grown until it holds >= LIMIT buildings,
    page offsets spread over the collection, and building ids spread over it."""
    from cim.crs import CRS84, city_to_lonlat
    from cim.query import parse_bbox, region_from_bbox

    epsg = store.city().crs_epsg
    n = store.counts()[COLLECTION]
    if n < LIMIT:
        raise RuntimeError(f"the sample city has {n} buildings; the items benchmark needs at least {LIMIT}")
    b = store.bounds(COLLECTION)
    cx, cy = (b[0] + b[3]) / 2, (b[1] + b[4]) / 2
    half = 25.0
    while True:
        corners = np.array(
            [[cx - half, cy - half], [cx + half, cy - half], [cx + half, cy + half], [cx - half, cy + half]]
        )
        text = _bbox_text(city_to_lonlat(corners, epsg))
        region = region_from_bbox(parse_bbox(text), CRS84, epsg)
        matched = store.query(COLLECTION, region=region, limit=1).matched
        if matched >= LIMIT or half > 1e5:
            break
        half *= 1.15
    offsets = np.linspace(0, n - LIMIT, 50).astype(int).tolist()
    ids = [f.id for f in store.iter_features(COLLECTION)]
    pick = np.linspace(0, len(ids) - 1, min(200, len(ids))).astype(int)
    return {
        "bbox": text,
        "bbox_half_m": half,
        "bbox_matched": matched,
        "offsets": offsets,
        "ids": [ids[i] for i in pick],
        "buildings": n,
    }


def paths(p: dict[str, Any]) -> dict[str, list[str]]:
    return {
        "bbox": [f"{ITEMS}?bbox={p['bbox']}&limit={LIMIT}"],
        "offsets": [f"{ITEMS}?limit={LIMIT}&offset={k}" for k in p["offsets"]],
        "item": [f"{ITEMS}/{quote(i, safe='')}" for i in p["ids"]],
    }


def _budget(ctx: Context) -> dict[str, float]:
    return {"max_n": 60, "max_s": 1.0} if ctx.quick else {"max_n": 400, "max_s": 4.0}


# -- library ------------------------------------------------------------------------------------
def bench_library(ctx: Context, store: Any, p: dict[str, Any]) -> dict[str, Any]:
    from cim.collections import get_spec
    from cim.crs import CRS84, OutputCRS
    from cim.geojson import encode_features
    from cim.query import parse_bbox, region_from_bbox

    spec = get_spec(COLLECTION)
    epsg = store.city().crs_epsg
    out_crs = OutputCRS(epsg, CRS84)

    def page_call(kind: str) -> tuple[Any, dict[str, list[float]]]:
        stages: dict[str, list[float]] = {
            "region": [],
            "query": [],
            "encode": [],
            "serialise": [],
            "query+encode": [],
            "stored": [],  # what the route does now: the stored CRS84 GeoJSON bytes, joined (issue 16)
        }

        def call(i: int) -> None:
            t0 = time.perf_counter()
            region = region_from_bbox(parse_bbox(p["bbox"]), CRS84, epsg) if kind == "bbox" else None
            t1 = time.perf_counter()
            if kind == "item":
                feats = [store.get(COLLECTION, p["ids"][i % len(p["ids"])])]
            else:
                offset = 0 if kind == "bbox" else p["offsets"][i % len(p["offsets"])]
                feats = store.query(COLLECTION, region=region, limit=LIMIT, offset=offset).features
            t2 = time.perf_counter()
            docs = encode_features(spec, feats, out_crs)
            t3 = time.perf_counter()
            orjson.dumps(docs, option=orjson.OPT_SERIALIZE_NUMPY)
            t4 = time.perf_counter()
            if kind == "item":
                store.get_geojson(COLLECTION, p["ids"][i % len(p["ids"])])
            else:
                raw = store.query_geojson(COLLECTION, region=region, limit=LIMIT, offset=offset)
                b",".join(raw.features if raw is not None else [])
            t5 = time.perf_counter()
            for k, v in (
                ("region", t1 - t0),
                ("query", t2 - t1),
                ("encode", t3 - t2),
                ("serialise", t4 - t3),
                ("query+encode", t3 - t1),
                ("stored", t5 - t4),
            ):
                stages[k].append(v)

        return call, stages

    result: dict[str, Any] = {}
    for kind in ("bbox", "offsets", "item"):
        runs, stage_runs = [], []
        for _ in range(ctx.repeats):
            call, stages = page_call(kind)
            warm = 5  # page_call records the warm-up calls too: drop them
            timed_loop(call, warmup=warm, **_budget(ctx))
            st = {k: latency_stats(v[warm:]) for k, v in stages.items()}
            runs.append(st["query+encode"])
            stage_runs.append({k: s["p50"] for k, s in st.items()})
        result[kind] = median_of_runs(runs, ("p50", "p99"))
        result[kind]["stages_p50"] = {k: float(np.median([s[k] for s in stage_runs])) for k in stage_runs[0]}
        ctx.log(
            f"library {kind}: p50 {result[kind]['p50']:.2f} ms, p99 {result[kind]['p99']:.2f} ms "
            f"(stages {', '.join(f'{k} {v:.2f}' for k, v in result[kind]['stages_p50'].items())})"
        )

    # The same bbox call as the first one in a new thread, as each new thread of the server's pool
    # makes it: per-thread set-up (pyproj, SQLite connection) shows here, and explains HTTP tails.
    call, stages = page_call("bbox")
    firsts = []
    for _ in range(3 if ctx.quick else 5):
        t = threading.Thread(target=call, args=(0,))
        t.start()
        t.join()
        firsts.append(stages["region"][-1] + stages["query+encode"][-1])
    result["bbox_new_thread"] = {
        "p50": float(np.median(firsts)) * 1e3,
        "max": max(firsts) * 1e3,
        "runs": [t * 1e3 for t in firsts],
        "stages_p50": {k: float(np.median(v)) * 1e3 for k, v in stages.items()},
    }
    ctx.log(
        f"library bbox, first call in a new thread: p50 {result['bbox_new_thread']['p50']:.1f} ms "
        f"(region {result['bbox_new_thread']['stages_p50']['region']:.1f}, "
        f"query {result['bbox_new_thread']['stages_p50']['query']:.1f}, "
        f"encode {result['bbox_new_thread']['stages_p50']['encode']:.1f} ms)"
    )
    return result


# -- in process, through the app ----------------------------------------------------------------
def _check(kind: str, status: int, body: bytes) -> None:
    if status != 200:
        raise RuntimeError(f"{kind}: HTTP {status}: {body[:300]!r}")
    if kind != "item":
        got = orjson.loads(body)["numberReturned"]
        if got != LIMIT:
            raise RuntimeError(f"{kind}: numberReturned {got}, expected {LIMIT}")


def bench_testclient(ctx: Context, store_path: Any, ps: dict[str, list[str]]) -> dict[str, Any]:
    with warnings.catch_warnings():  # starlette's note that its TestClient will move to httpx2
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(store=str(store_path)))
    result: dict[str, Any] = {}
    with TestClient(app) as client:
        client.get("/health")
        for kind, urls in ps.items():
            sizes = []
            for u in urls[:10]:
                r = client.get(u)
                _check(kind, r.status_code, r.content)
                sizes.append(len(r.content))
            runs = []
            for _ in range(ctx.repeats):
                times = timed_loop(lambda i, urls=urls: client.get(urls[i % len(urls)]), **_budget(ctx))
                runs.append(latency_stats(times))
            result[kind] = median_of_runs(runs, ("p50", "p99"))
            result[kind]["response_bytes"] = int(np.median(sizes))
            ctx.log(
                f"testclient {kind}: p50 {result[kind]['p50']:.2f} ms, p99 {result[kind]['p99']:.2f} ms, "
                f"{result[kind]['response_bytes']:,} B"
            )
    return result


# -- over HTTP ----------------------------------------------------------------------------------
def bench_http(ctx: Context, store_path: Any, ps: dict[str, list[str]]) -> dict[str, Any]:
    import urllib.request

    conns = (1, 16)
    with Server(store_path, workers=ctx.workers, log=ctx.out / "server.log") as srv:
        ctx.log(
            f"uvicorn up at {srv.url} in {srv.startup_s:.2f} s ({ctx.workers} worker(s)); "
            f"client: {'wrk' if wrk_path() else 'httpx fallback (wrk not installed)'}"
        )
        # Cold start: the first requests of a fresh server, all at once.  Each new thread of the
        # server's pool pays a one-off start-up on its first request (pyproj builds a transformer
        # again in every thread), so this is measured apart, then the pool is warmed at the highest
        # concurrency (its figures kept as "warm-up") before the measured runs.
        n = max(conns)
        first = burst(srv.url + ps["bbox"][0], n)
        done = [t * 1e3 for t in first if t != float("inf")]
        cold = {
            "requests": n,
            "failed": n - len(done),
            "p50": percentile(done, 50),
            "max": max(done, default=float("nan")),
        }
        ctx.log(
            f"http cold start: {n} simultaneous bbox requests on a fresh server: "
            f"median {cold['p50']:.0f} ms, last {cold['max']:.0f} ms"
        )
        for kind, urls in ps.items():  # correctness
            with urllib.request.urlopen(srv.url + urls[0], timeout=30) as r:
                _check(kind, r.status, r.read())
        warm_s = WARM_S / 2 if ctx.quick else WARM_S
        warm = load(srv.url, ps["bbox"], connections=n, duration=warm_s)
        ctx.log(
            f"http warm-up bbox c{n} ({warm_s:.0f} s): {warm['rps']:.0f} req/s, "
            f"p50 {warm.get('p50', float('nan')):.2f} ms, max {warm.get('max', float('nan')):.0f} ms"
        )
        for urls in ps.values():
            load(srv.url, urls, connections=1, duration=1)
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {(k, c): [] for k in ps for c in conns}
        for rep in range(ctx.repeats):  # interleaved, so that drift spreads over every measurement
            for kind, urls in ps.items():
                for c in conns:
                    r = load(srv.url, urls, connections=c, duration=ctx.duration)
                    runs[(kind, c)].append(r)
                    ctx.log(
                        f"http {kind} c{c} run {rep + 1}/{ctx.repeats}: {r['rps']:.0f} req/s, "
                        f"p50 {r.get('p50', float('nan')):.2f} ms, p99 {r.get('p99', float('nan')):.2f} ms"
                        + (f", {r['errors']} errors" if r.get("errors") else "")
                    )
        startup = srv.startup_s
    result: dict[str, Any] = {
        "client": "wrk" if wrk_path() else "httpx",
        "workers": ctx.workers,
        "duration_s": ctx.duration,
        "server_startup_s": startup,
        "cold_start_bbox": cold,
        "warmup_bbox": {**warm, "duration_s": warm_s},
    }
    for (kind, c), rs in runs.items():
        m = median_of_runs(rs)
        m["errors"] = sum(r.get("errors", 0) for r in rs)
        result.setdefault(kind, {})[f"c{c}"] = m
    return result


def run(ctx: Context) -> dict[str, Any]:
    from cim.store import open_store

    path = ctx.sample_store()
    store = open_store(path)
    try:
        p = plan(store)
        ctx.log(f"bbox {p['bbox']} (CRS84, half-width {p['bbox_half_m']:.0f} m) holds {p['bbox_matched']} buildings")
        ps = paths(p)
        library = bench_library(ctx, store, p)
    finally:
        store.close()
    testclient = bench_testclient(ctx, path, ps)
    http = bench_http(ctx, path, ps)
    return {
        "plan": {k: v for k, v in p.items() if k not in ("ids", "offsets")},
        "requests": {k: v[0] for k, v in ps.items()},
        "n_offsets": len(p["offsets"]),
        "n_ids": len(p["ids"]),
        "library": library,
        "testclient": testclient,
        "http": http,
    }


_LABEL = {"bbox": f"bbox page ({LIMIT})", "offsets": f"offset page ({LIMIT})", "item": "single item"}


def rows(r: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for kind in ("bbox", "offsets", "item"):
        lib = r["library"][kind]
        st = lib["stages_p50"]
        out.append(
            (
                NAME,
                f"{_LABEL[kind]}: library query+encode",
                lib,
                f"p50 query {st['query']:.2f}, encode {st['encode']:.2f}, "
                f"region {st['region']:.2f}, orjson {st['serialise']:.2f} ms",
            )
        )
        if kind == "bbox" and "bbox_new_thread" in r["library"]:
            nt = r["library"]["bbox_new_thread"]
            st = nt["stages_p50"]
            out.append(
                (
                    NAME,
                    f"{_LABEL[kind]}: library, new thread",
                    nt,
                    f"first call in a fresh thread: region {st['region']:.0f}, query {st['query']:.0f}, "
                    f"encode {st['encode']:.0f} ms",
                )
            )
        tc = r["testclient"][kind]
        out.append((NAME, f"{_LABEL[kind]}: TestClient", tc, f"{tc['response_bytes']:,} B response"))
        for c, m in r["http"][kind].items():
            client = "wrk" if r["http"]["client"] == "wrk" else "httpx fallback (no wrk)"
            note = f"{client}, {r['http']['workers']} worker"
            if m.get("errors"):
                note += f", {m['errors']} ERRORS"
            out.append((NAME, f"{_LABEL[kind]}: HTTP {c}", m, note))
        if kind == "bbox" and r["http"].get("cold_start_bbox"):
            cold, warm = r["http"]["cold_start_bbox"], r["http"]["warmup_bbox"]
            out.append(
                (
                    NAME,
                    f"{_LABEL[kind]}: HTTP cold start",
                    {"p50": cold["p50"]},
                    f"{cold['requests']} simultaneous first requests to a fresh server: last done after "
                    f"{cold['max']:,.0f} ms",
                )
            )
            out.append(
                (
                    NAME,
                    f"{_LABEL[kind]}: HTTP c16 warm-up",
                    warm,
                    f"the {warm['duration_s']:.0f} s after the cold start, one run; max {warm.get('max', 0):,.0f} ms",
                )
            )
    return out
