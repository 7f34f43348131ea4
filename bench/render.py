"""A 3-D view of the whole sample city to a PNG: every building and the pipe network, off screen (cim.viz).

For a local city (``cim.open``, the SQLite store) and a remote one (``cim.connect`` to a real server on loopback:
features paged over HTTP as GeoJSON, LOD2 buildings as GLB, the terrain from its 3D Tiles), the time of
``cim.viz.screenshot(city, path, layers=["terrain", "buildings", "pipes"])`` end to end (1280 x 800), and its
parts measured apart: fetching the features, building the meshes (:mod:`cim.mesh`), and the rest (terrain,
pyvista scene, VTK's software rendering through EGL/llvmpipe, PNG).  The first render of a process (VTK and
the OpenGL context starting) is reported apart and left out of the median.
"""

from __future__ import annotations

import time
from typing import Any

from .common import Context, Row, Server

NAME = "render"
TITLE = "3-D view of the sample city (buildings + pipes + terrain) to a PNG, local and remote"

LAYERS = ["terrain", "buildings", "pipes"]
SIZE = (1280, 800)


def _measure(city: Any, ctx: Context, label: str) -> dict[str, Any]:
    import cim.viz

    runs = 1 if ctx.quick else ctx.repeats
    out = ctx.out / f"render-{label}.png"
    t = time.perf_counter()
    cim.viz.screenshot(city, out, layers=LAYERS, window_size=SIZE)
    first = time.perf_counter() - t
    totals, fetch, mesh = [], [], []
    triangles = buildings = pipes = 0
    for _ in range(runs):
        t = time.perf_counter()
        cim.viz.screenshot(city, out, layers=LAYERS, window_size=SIZE)
        totals.append(time.perf_counter() - t)
        t = time.perf_counter()
        b, p = city.features("buildings"), city.features("pipes")
        fetch.append(time.perf_counter() - t)
        t = time.perf_counter()
        mb, mp = city.meshes(b), city.meshes(p)
        mesh.append(time.perf_counter() - t)
        triangles, buildings, pipes = len(mb.faces) + len(mp.faces), len(b), len(p)
    med = sorted(totals)[len(totals) // 2]
    f, m = sorted(fetch)[len(fetch) // 2], sorted(mesh)[len(mesh) // 2]
    ctx.log(f"render {label}: {med:.2f} s ({buildings} buildings, {pipes} pipes, {triangles:,} triangles)")
    return {
        "first_s": first,
        "total_s": med,
        "fetch_s": f,
        "mesh_s": m,
        "rest_s": max(med - f - m, 0.0),
        "runs_s": totals,
        "buildings": buildings,
        "pipes": pipes,
        "triangles": triangles,
        "png": str(out),
        "png_bytes": out.stat().st_size,
    }


def run(ctx: Context) -> dict[str, Any]:
    import cim

    store = ctx.sample_store()
    results: dict[str, Any] = {"size": list(SIZE), "layers": LAYERS}
    with cim.open(store) as city:
        results["local"] = _measure(city, ctx, "local")
    with Server(store, log=ctx.out / "render-server.log") as server, cim.connect(server.url) as city:
        results["remote"] = _measure(city, ctx, "remote")
    return results


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for kind in ("local", "remote"):
        r = result.get(kind)
        if not r:
            continue
        w, h = result["size"]
        out.append(
            (
                NAME,
                f"{kind}: {r['buildings']:,} buildings + {r['pipes']:,} pipes + terrain -> {w}x{h} PNG",
                {"p50": r["total_s"] * 1e3},
                f"features {r['fetch_s']:.2f} s, meshes {r['mesh_s']:.2f} s, scene+render {r['rest_s']:.2f} s; "
                f"{r['triangles']:,} triangles; first {r['first_s']:.1f} s",
            )
        )
    return out
