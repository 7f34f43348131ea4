"""LAS import throughput against laspy's own read: ``python -m bench.las_import [FILE ...] [--synthetic N]``.

For each file: the median of ``repeat`` runs of (a) ``laspy.read`` of the whole file (the ceiling: decoding
only, no scaling), (a') laspy in chunks of 1 M with scaled x, y, z and classification, and (b)
:func:`cim.io.read` with the LAS reader into a city (decoding in chunks, reprojection, the
ground grid, the DEM and the building points).  Prints points per second for both; :func:`measure` returns
them for a benchmark suite.  ``--synthetic N`` adds an N-point LAS (a plane with houses, EPSG:32632),
written to a temporary folder, where the per-file costs (CRS look-ups, transformer set-up) weigh less.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from cim.io import ImportContext, read
from cim.model import City


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(path: str | Path, city: City, crs: str | None = None, repeat: int = 3) -> dict:
    """{"file", "points", "laspy_read_s", "laspy_points_per_s", "laspy_chunks_s", "laspy_chunks_points_per_s",
    "import_s", "import_points_per_s"}."""
    import laspy

    path = Path(path)
    n = int(laspy.open(str(path)).header.point_count)
    read(path, ImportContext(city=city, crs=crs))  # warm caches (pyproj database, imports)
    t_raw = _median_time(lambda: laspy.read(str(path)), repeat)

    def chunks() -> None:  # what the reader decodes, without reprojection or gridding
        with laspy.open(str(path)) as r:
            for c in r.chunk_iterator(1_000_000):
                _ = (np.asarray(c.x), np.asarray(c.y), np.asarray(c.z), np.asarray(c.classification))

    t_chunks = _median_time(chunks, repeat)
    t_imp = _median_time(lambda: read(path, ImportContext(city=city, crs=crs)), repeat)
    return {
        "file": path.name,
        "points": n,
        "laspy_read_s": t_raw,
        "laspy_points_per_s": n / t_raw,
        "laspy_chunks_s": t_chunks,
        "laspy_chunks_points_per_s": n / t_chunks,
        "import_s": t_imp,
        "import_points_per_s": n / t_imp,
    }


def synthetic(path: Path, n: int, seed: int = 0) -> Path:
    """An n-point LAS 1.2 (format 1, EPSG:32632): ground on a gentle slope, 10 % building points."""
    import laspy
    from pyproj import CRS

    rng = np.random.default_rng(seed)
    side = max(100.0, float(np.sqrt(n / 8.0)))  # about 8 points per square metre
    x, y = 500_000 + rng.random(n) * side, 4_000_000 + rng.random(n) * side
    building = rng.random(n) < 0.1
    z = 10 + 0.01 * (x - 500_000) + np.where(building, 9.0, rng.normal(0, 0.05, n))
    header = laspy.LasHeader(point_format=1, version="1.2")
    header.scales, header.offsets = np.array([0.001] * 3), np.array([500_000.0, 4_000_000.0, 0.0])
    header.add_crs(CRS.from_epsg(32632))
    las = laspy.LasData(header)
    las.x, las.y, las.z = x, y, z
    las.classification = np.where(building, 6, 2).astype(np.uint8)
    las.write(str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.las_import", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--epsg", type=int, default=None, help="city CRS (default: the file's own, else 32632)")
    ap.add_argument("--crs", default=None, help="CRS of files that declare none")
    ap.add_argument("--synthetic", type=int, default=0, metavar="N", help="add an N-point synthetic LAS")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = list(args.files)
        if args.synthetic:
            files.append(synthetic(Path(tmp) / f"synthetic_{args.synthetic}.las", args.synthetic))
        for f in files:
            rows.append(measure(f, City(crs_epsg=args.epsg or 32632), args.crs, args.repeat))
    for r in rows:
        print(
            f"{r['file']}: {r['points']:,} points; laspy.read {r['laspy_read_s'] * 1000:.0f} ms "
            f"({r['laspy_points_per_s'] / 1e6:.2f} M points/s); laspy chunks with scaled xyz + class "
            f"{r['laspy_chunks_s'] * 1000:.0f} ms ({r['laspy_chunks_points_per_s'] / 1e6:.2f} M points/s); "
            f"import {r['import_s'] * 1000:.0f} ms "
            f"({r['import_points_per_s'] / 1e6:.2f} M points/s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
