"""Store backends side by side: SQLite and PostGIS on the same synthetic city, import and query.

For each size (buildings; pipes come in proportion, see ``bench/synth.py``): time one ``store.write`` of
every feature (one transaction; features already in memory), then bbox queries of a 200 m x 200 m
window at random places (``store.query(..., limit=100)``, exact intersection), p50 and p99.
PostGIS runs in a throwaway cluster on loopback (``tests/pg.py``), tuned for a benchmark (fsync off).
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import numpy as np

from cim.store import Region, open_store

from . import synth
from .common import Context, Row, latency_stats, median_of_runs, remove_store

NAME = "stores"
TITLE = "SQLite and PostGIS: import and bbox query at scale"


def _query_times(store, n: int, count: int, seed: int = 5) -> dict[str, Any]:
    x0, y0, x1, y1 = synth.extent(n)
    rng = np.random.default_rng(seed)
    times, matched = [], []
    for _ in range(count):
        x, y = rng.uniform(x0, x1 - 200), rng.uniform(y0, y1 - 200)
        t = time.perf_counter()
        page = store.query("buildings", region=Region.box(x, y, x + 200, y + 200), limit=100)
        times.append(time.perf_counter() - t)
        matched.append(page.matched)
    return {**latency_stats(times), "mean_matched": float(np.mean(matched))}


def run(ctx: Context) -> dict[str, Any]:
    from tests import pg

    sizes = [10_000, 100_000] if ctx.quick else [100_000, 1_000_000]
    why = pg.why_unavailable()
    cluster = None if why else pg.Cluster()
    results: dict[str, Any] = {"sizes": sizes, "postgis": why or "available", "runs": {}}
    try:
        for n in sizes:
            ctx.log(f"stores: generating {n:,} buildings")
            feats = synth.city(n)
            for backend in ("sqlite", "postgis"):
                if backend == "postgis" and cluster is None:
                    continue
                runs = []
                for _rep in range(1 if n >= 1_000_000 or ctx.quick else ctx.repeats):
                    if backend == "sqlite":
                        path = ctx.out / f"synth-{n}.sqlite"
                        remove_store(path)
                        url = str(path)
                    else:
                        url = f"{cluster.url}?schema=synth_{n}"
                    store = open_store(url, create=True)
                    store.init(synth.CITY, overwrite=True)
                    t = time.perf_counter()
                    store.write(feats)
                    secs = time.perf_counter() - t
                    q = _query_times(store, n, 50 if ctx.quick else 300)
                    run_ = {
                        "import_s": secs,
                        "features_per_s": len(feats) / secs,
                        "p50": q["p50"],
                        "p99": q["p99"],
                        "mean_matched": q["mean_matched"],
                    }
                    if backend == "sqlite":
                        run_["bytes_per_feature"] = path.stat().st_size / len(feats)
                    runs.append(run_)
                    store.close()
                    ctx.log(f"stores: {backend} {n:,}: import {secs:.1f} s, query p50 {q['p50']:.2f} ms")
                results["runs"][f"{backend}-{n}"] = {
                    "features": len(feats),
                    **median_of_runs(
                        runs, ("import_s", "features_per_s", "p50", "p99", "bytes_per_feature", "mean_matched")
                    ),
                }
            del feats
    finally:
        if cluster is not None:
            cluster.stop()
        for p in ctx.out.glob("synth-*.sqlite*"):
            p.unlink(missing_ok=True)
        shutil.rmtree(ctx.out / "pg", ignore_errors=True)
    return results


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for key, r in result["runs"].items():
        backend, n = key.split("-")
        out.append(
            (
                NAME,
                f"{backend} import {int(n):,} bldg ({r['features']:,} features)",
                {"value": r.get("features_per_s")},
                f"features/s; {r.get('import_s', 0):.1f} s",
            )
        )
        out.append(
            (
                NAME,
                f"{backend} bbox 200 m, limit 100, {int(n):,} bldg",
                {"p50": r.get("p50"), "p99": r.get("p99")},
                f"~{r.get('mean_matched', 0):.0f} matched",
            )
        )
    if result["postgis"] != "available":
        out.append((NAME, "postgis", {}, f"skipped: {result['postgis']}"))
    return out
