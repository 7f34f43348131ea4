"""Sample-city build time (median of several builds) and store size per building and per feature.

Each build runs ``sample_city.build_sample_city(path, seed=...)`` in this process into a new file
(the time includes its LiDAR survey, written beside the store and then deleted; the stage split
comes from its ``progress`` callback).
The size is the store as built (no VACUUM): the database file plus any WAL left beside it, divided
by the number of buildings and by the number of features of every collection.  SQLite's ``dbstat``
table, where compiled in, splits the bytes by collection (feature table, its id index, its R*Tree).
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from .common import Context, Row, remove_store

NAME = "build"
TITLE = "Sample-city build and store size"


def _counts(summary: Any, path: Path) -> dict[str, int]:
    counts = getattr(summary, "counts", None)
    if isinstance(counts, dict) and counts:
        return {str(k): int(v) for k, v in counts.items()}
    from cim.store import open_store

    with open_store(path) as s:  # type: ignore[attr-defined]
        return s.counts()


def _file_bytes(path: Path) -> dict[str, int]:
    wal = Path(f"{path}-wal")
    return {"db": path.stat().st_size, "wal": wal.stat().st_size if wal.exists() else 0}


def _by_object(path: Path) -> dict[str, int] | None:
    """Bytes per table and index (``dbstat``), or None when SQLite lacks it."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.Error:
        return None
    return {name: int(size) for name, size in rows}


def _per_collection(objects: dict[str, int], collections: list[str]) -> dict[str, int]:
    """Bytes of each collection's feature table, id index and R*Tree; the rest under ``other``."""
    out = {c: 0 for c in collections}
    out["other"] = 0
    for name, size in objects.items():
        for c in collections:
            t = c.replace("-", "_")
            if name in (f"f_{t}", f"sqlite_autoindex_f_{t}_1") or name.startswith(f"rt_{t}_"):
                out[c] += size
                break
        else:
            out["other"] += size
    return out


def run(ctx: Context) -> dict[str, Any]:
    from sample_city import build_sample_city

    n = 1 if ctx.quick else 3
    builds: list[dict[str, Any]] = []
    keep: Path | None = None
    for i in range(n):
        path = ctx.out / f"build-{i}.cim.sqlite"
        remove_store(path)
        las = ctx.out / f"build-{i}.las"
        ctx.log(f"build {i + 1}/{n}: sample city (seed {ctx.seed}) -> {path.name}")
        marks: list[tuple[str, float]] = []
        t0 = time.perf_counter()
        summary = build_sample_city(
            path,
            seed=ctx.seed,
            las_path=las,
            progress=lambda stage, _f, marks=marks: marks.append((stage, time.perf_counter())),
        )
        seconds = time.perf_counter() - t0
        files = _file_bytes(path)
        stages = {a[0]: b[1] - a[1] for a, b in zip(marks, marks[1:], strict=False)}
        builds.append(
            {
                "seconds": seconds,
                "counts": _counts(summary, path),
                "bytes": files["db"] + files["wal"],
                "wal_bytes": files["wal"],
                "las_bytes": las.stat().st_size if las.exists() else 0,
                "stages_s": stages,
            }
        )
        las.unlink(missing_ok=True)  # the LiDAR survey is timed (it is part of the build) but not kept
        ctx.log(f"  {seconds:.2f} s, {builds[-1]['bytes']:,} bytes, {builds[-1]['counts']}")
        if keep is None:
            keep = path
        else:
            remove_store(path)
    assert keep is not None
    final = ctx.out / "sample.cim.sqlite"
    remove_store(final)
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{keep}{suffix}")
        if src.exists():
            src.rename(f"{final}{suffix}")
    ctx.store = final

    counts = builds[0]["counts"]
    size = builds[0]["bytes"]
    n_buildings = counts.get("buildings", 0)
    n_features = sum(counts.values())
    objects = _by_object(final)
    per_collection = _per_collection(objects, list(counts)) if objects else None
    return {
        "seed": ctx.seed,
        "builds": builds,
        "seconds_median": statistics.median(b["seconds"] for b in builds),
        "stages_s_median": {
            k: statistics.median(b["stages_s"].get(k, 0.0) for b in builds) for k in builds[0]["stages_s"]
        },
        "deterministic": len({(b["bytes"], tuple(sorted(b["counts"].items()))) for b in builds}) == 1,
        "counts": counts,
        "features": n_features,
        "store_bytes": size,
        "bytes_per_building": size / n_buildings if n_buildings else None,
        "bytes_per_feature": size / n_features if n_features else None,
        "bytes_by_collection": per_collection,
        "building_bytes_per_building": (
            per_collection["buildings"] / n_buildings if per_collection and n_buildings else None
        ),
        "store": str(final),
    }


def rows(r: dict[str, Any]) -> list[Row]:
    runs = ", ".join(f"{b['seconds']:.2f}" for b in r["builds"])
    out: list[Row] = [
        (NAME, "sample-city build (s)", {"value": r["seconds_median"]}, f"median of {len(r['builds'])}: {runs} s"),
        (
            NAME,
            "  build stages (s)",
            {},
            ", ".join(f"{k} {v:.2f}" for k, v in r["stages_s_median"].items()) + " (medians)",
        ),
        (
            NAME,
            "store bytes per building",
            {"value": r["bytes_per_building"]},
            f"{r['store_bytes']:,} B / {r['counts'].get('buildings', 0):,} buildings (whole file)",
        ),
        (
            NAME,
            "store bytes per feature",
            {"value": r["bytes_per_feature"]},
            f"{r['store_bytes']:,} B / {r['features']:,} features",
        ),
    ]
    if r.get("building_bytes_per_building"):
        out.append(
            (
                NAME,
                "building tables per building",
                {"value": r["building_bytes_per_building"]},
                "feature table + id index + R*Tree of buildings only (dbstat)",
            )
        )
        out.append(
            (
                NAME,
                "  store bytes by part (MB)",
                {},
                ", ".join(f"{k} {v / 1e6:.2f}" for k, v in r["bytes_by_collection"].items()),
            )
        )
    return out
