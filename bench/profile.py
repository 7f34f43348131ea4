"""Summaries of py-spy profiles (``py-spy record --format raw``: one ``frame;frame;...;leaf count`` line per stack).

Each sample goes to one bucket: walking from the leaf towards the root, the first frame that matches a
bucket's pattern decides (so time in shapely called by the store counts as shapely, and the store's
own Python lines count as the store).  ``top`` lists the leaf frames with the most samples.  Idle
samples (a worker thread waiting for work: a leaf in ``threading``'s ``Condition.wait`` or in ``queue``)
are counted apart and left out of the shares; a leaf in ``asyncio.Runner.run`` is the event loop's C
code (uvloop, httptools, the sockets), which py-spy cannot see into.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

BUCKETS: list[tuple[str, str]] = [
    ("pydantic (model validation, dumps)", r"pydantic"),
    ("shapely / numpy", r"shapely|numpy"),
    ("orjson / json", r"orjson|/json/"),
    ("CRS (cim.crs, pyproj)", r"cim/crs\.py|pyproj"),
    ("GeoJSON encoding (cim.geojson)", r"cim/geojson\.py"),
    ("store.city(): the city record read per request", r"Store\.city |Store\._meta "),
    ("store query (cim.store, SQLite)", r"cim/store/|sqlite3"),
    ("bbox parsing (cim.query)", r"cim/query/"),
    ("API route code (api/)", r"/api/"),
    ("FastAPI / Starlette / anyio", r"fastapi|starlette|anyio"),
    ("event loop in C (uvloop, httptools, sockets)", r"^Runner\.run \(asyncio"),
    ("uvicorn / asyncio (HTTP, event loop)", r"uvicorn|asyncio|uvloop|httptools|h11"),
    ("threads (pool hand-off)", r"threading\.py|concurrent/"),
]
_LINE = re.compile(r"^(.*) (\d+)$")
_IDLE = re.compile(r"^(Condition\.wait|Queue\.get|Event\.wait|Semaphore\.acquire) \((threading|queue)\.py")


def summarise_collapsed(text: str, top: int = 12) -> dict[str, Any]:
    """{"samples", "idle", "buckets": {name: share}, "top": {leaf frame: share}} of collapsed stacks (shares of
    the busy samples)."""
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = idle = 0
    pats = [(name, re.compile(p)) for name, p in BUCKETS]
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        frames, n = m.group(1).split(";"), int(m.group(2))
        if _IDLE.match(frames[-1]):
            idle += n
            continue
        total += n
        leaves[frames[-1]] += n
        for fr in reversed(frames):
            hit = next((name for name, p in pats if p.search(fr)), None)
            if hit:
                buckets[hit] += n
                break
        else:
            buckets["other"] += n
    if not total:
        return {"samples": 0, "idle": idle, "buckets": {}, "top": {}}
    return {
        "samples": total,
        "idle": idle,
        "buckets": {k: v / total for k, v in buckets.most_common()},
        "top": {k: v / total for k, v in leaves.most_common(top)},
    }
