"""A bounded load test at 64 connections mixing items pages, filters, analyses and tiles: zero errors,
and the p99 for BENCHMARKS.md.  Loopback only; at most 2 minutes of load (60 s full, 15 s quick)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from cim.store import open_store

from . import items
from .common import Context, Row, Server, load

NAME = "load"
TITLE = "Load: 64 connections, mixed requests"
CONNECTIONS = 64


def _available(base: str, path: str) -> bool:
    try:
        with urllib.request.urlopen(base + path, timeout=120) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - a route another issue has not built yet
        return False


def _tile_paths(base: str, layer: str, n: int = 20) -> list[str]:
    """tileset.json and up to n content URIs found in it (relative URIs resolved against the tileset)."""
    try:
        with urllib.request.urlopen(f"{base}/3dtiles/{layer}/tileset.json", timeout=300) as r:
            doc = json.load(r)
    except Exception:  # noqa: BLE001
        return []
    uris: list[str] = []

    def walk(tile: dict) -> None:
        c = tile.get("content") or {}
        if "uri" in c and len(uris) < n:
            uris.append(c["uri"])
        for ch in tile.get("children", []):
            walk(ch)

    walk(doc.get("root", {}))
    return [f"/3dtiles/{layer}/tileset.json"] + [u if u.startswith("/") else f"/3dtiles/{layer}/{u}" for u in uris]


def run(ctx: Context) -> dict[str, Any]:
    path = ctx.sample_store()
    store = open_store(path)
    mix = items.paths(items.plan(store))
    bbox = items.plan(store)["bbox"]
    store.close()
    paths = (
        mix["bbox"] * 5
        + mix["offsets"][:10]
        + mix["item"][:20]
        + [
            "/collections/buildings/items?filter=height%20%3E%2080&limit=50",
            "/collections/pipes/items?filter=utility%20%3D%20%27gas%27&limit=50",
        ]
    )
    with Server(path) as srv:
        extra = {
            "analysis": [
                p
                for p in (f"/analysis/pipe-compliance?bbox={bbox}", "/analysis/high-rise?limit=50")
                if _available(srv.url, p)
            ],
            "tiles": _tile_paths(srv.url, "buildings") + _tile_paths(srv.url, "pipes"),
        }
        mixed = paths + extra["analysis"] * 3 + extra["tiles"]
        duration = 15.0 if ctx.quick else 60.0
        load(srv.url, mixed, connections=CONNECTIONS, duration=3.0)  # warm caches
        result = load(srv.url, mixed, connections=CONNECTIONS, duration=duration)
    return {
        "connections": CONNECTIONS,
        "duration_s": duration,
        "paths": len(mixed),
        "analysis_paths": extra["analysis"],
        "tile_paths": len(extra["tiles"]),
        **result,
    }


def rows(r: dict[str, Any]) -> list[Row]:
    parts = (
        f"{r['paths']} paths: items, filters"
        + (", analyses" if r["analysis_paths"] else "")
        + (", tiles" if r["tile_paths"] else "")
    )
    return [
        (
            NAME,
            f"{r['connections']} conn, {r['duration_s']:.0f} s, mixed",
            {"p50": r.get("p50"), "p99": r.get("p99"), "rps": r.get("rps")},
            f"errors {r.get('errors', 0)}; {parts}",
        )
    ]
