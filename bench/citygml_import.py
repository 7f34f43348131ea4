"""CityGML LoD2 import: buildings per second and the peak memory of a ~50 MB file (issue 16).

The file is written by :func:`lod2_citygml`: a generated city of gabled-roof houses as CityGML 2.0 in
the shape the 3D City Database exports (Berlin's ``Berlin_Moabit_1Bldg_v2.gml`` in ``shared/data``): per
building a ``gml:Envelope``, ``measuredHeight``, ``function``, ``storeysAboveGround``,
``yearOfConstruction``, generic attributes, an ``lod2Solid`` whose ``CompositeSurface`` points
(``xlink:href``) at the polygons of its ``boundedBy`` Ground/Wall/RoofSurfaces (``lod2MultiSurface``,
``gml:posList``), in ETRS89 / UTM 33N + DHHN2016 (the compound URN Berlin uses).  About 4.8 KB a
building: 10,500 buildings make ~50 MB.

``python -m bench citygml`` imports it into a fresh SQLite store in a fresh process per run (VmHWM is that
process's peak RSS) and reports wall and CPU seconds of the import, buildings/s and the 1-minute load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .common import ROOT, Context, Row, remove_store
from .peers_env import loadavg

NAME = "citygml"
TITLE = "CityGML LoD2 import: buildings/s and peak RSS of a ~50 MB file"

EPSG = 25833
SRS = "urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783"
X0, Y0 = 388_000.0, 5_818_000.0

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<CityModel xmlns="http://www.opengis.net/citygml/2.0" xmlns:gml="http://www.opengis.net/gml" '
    'xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:gen="http://www.opengis.net/citygml/generics/2.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink">\n'
    '<gml:boundedBy><gml:Envelope srsName="{srs}" srsDimension="3">'
    "<gml:lowerCorner>{lo}</gml:lowerCorner><gml:upperCorner>{hi}</gml:upperCorner></gml:Envelope></gml:boundedBy>\n"
)
_SURF = (
    '<bldg:boundedBy><bldg:{kind} gml:id="{bid}_{k}s"><bldg:lod2MultiSurface><gml:MultiSurface>'
    '<gml:surfaceMember><gml:Polygon gml:id="{bid}_{k}p"><gml:exterior><gml:LinearRing>'
    "<gml:posList>{pos}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>"
    "</gml:MultiSurface></bldg:lod2MultiSurface></bldg:{kind}></bldg:boundedBy>\n"
)


def _fmt(xyz: np.ndarray) -> str:
    return " ".join(f"{v:.3f}" for v in xyz.ravel())


def lod2_citygml(path: Path, n: int, seed: int = 16) -> dict[str, Any]:
    """Write ``n`` LoD2 buildings (gabled roofs, 7 semantic surfaces each: 1 ground, 4 walls, 2 roofs) as
    CityGML 2.0; ids ``B000000``...  Returns {"buildings", "bytes"}."""
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    blk, inner = np.divmod(k, 64)
    bx, by = np.divmod(blk, max(int(np.ceil(np.sqrt(n / 64))), 1))
    iy, ix = np.divmod(inner, 8)
    x0s = X0 + bx * 220.0 + 10 + ix * 25.0
    y0s = Y0 + by * 220.0 + 10 + iy * 25.0
    ws, ds = rng.uniform(8, 20, n), rng.uniform(8, 20, n)
    hs = np.round(np.clip(rng.lognormal(2.4, 0.4, n), 4, 80), 2)
    gs = np.round(34 + 0.001 * (x0s - X0) + rng.normal(0, 0.2, n), 3)
    eaves = rng.uniform(0.65, 0.85, n)
    years = rng.integers(1870, 2025, n)
    funcs = rng.choice(["31001_1000", "31001_2000", "31001_1010", "31001_3000"], n)
    lo = f"{X0:.3f} {Y0:.3f} 30.000"
    hi = f"{x0s.max() + 20:.3f} {y0s.max() + 20:.3f} {float((gs + hs).max()):.3f}"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(_HEAD.format(srs=SRS, lo=lo, hi=hi))
        for i in range(n):
            x0, y0, g, h = float(x0s[i]), float(y0s[i]), float(gs[i]), float(hs[i])
            x1, y1 = x0 + float(ws[i]), y0 + float(ds[i])
            eave, top = g + h * float(eaves[i]), g + h
            v = np.array(
                [(x0, y0, g), (x1, y0, g), (x1, y1, g), (x0, y1, g), (x0, y0, eave), (x1, y0, eave)]
                + [(x1, y1, eave), (x0, y1, eave)]
                + (
                    [(x0, (y0 + y1) / 2, top), (x1, (y0 + y1) / 2, top)]
                    if x1 - x0 >= y1 - y0
                    else [((x0 + x1) / 2, y0, top), ((x0 + x1) / 2, y1, top)]
                )
            )
            if x1 - x0 >= y1 - y0:
                faces = [[0, 3, 2, 1], [0, 1, 5, 4], [1, 2, 6, 9, 5], [2, 3, 7, 6], [3, 0, 4, 8, 7]]
                faces += [[4, 5, 9, 8], [6, 7, 8, 9]]
            else:
                faces = [[0, 3, 2, 1], [0, 1, 5, 8, 4], [1, 2, 6, 5], [2, 3, 7, 9, 6], [3, 0, 4, 7]]
                faces += [[4, 8, 9, 7], [5, 6, 9, 8]]
            kinds = ["GroundSurface"] + ["WallSurface"] * 4 + ["RoofSurface"] * 2
            bid = f"B{i:06d}"
            out = [
                f'<cityObjectMember><bldg:Building gml:id="{bid}">\n'
                f'<gml:boundedBy><gml:Envelope srsName="{SRS}" srsDimension="3">'
                f"<gml:lowerCorner>{x0:.3f} {y0:.3f} {g:.3f}</gml:lowerCorner>"
                f"<gml:upperCorner>{x1:.3f} {y1:.3f} {top:.3f}</gml:upperCorner></gml:Envelope></gml:boundedBy>\n"
                f'<gen:stringAttribute name="Gemeindeschluessel"><gen:value>11000{i % 12:03d}</gen:value>'
                "</gen:stringAttribute>\n"
                f'<gen:doubleAttribute name="H_Traufe"><gen:value>{eave:.3f}</gen:value></gen:doubleAttribute>\n'
                f"<bldg:function>{funcs[i]}</bldg:function>\n"
                f"<bldg:yearOfConstruction>{int(years[i])}</bldg:yearOfConstruction>\n"
                '<bldg:roofType>3100</bldg:roofType>\n<bldg:measuredHeight uom="urn:adv:uom:m">'
                f"{h:.2f}</bldg:measuredHeight>\n"
                f"<bldg:storeysAboveGround>{max(1, int(h // 3))}</bldg:storeysAboveGround>\n"
                '<bldg:lod2Solid><gml:Solid><gml:exterior><gml:CompositeSurface srsDimension="3">'
                + "".join(f'<gml:surfaceMember xlink:href="#{bid}_{j}p"/>' for j in range(7))
                + "</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod2Solid>\n"
            ]
            for j, (kind, f) in enumerate(zip(kinds, faces, strict=True)):
                out.append(_SURF.format(kind=kind, bid=bid, k=j, pos=_fmt(v[f + f[:1]])))
            out.append("</bldg:Building></cityObjectMember>\n")
            fh.write("".join(out))
        fh.write("</CityModel>\n")
    return {"buildings": n, "bytes": path.stat().st_size}


_RUN = """
import resource, sys, time
from pathlib import Path
from cim.io import import_files
from cim.model import City
from cim.store import open_store
store = open_store(sys.argv[2], create=True)
store.init(City(name="citygml", crs_epsg=int(sys.argv[3])), overwrite=True)
t0, c0 = time.perf_counter(), time.process_time()
rep = import_files(store, [Path(sys.argv[1])])
dt, dc = time.perf_counter() - t0, time.process_time() - c0
store.close()
hwm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:"))
print(rep.counts.get("buildings", 0), dt, dc, hwm)
"""


def import_run(path: Path, work: Path, root: Path = ROOT, epsg: int = EPSG) -> dict[str, Any]:
    """One import of ``path`` by a fresh process running the code under ``root``: buildings, wall s,
    CPU s (of the import), peak RSS MiB (VmHWM of the process), 1-minute load average before."""
    store = work / "citygml.sqlite"
    remove_store(store)
    load = loadavg()
    out = subprocess.run(
        [sys.executable, "-c", _RUN, str(path), str(store), str(epsg)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        cwd=root,
    ).stdout.split()
    remove_store(store)
    n, dt, dc, kib = int(out[0]), float(out[1]), float(out[2]), int(out[3])
    return {"buildings": n, "s": dt, "cpu_s": dc, "peak_rss_mib": kib / 1024, "load1": load}


def run(ctx: Context) -> dict[str, Any]:
    n = 2_000 if ctx.quick else 10_500
    repeat = 2 if ctx.quick else 3
    with tempfile.TemporaryDirectory(dir=ctx.out) as tmp:
        work = Path(tmp)
        path = work / f"lod2-{n}.gml"
        info = lod2_citygml(path, n)
        ctx.log(f"citygml: generated {n:,} LoD2 buildings ({info['bytes'] / 1e6:.1f} MB)")
        runs = [import_run(path, work) for _ in range(repeat)]
    s = float(np.median([r["s"] for r in runs]))
    c = float(np.median([r["cpu_s"] for r in runs]))
    return {
        "bytes": info["bytes"],
        "buildings": runs[0]["buildings"],
        "runs": runs,
        "s": s,
        "cpu_s": c,
        "buildings_per_s": runs[0]["buildings"] / s,
        "buildings_per_cpu_s": runs[0]["buildings"] / c,
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
    }


def rows(result: dict[str, Any]) -> list[Row]:
    mb, n = result["bytes"] / 1e6, result["buildings"]
    return [
        (
            NAME,
            f"CityGML {mb:.0f} MB ({n:,} LoD2 bldg) import, bldg/s",
            {"value": result["buildings_per_s"]},
            f"{result['s']:.2f} s ({result['cpu_s']:.2f} CPU s, {result['buildings_per_cpu_s']:,.0f} bldg/CPU s)",
        ),
        (
            NAME,
            f"CityGML {mb:.0f} MB ({n:,} LoD2 bldg) import, peak RSS MiB",
            {"value": result["peak_rss_mib"]},
            "VmHWM of a fresh process",
        ),
    ]
