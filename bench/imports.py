"""CityJSON LoD2 import throughput against 3DCityDB's published figure (about 2 s per 1,000 LoD2 buildings).

Each run imports a file into a fresh SQLite store with ``cim.io.import_files`` (parse, validate,
reproject into the city's CRS where needed, one transaction with the 3-D index): the real
``zurich_subset_lod2.json`` (49 buildings of 161 parts, EPSG:2056) from ``shared/data/buildings``, and
a generated CityJSON 2.0 of LoD2 buildings (``bench/datasets.lod2_cityjson``: gabled roofs,
semantic surfaces, 5,000 buildings in quick mode, 20,000 in full).  The figure is buildings per
second, median of the runs; the parse-only time (``cim.io.read``) is given apart.

3DCityDB v5's figure (about 500 buildings/s, indexes off) is *published*, not measured here: it loads
CityGML into PostgreSQL with a Java importer on other hardware; read the ratio as indicative.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .common import ROOT, Context, Row, remove_store
from .datasets import lod2_cityjson, median_time
from .peers_env import loadavg

NAME = "imports"
TITLE = "CityJSON LoD2 import throughput (3DCityDB's published ~500 buildings/s)"

CITYDB_BUILDINGS_PER_S = 500.0  # 3DCityDB v5: about 2 s per 1,000 LoD2 buildings (published)
DATA = ROOT.parent / "shared" / "data" / "buildings"


def _one(path: Path, epsg: int, work: Path) -> dict[str, Any]:
    from cim.io import import_files
    from cim.model import City
    from cim.store import open_store

    store_path = work / "import.sqlite"
    remove_store(store_path)
    store = open_store(str(store_path), create=True)
    try:
        store.init(City(name="import bench", crs_epsg=epsg), overwrite=True)
        rep = import_files(store, [path])
    finally:
        store.close()
        remove_store(store_path)
    return rep.counts


def measure(path: Path, epsg: int, repeat: int, work: Path) -> dict[str, Any]:
    from cim.io import ImportContext, read
    from cim.model import City

    _one(path, epsg, work)  # warm: imports, pyproj database, page cache
    t, times, counts = median_time(lambda: _one(path, epsg, work), repeat)
    t_read, _, _ = median_time(lambda: read(path, ImportContext(city=City(crs_epsg=epsg))), min(repeat, 3))
    n = counts.get("buildings", 0)
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "buildings": n,
        "counts": counts,
        "s": t,
        "runs": times,
        "buildings_per_s": n / t if t else float("nan"),
        "read_s": t_read,
        "read_buildings_per_s": n / t_read if t_read else float("nan"),
        "vs_3dcitydb": (n / t) / CITYDB_BUILDINGS_PER_S if t else float("nan"),
    }


def run(ctx: Context) -> dict[str, Any]:
    repeat = 3 if ctx.quick else 5
    n_gen = 5_000 if ctx.quick else 20_000
    result: dict[str, Any] = {
        "citydb_buildings_per_s": CITYDB_BUILDINGS_PER_S,
        "repeat": repeat,
        "files": {},
        "loadavg_start": loadavg(),
    }
    with tempfile.TemporaryDirectory(dir=ctx.out) as tmp:
        work = Path(tmp)
        files: list[tuple[str, Path, int]] = []
        zurich = DATA / "zurich_subset_lod2.json"
        if zurich.exists():
            files.append(("zurich", zurich, 2056))
        else:
            result["files"]["zurich"] = {"skipped": f"{zurich} not found"}
        gen = work / f"lod2-{n_gen}.city.json"
        info = lod2_cityjson(gen, n_gen)
        ctx.log(f"imports: generated {n_gen:,} LoD2 buildings ({info['bytes'] / 1e6:.1f} MB)")
        files.append(("generated", gen, 4550))
        for label, path, epsg in files:
            r = measure(path, epsg, repeat, work)
            result["files"][label] = r
            ctx.log(
                f"imports {label}: {r['buildings']:,} buildings in {r['s']:.2f} s = {r['buildings_per_s']:,.0f} "
                f"buildings/s ({r['vs_3dcitydb']:.1f}x 3DCityDB's published); parse only {r['read_s']:.2f} s"
            )
    result["loadavg_end"] = loadavg()
    return result


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for label, r in result["files"].items():
        if "skipped" in r:
            out.append((NAME, label, {}, f"skipped: {r['skipped']}"))
            continue
        out.append(
            (
                NAME,
                f"{label} ({r['buildings']:,} LoD2 bldg) import, bldg/s",
                {"value": r["buildings_per_s"]},
                f"{r['s']:.2f} s; {r['vs_3dcitydb']:.1f}x 3DCityDB's published "
                f"{result['citydb_buildings_per_s']:.0f}/s; parse only {r['read_s']:.2f} s",
            )
        )
    return out
