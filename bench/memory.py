"""Server memory: RSS of the uvicorn process serving synthetic stores of growing size.

For each size (quick: 10,000 and 100,000 buildings; full: 100,000 and 1,000,000; pipes in proportion,
``bench/synth.py``) the SQLite store is served by one uvicorn worker (``bench/common.Server``) and
``VmRSS`` is read from ``/proc/PID/status`` three times: once up (``/health`` answered), after a
warm-up (every request of the mix once), and after a load run (wrk, 16 connections, the run's
duration) on a mix of bbox pages at random places, single items and offset pages.  ``VmHWM`` is the
peak.  SQLite's page cache (64 MiB a connection) and the memory map (256 MiB) are per thread
connection, so RSS grows with the threads that served requests and with the parts of the file read;
``RssFile`` (file pages mapped, shared with the page cache and counted once per mapping) and
``RssAnon`` (the process's own heap) tell the two apart.
"""

from __future__ import annotations

import urllib.request
from typing import Any

import numpy as np

from . import synth
from .common import Context, Row, Server, load
from .datasets import synth_store
from .peers_env import loadavg, rss

NAME = "memory"
TITLE = "Server memory (RSS) with stores of growing size"
CONNECTIONS = 16


def sizes(ctx: Context) -> list[int]:
    return [10_000, 100_000] if ctx.quick else [100_000, 1_000_000]


def mix(n: int, seed: int = 3) -> list[str]:
    """Request paths: 40 bbox pages (200 m, CRS84) at random places, 40 items, 10 offset pages."""
    from cim.crs import city_to_lonlat

    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = synth.extent(n)
    paths = []
    for _ in range(40):
        x, y = rng.uniform(x0, x1 - 200), rng.uniform(y0, y1 - 200)
        ll = city_to_lonlat(np.array([[x, y], [x + 200, y + 200]]), synth.CITY.crs_epsg)
        bbox = ",".join(f"{v:.7f}" for v in (ll[:, 0].min(), ll[:, 1].min(), ll[:, 0].max(), ll[:, 1].max()))
        paths.append(f"/collections/buildings/items?bbox={bbox}&limit=100")
    paths += [f"/collections/buildings/items/S{i:07d}" for i in rng.integers(0, n, 40)]
    paths += [f"/collections/buildings/items?limit=100&offset={k}" for k in np.linspace(0, n - 100, 10).astype(int)]
    order = rng.permutation(len(paths))
    return [paths[i] for i in order]


def run(ctx: Context) -> dict[str, Any]:
    result: dict[str, Any] = {
        "sizes": sizes(ctx),
        "connections": CONNECTIONS,
        "duration_s": ctx.duration,
        "runs": {},
        "loadavg_start": loadavg(),
    }
    for n in sizes(ctx):
        path = synth_store(ctx, n)
        paths = mix(n)
        with Server(path, log=ctx.out / "server-memory.log") as srv:
            assert srv.proc is not None
            pid = srv.proc.pid
            r: dict[str, Any] = {"store_bytes": path.stat().st_size, "startup_s": srv.startup_s, "up": rss(pid)}
            for p in paths:
                with urllib.request.urlopen(srv.url + p, timeout=120) as resp:
                    resp.read()
            r["warm"] = rss(pid)
            lr = load(srv.url, paths, connections=CONNECTIONS, duration=ctx.duration)
            r["after_load"] = rss(pid)
            r["load"] = {k: lr.get(k) for k in ("rps", "p50", "p99", "errors", "client")}
        result["runs"][str(n)] = r
        mib = {k: r[k].get("VmRSS", 0) / 2**20 for k in ("up", "warm", "after_load")}
        ctx.log(
            f"memory {n:,}: RSS up {mib['up']:.0f} MiB, warm {mib['warm']:.0f} MiB, after load "
            f"{mib['after_load']:.0f} MiB (peak {r['after_load'].get('VmHWM', 0) / 2**20:.0f}); "
            f"store {r['store_bytes'] / 2**20:.0f} MiB"
        )
    result["loadavg_end"] = loadavg()
    return result


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for n, r in result["runs"].items():
        mib = {k: r[k].get("VmRSS", 0) / 2**20 for k in ("up", "warm", "after_load")}
        after = {k: v / 2**20 for k, v in r["after_load"].items()}
        out.append(
            (
                NAME,
                f"RSS {int(n):,} bldg, after load, MiB",
                {"value": mib["after_load"]},
                f"up {mib['up']:.0f}, warm {mib['warm']:.0f}, peak {after.get('VmHWM', 0):.0f}; "
                f"heap {after.get('RssAnon', 0):.0f}, file {after.get('RssFile', 0):.0f} MiB; "
                f"store {r['store_bytes'] / 2**20:.0f} MiB; mix {r['load'].get('rps') or 0:.0f} req/s",
            )
        )
    return out
