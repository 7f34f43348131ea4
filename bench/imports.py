"""CityJSON LoD2 import throughput against 3DCityDB's published figure (about 2 s per 1,000 LoD2 buildings),
and the peak memory of a CityJSONSeq import.

Each run imports a file into a fresh SQLite store with ``cim.io.import_files`` (parse, validate,
reproject into the city's CRS where needed, one transaction with the 3-D index):

* the real ``zurich_subset_lod2.json`` (49 buildings of 161 parts, EPSG:2056) from ``shared/data/buildings``;
* a generated CityJSON 2.0 of LoD2 buildings (``bench/datasets.lod2_cityjson``: gabled roofs, semantic
  surfaces, 5,000 buildings in quick mode, 20,000 in full);
* a 3D-BAG-like CityJSONSeq (``bench/datasets.bag_cityjsonseq``): the 10 real 3D BAG buildings of
  ``multi_lod.json`` (LOD 1.2, 1.3 and 2.2 solids each, EPSG:7415) replicated with offsets and new ids into
  12,000 buildings (3,000 in quick mode), one CityJSONFeature per line.  There is no large real 3D BAG file
  here; the copies are real 3D BAG geometry and attributes, not its variety.

The figure is buildings per second, median of the runs; the CPU seconds of the importing process are
given beside, its worker processes' included (the machine is shared: wall time swings with the load, CPU time
much less), and the parse-only time (``cim.io.read``).  The imports run with the default ``jobs`` (a CityJSONSeq
of 8 MB or more is read by one worker per idle core, this process one of them), and the 3D BAG copies once more
with one worker per core (``jobs=`` the cores).  Peak RSS: a ~50 MB CityJSONSeq
(17,000 of the 3D BAG copies) imported by a fresh Python process that reports its own VmHWM plus its worker
processes' (each read before it ends; summed, so an upper bound of the memory held at once).

3DCityDB v5's figure (about 500 buildings/s, indexes off) is *published*, not measured here: it loads
CityGML into PostgreSQL with a Java importer on other hardware; read the ratio as indicative.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .common import ROOT, Context, Row, remove_store
from .datasets import bag_cityjsonseq, lod2_cityjson, median_time
from .peers_env import loadavg

NAME = "imports"
TITLE = "CityJSON LoD2 import throughput (3DCityDB's published ~500 buildings/s)"

CITYDB_BUILDINGS_PER_S = 500.0  # 3DCityDB v5: about 2 s per 1,000 LoD2 buildings (published)
DATA = ROOT.parent / "shared" / "data" / "buildings"


def _one(path: Path, epsg: int, work: Path, jobs: int | None = None) -> dict[str, Any]:
    from cim.io import import_files
    from cim.model import City
    from cim.store import open_store

    store_path = work / "import.sqlite"
    remove_store(store_path)
    store = open_store(str(store_path), create=True)
    try:
        store.init(City(name="import bench", crs_epsg=epsg), overwrite=True)
        rep = import_files(store, [path], jobs=jobs)
    finally:
        store.close()
        remove_store(store_path)
    return rep.counts


def _cpu() -> float:
    """CPU seconds of this process and of its ended children (the import's worker processes)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(path: Path, epsg: int, repeat: int, work: Path, jobs: int | None = None) -> dict[str, Any]:
    import gc

    from cim.io import ImportContext, read
    from cim.model import City

    _one(path, epsg, work, jobs)  # warm: imports, pyproj database, page cache
    cpu: list[float] = []

    def timed() -> dict[str, int]:
        c0 = _cpu()
        out = _one(path, epsg, work, jobs)
        cpu.append(_cpu() - c0)
        return out

    t, times, counts = median_time(timed, repeat)

    def parse() -> None:  # as the importer reads: encoded features, the cyclic GC paused
        gc.disable()
        try:
            read(path, ImportContext(city=City(crs_epsg=epsg), encode=True, jobs=jobs))
        finally:
            gc.enable()

    t_read, _, _ = median_time(parse, min(repeat, 3))
    n = counts.get("buildings", 0)
    c = float(np.median(cpu))
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "buildings": n,
        "counts": counts,
        "s": t,
        "runs": times,
        "cpu_s": c,
        "cpu_runs": cpu,
        "buildings_per_cpu_s": n / c if c else float("nan"),
        "buildings_per_s": n / t if t else float("nan"),
        "read_s": t_read,
        "read_buildings_per_s": n / t_read if t_read else float("nan"),
        "vs_3dcitydb": (n / t) / CITYDB_BUILDINGS_PER_S if t else float("nan"),
    }


_RSS_SCRIPT = """
import sys, time
from pathlib import Path
from cim.io import import_files
from cim.model import City
from cim.store import open_store
store = open_store(sys.argv[2], create=True)
store.init(City(name="rss", crs_epsg=int(sys.argv[3])), overwrite=True)
t0 = time.perf_counter()
rep = import_files(store, [Path(sys.argv[1])])
dt = time.perf_counter() - t0
store.close()
workers = (rep.files[0].get("info") or {}).get("workers") or {}
print(rep.counts.get("buildings", 0), dt, hwm(), workers.get("peak_rss_mib") or 0, workers.get("processes", 0))
"""
# VmHWM: this process's own peak RSS, KiB (ru_maxrss would also count the bench process it was forked from)
_HWM = """
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
"""


def peak_rss(path: Path, epsg: int, work: Path) -> dict[str, Any]:
    """Peak RSS (MiB) of a fresh process importing ``path`` into a fresh SQLite store, and its baseline
    (the same process after its imports, before reading the file)."""
    import subprocess
    import sys

    store = work / "rss.sqlite"
    remove_store(store)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _HWM + _RSS_SCRIPT, str(path), str(store), str(epsg)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    ).stdout.split()
    base = subprocess.run(
        [
            sys.executable,
            "-c",
            _HWM + "import cim.io, cim.store, cim.io.cityjson, shapely, pyproj\nprint(hwm())",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    ).stdout.split()
    remove_store(store)
    n, dt, kib, workers_mib, procs = int(out[0]), float(out[1]), int(out[2]), float(out[3]), int(out[4])
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "buildings": n,
        "s": dt,
        "peak_rss_mib": kib / 1024 + workers_mib,  # the importing process's peak plus its workers' peaks
        "parent_peak_rss_mib": kib / 1024,
        "worker_processes": procs,
        "workers_peak_rss_mib": workers_mib,
        "baseline_rss_mib": int(base[0]) / 1024,
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
        bag_src = DATA / "multi_lod.json"
        if bag_src.exists():
            n_bag = 3_000 if ctx.quick else 12_000
            bag = work / f"bag-{n_bag}.city.jsonl"
            info = bag_cityjsonseq(bag, n_bag, bag_src)
            ctx.log(f"imports: {n_bag:,} 3D BAG copies ({info['bytes'] / 1e6:.1f} MB CityJSONSeq)")
            files.append(("3D BAG copies", bag, 28992))
            cores = len(os.sched_getaffinity(0))
            if cores > 1:  # the default starts workers on idle cores only: here as many as there are cores
                files.append((f"3D BAG copies, jobs={cores}", bag, 28992))
        else:
            result["files"]["3D BAG copies"] = {"skipped": f"{bag_src} not found"}
        for label, path, epsg in files:
            jobs = int(label.rsplit("jobs=", 1)[1]) if "jobs=" in label else None
            r = measure(path, epsg, repeat, work, jobs)
            result["files"][label] = r
            ctx.log(
                f"imports {label}: {r['buildings']:,} buildings in {r['s']:.2f} s = {r['buildings_per_s']:,.0f} "
                f"buildings/s ({r['vs_3dcitydb']:.1f}x 3DCityDB's published); parse only {r['read_s']:.2f} s"
            )
        if bag_src.exists():
            big = work / "bag-17000.city.jsonl"  # about 50 MB
            bag_cityjsonseq(big, 17_000, bag_src)
            r = peak_rss(big, 28992, work)
            result["memory"] = r
            ctx.log(
                f"imports memory: {r['bytes'] / 1e6:.0f} MB CityJSONSeq, {r['buildings']:,} buildings in "
                f"{r['s']:.1f} s, peak RSS {r['peak_rss_mib']:.0f} MiB (the importing process "
                f"{r['parent_peak_rss_mib']:.0f}, {r['worker_processes']} worker processes "
                f"{r['workers_peak_rss_mib']:.0f}; baseline {r['baseline_rss_mib']:.0f} MiB)"
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
                f"{r['s']:.2f} s ({r['cpu_s']:.2f} CPU s); {r['vs_3dcitydb']:.1f}x 3DCityDB's published "
                f"{result['citydb_buildings_per_s']:.0f}/s; parse only {r['read_s']:.2f} s",
            )
        )
    if "memory" in result:
        m = result["memory"]
        out.append(
            (
                NAME,
                f"CityJSONSeq {m['bytes'] / 1e6:.0f} MB ({m['buildings']:,} bldg) import, peak RSS MiB",
                {"value": m["peak_rss_mib"]},
                f"importing process {m.get('parent_peak_rss_mib', m['peak_rss_mib']):.0f} MiB + "
                f"{m.get('worker_processes', 0)} workers {m.get('workers_peak_rss_mib', 0):.0f} MiB (peaks summed); "
                f"baseline {m['baseline_rss_mib']:.0f} MiB; {m['s']:.1f} s",
            )
        )
    return out
