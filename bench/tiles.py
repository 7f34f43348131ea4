"""3D Tiles: tileset build time and size, and tile requests served from the server's cache.

* ``sample``: every layer of the sample city (``tiles.build_layer`` into memory: read the store, mesh,
  georeference, tile, encode GLB), median of the repeats; buildings per second and bytes per building
  (GLB as served raw, and gzip-compressed as sent to browsers);
* ``synthetic``: the buildings layer of ``bench/synth.py``'s city of 100,000 buildings (quick: 10,000),
  stored in SQLite first (not timed); compare with pg2b3dm's published ~1,400 buildings/s;
* ``requests``: uvicorn on loopback serving the sample city: the first ``tileset.json`` (which builds the
  layer), then GLB tiles of the buildings and pipes layers cycled one at a time over one keep-alive
  connection (p50, p99; gzip accepted), and under load (wrk, or the httpx fallback) at 16 connections.
"""

from __future__ import annotations

import gzip
import statistics
import time
from typing import Any

import httpx

from . import synth
from .common import Context, Row, Server, latency_stats, load, remove_store, timed_loop

NAME = "tiles"
TITLE = "3D Tiles: build and serve"
LAYERS = ("buildings", "pipes", "underground-structures", "terrain")


def _build(store: Any, layer: str, frame: Any) -> dict[str, Any]:
    from tiles import MemorySink, build_layer

    sink = MemorySink()
    t0 = time.perf_counter()
    r = build_layer(store, layer, sink, frame=frame, prefix="v1/")
    secs = time.perf_counter() - t0
    glb = [sink.read(p) for p in sink.paths() if p.endswith(".glb")]
    gz = sum(len(gzip.compress(b, 6, mtime=0)) for b in glb)
    return {
        "seconds": secs,
        "features": r.features,
        "tiles": r.tiles,
        "bytes": r.bytes,
        "gzip_bytes": gz,
        "max_tile_bytes": r.max_tile_bytes,
        "depth": r.depth,
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(runs[0])
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    out["runs_s"] = [r["seconds"] for r in runs]
    return out


def _sample(ctx: Context) -> dict[str, Any]:
    from cim.store import open_store
    from tiles import city_frame

    store = open_store(ctx.sample_store())
    frame = city_frame(store)
    _build(store, "underground-structures", frame)  # warm-up: pyproj pipelines, imports
    out = {}
    for layer in LAYERS:
        out[layer] = _median([_build(store, layer, frame) for _ in range(ctx.repeats)])
        r = out[layer]
        ctx.log(
            f"tiles: sample {layer}: {r['features']:,} features in {r['seconds']:.2f} s, "
            f"{r['tiles']} tiles, {r['bytes'] / 1e6:.1f} MB"
        )
    store.close()
    return out


def _synthetic(ctx: Context, n: int) -> dict[str, Any]:
    from cim.store import open_store
    from tiles import city_frame

    path = ctx.out / f"tiles-synth-{n}.sqlite"
    remove_store(path)
    ctx.log(f"tiles: storing {n:,} synthetic buildings")
    store = open_store(path, create=True)
    store.init(synth.CITY)
    store.write(synth.city(n))
    frame = city_frame(store)
    try:
        runs = [
            _build(store, "buildings", frame) for _ in range(1 if n >= 100_000 and ctx.quick else min(ctx.repeats, 2))
        ]
        res = {"buildings": n, **_median(runs)}
        ctx.log(f"tiles: {n:,} synthetic buildings: {res['seconds']:.1f} s, {n / res['seconds']:,.0f} buildings/s")
        return res
    finally:
        store.close()
        remove_store(path)


def _requests(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with Server(ctx.sample_store(), log=ctx.out / "tiles-server.log") as server:
        paths = []
        with httpx.Client(base_url=server.url, timeout=120, headers={"Accept-Encoding": "gzip"}) as c:
            for layer in ("buildings", "pipes"):
                t0 = time.perf_counter()
                doc = c.get(f"/3dtiles/{layer}/tileset.json").json()
                out[f"first_tileset_{layer}_ms"] = (time.perf_counter() - t0) * 1e3
                stack = [doc["root"]]
                while stack:
                    t = stack.pop()
                    if "content" in t:
                        paths.append(f"/3dtiles/{layer}/{t['content']['uri']}")
                    stack += t.get("children", [])
            for p in paths:  # warm
                assert c.get(p).status_code == 200
            times = timed_loop(
                lambda i: c.get(paths[i % len(paths)]).raise_for_status(), max_n=2000, max_s=2 if ctx.quick else 10
            )
            out["sequential"] = latency_stats(times)
            out["tiles"] = len(paths)
            t0 = time.perf_counter()
            r = c.get(paths[0], headers={"If-None-Match": c.get(paths[0]).headers["etag"]})
            out["not_modified_ms"] = (time.perf_counter() - t0) * 1e3
            assert r.status_code == 304
        out["load16"] = load(server.url, paths, connections=16, duration=ctx.duration)
    ctx.log(
        f"tiles: GLB from cache p50 {out['sequential']['p50']:.2f} ms, "
        f"{out['load16'].get('rps', 0):,.0f} req/s at 16 connections"
    )
    return out


def run(ctx: Context) -> dict[str, Any]:
    n = 10_000 if ctx.quick else 100_000
    return {"sample": _sample(ctx), "synthetic": _synthetic(ctx, n), "requests": _requests(ctx)}


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    s = result["sample"]
    total = sum(r["seconds"] for r in s.values())
    out.append(
        (
            NAME,
            "sample city: all four layers",
            {"value": total},
            f"s; {sum(r['tiles'] for r in s.values())} tiles, {sum(r['bytes'] for r in s.values()) / 1e6:.1f} MB",
        )
    )
    for layer, r in s.items():
        per_s, unit = (r["tiles"], "tiles/s") if layer == "terrain" else (r["features"], "features/s")
        out.append(
            (
                NAME,
                f"sample {layer}",
                {"value": per_s / r["seconds"]},
                f"{unit}; {r['seconds']:.2f} s, {r['tiles']} tiles, largest {r['max_tile_bytes'] / 1e3:.0f} KB",
            )
        )
    b = s["buildings"]
    out.append(
        (
            NAME,
            "sample bytes per building",
            {"value": b["bytes"] / b["features"]},
            f"B raw; {b['gzip_bytes'] / b['features']:.0f} B gzipped",
        )
    )
    y = result["synthetic"]
    out.append(
        (
            NAME,
            f"{y['buildings']:,} synthetic buildings: tileset",
            {"value": y["buildings"] / y["seconds"]},
            f"buildings/s; {y['seconds']:.1f} s, {y['tiles']} tiles, {y['bytes'] / y['buildings']:.0f} B/bldg "
            f"({y['gzip_bytes'] / y['buildings']:.0f} gz); pg2b3dm ~1,400/s",
        )
    )
    q = result["requests"]
    out.append(
        (
            NAME,
            "GLB tile from cache, 1 connection",
            {"p50": q["sequential"]["p50"], "p99": q["sequential"]["p99"]},
            f"{q['tiles']} tiles cycled, gzip; 304 in {q['not_modified_ms']:.1f} ms",
        )
    )
    ld = q["load16"]
    out.append(
        (
            NAME,
            "GLB tile from cache, 16 connections",
            {"p50": ld.get("p50"), "p99": ld.get("p99"), "rps": ld.get("rps")},
            ld.get("client", ""),
        )
    )
    out.append(
        (NAME, "first buildings tileset.json (builds the layer)", {"value": q["first_tileset_buildings_ms"]}, "ms")
    )
    return out
