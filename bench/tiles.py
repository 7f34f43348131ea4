"""3D Tiles: tileset build time and size, and tile requests served from the server's cache.

* ``sample``: every layer of the sample city (``tiles.build_layer`` into memory: read the store, mesh,
  georeference, tile, encode GLB), median of the repeats; buildings per second and bytes per building
  (GLB as served raw, and gzip-compressed as sent to browsers);
* ``synthetic``: the buildings layer of ``bench/synth.py``'s city of 100,000 buildings (quick: 10,000),
  stored in SQLite first (not timed); compare with pg2b3dm's published ~1,400 buildings/s;
* ``requests``: uvicorn on loopback serving the sample city: the first ``tileset.json`` (which builds the
  layer), then GLB tiles of the buildings and pipes layers cycled one at a time over one keep-alive
  connection (p50, p99; gzip accepted), and under load (wrk, or the httpx fallback) at 16 connections;
* ``city`` (issue 16): 12,000 LOD2 buildings, twice: ``bench/datasets.lod2_cityjson`` (gabled roofs,
  7 surfaces and 30 vertices each, EPSG:4550) and the ten real 3D BAG buildings of ``multi_lod.json``
  repeated on a grid (LOD2.2 as triangles, 35 surfaces and ~100 vertices each, EPSG:7415), imported
  first (not timed).  ``cim tiles build -l buildings --jobs 1|2`` as a fresh process: wall time from
  start to exit (interpreter start-up included), buildings/s, and peak RSS of the process tree (the
  sum over the command and its workers, sampled every 20 ms; the largest single process too); the
  whole-layer build of before (``build_layer(streamed=False)``, in memory) on the generated file; then a
  fresh server on the store: the first ``tileset.json`` (the skeleton), the first tile, all tiles.
"""

from __future__ import annotations

import gzip
import json
import statistics
import time
from pathlib import Path
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


CITY_N = 12_000
BAG = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "buildings" / "multi_lod.json"


def replicate_bag(path: Path, n: int) -> int:
    """The buildings of ``multi_lod.json`` (real 3D BAG, CityJSON 2.0) repeated on a grid to ``n``
    buildings (ids ``{id}-{copy}``), written as one CityJSON file; returns how many."""
    import numpy as np

    d = json.loads(BAG.read_text())
    scale = np.asarray(d["transform"]["scale"])
    v = np.asarray(d["vertices"], dtype=np.int64)
    span = (v.max(axis=0) - v.min(axis=0)) * scale
    copies = n // len(d["CityObjects"])
    side = int(np.ceil(np.sqrt(copies)))
    objs: dict[str, Any] = {}
    verts = []

    def shift(b: Any, by: int) -> Any:
        return [shift(x, by) for x in b] if isinstance(b, list) else b + by

    for c in range(copies):
        off = np.round(np.array([(c % side) * (span[0] + 5), (c // side) * (span[1] + 5), 0]) / scale)
        verts.append(v + off.astype(np.int64))
        for k, o in d["CityObjects"].items():
            o2 = json.loads(json.dumps(o))
            for g in o2.get("geometry", []):
                g["boundaries"] = shift(g["boundaries"], c * len(v))
            objs[f"{k}-{c}"] = o2
    d["CityObjects"], d["vertices"] = objs, np.concatenate(verts).tolist()
    path.write_text(json.dumps(d))
    return len(objs)


def _city_store(ctx: Context, label: str, work: Path) -> Path:
    """The store of a 12,000-building city (kept between runs: importing is not what is measured)."""
    from cim.io import import_files
    from cim.model import City
    from cim.store import open_store

    from .datasets import lod2_cityjson

    path = work / f"{label}-{CITY_N}.sqlite"
    if path.exists():
        s = open_store(path)
        ok = s.counts().get("buildings") == CITY_N
        s.close()
        if ok:
            return path
    remove_store(path)
    src = work / f"{label}-{CITY_N}.city.json"
    if label == "generated":
        lod2_cityjson(src, CITY_N)
        epsg, crs = 4550, None
    else:
        replicate_bag(src, CITY_N)
        epsg, crs = 7415, "EPSG:7415"
    ctx.log(f"tiles: importing {CITY_N:,} {label} LOD2 buildings (not timed)")
    s = open_store(path, create=True)
    s.init(City(name=f"{label} LOD2", crs_epsg=epsg))
    import_files(s, [src], crs=crs)
    s.close()
    src.unlink()
    return path


def run_tree(cmd: list[str], cwd: Path) -> dict[str, Any]:
    """Run a command; its wall time, CPU time (user + system of the command and its workers, s: what a
    loaded machine does not inflate) and peak RSS (MB) of its process tree, sampled every 20 ms."""
    import resource
    import subprocess

    import psutil

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    top = psutil.Process(proc.pid)
    peak_sum = peak_one = 0
    while proc.poll() is None:
        try:
            procs = [top, *top.children(recursive=True)]
            rss = [p.memory_info().rss for p in procs]
            peak_sum, peak_one = max(peak_sum, sum(rss)), max(peak_one, max(rss))
        except psutil.Error:
            pass
        time.sleep(0.02)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.decode()[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak_sum / 2**20,
        "peak_rss_one_mb": peak_one / 2**20,
        "stdout": out,
    }


def _env() -> dict[str, str]:
    import os

    from .common import ROOT

    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _city(ctx: Context) -> dict[str, Any]:
    import shutil
    import sys

    from .common import ROOT
    from .peers_env import loadavg

    work = ctx.out / "tiles-city"
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"buildings": CITY_N, "loadavg_start": loadavg()}
    labels = ["generated"] + (["3dbag"] if BAG.exists() else [])
    for label in labels:
        store = _city_store(ctx, label, work)
        res: dict[str, Any] = {}
        for jobs in (1, 2):
            runs = []
            for _ in range(1 if ctx.quick else min(ctx.repeats, 3)):
                target = work / f"out-{label}"
                shutil.rmtree(target, ignore_errors=True)
                r = run_tree(
                    [sys.executable, "-m", "cim.cli", "tiles", "build", "--store", str(store), "-o", str(target)]
                    + ["-l", "buildings", "--jobs", str(jobs), "--json"],
                    ROOT,
                )
                layer = json.loads(r.pop("stdout"))["layers"][0]
                runs.append({**r, "layer_s": layer["seconds"], "tiles": layer["tiles"], "bytes": layer["bytes"]})
            best = sorted(runs, key=lambda x: x["wall_s"])[len(runs) // 2]
            res[f"jobs{jobs}"] = {**best, "runs_wall_s": [x["wall_s"] for x in runs]}
            ctx.log(
                f"tiles: {label} {CITY_N:,} LOD2, --jobs {jobs}: {best['wall_s']:.1f} s wall, {best['cpu_s']:.1f} s CPU"
                f" ({CITY_N / best['wall_s']:,.0f} bldg/s), peak RSS {best['peak_rss_mb']:.0f} MB"
            )
        if label == "generated":  # the whole-layer build of before, for comparison
            code = (
                "import sys; from cim.store import open_store; from tiles import MemorySink, build_layer; "
                f"build_layer(open_store({str(store)!r}), 'buildings', MemorySink(), streamed=False)"
            )
            r = run_tree([sys.executable, "-c", code], ROOT)
            r.pop("stdout")
            res["whole_layer"] = r
            ctx.log(f"tiles: {label} whole-layer build (before): {r['wall_s']:.1f} s, {r['peak_rss_mb']:.0f} MB")
        with Server(store, log=ctx.out / "tiles-city-server.log") as server:
            with httpx.Client(base_url=server.url, timeout=600) as c:
                t0 = time.perf_counter()
                doc = c.get("/3dtiles/buildings/tileset.json").raise_for_status().json()
                res["first_tileset_ms"] = (time.perf_counter() - t0) * 1e3
                from tiles.tileset import tile_paths

                uris = tile_paths(doc)
                t0 = time.perf_counter()
                c.get(f"/3dtiles/buildings/{uris[0]}").raise_for_status()
                res["first_tile_ms"] = (time.perf_counter() - t0) * 1e3
                t0 = time.perf_counter()
                for u in uris[1:]:
                    c.get(f"/3dtiles/buildings/{u}").raise_for_status()
                res["all_tiles_s"] = time.perf_counter() - t0 + res["first_tile_ms"] / 1e3
                res["tiles"] = len(uris)
        ctx.log(
            f"tiles: {label} fresh server: first tileset.json {res['first_tileset_ms']:.0f} ms, first tile "
            f"{res['first_tile_ms']:.0f} ms, all {len(uris)} tiles on demand {res['all_tiles_s']:.1f} s"
        )
        out[label] = res
    out["loadavg_end"] = loadavg()
    return out


def run(ctx: Context) -> dict[str, Any]:
    n = 10_000 if ctx.quick else 100_000
    return {"city": _city(ctx), "sample": _sample(ctx), "synthetic": _synthetic(ctx, n), "requests": _requests(ctx)}


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    city = result.get("city", {})
    for label in ("generated", "3dbag"):
        r = city.get(label)
        if not r:
            continue
        for jobs in (1, 2):
            j = r[f"jobs{jobs}"]
            out.append(
                (
                    NAME,
                    f"{city['buildings']:,} {label} LOD2: cim tiles build --jobs {jobs}",
                    {"value": j["wall_s"]},
                    f"s wall, {j.get('cpu_s', float('nan')):.1f} s CPU; {city['buildings'] / j['wall_s']:,.0f} bldg/s; "
                    f"peak RSS {j['peak_rss_mb']:.0f} MB "
                    f"(largest process {j['peak_rss_one_mb']:.0f}); {j['tiles']} tiles; goal 5 s, 600 MB",
                )
            )
        if "whole_layer" in r:
            w = r["whole_layer"]
            out.append(
                (
                    NAME,
                    f"{label} LOD2: whole-layer build (before)",
                    {"value": w["wall_s"]},
                    f"s; {w['peak_rss_mb']:.0f} MB",
                )
            )
        out.append(
            (
                NAME,
                f"{label} LOD2: first tileset.json, fresh server",
                {"value": r["first_tileset_ms"]},
                f"ms (goal 1,000); first tile {r['first_tile_ms']:.0f} ms; all {r['tiles']} on demand "
                f"{r['all_tiles_s']:.1f} s",
            )
        )
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
