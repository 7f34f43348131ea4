"""``python -m bench.flood [--n 4000] [--repeat 3] [--store data/sample.cim.sqlite]``: depression filling against
pysheds, and the whole ponding analysis of the sample city.

1. Priority-Flood (:func:`cim.hydro.fill.fill_depressions`, compiled with numba) against pysheds'
   ``Grid.fill_depressions`` (numba Priority-Flood with a pit queue) on the same n x n float64 DEM: a
   synthetic terrain (waves, a trend and N(0, 0.5 m) noise: about a third of the cells in depressions).
   Both compiled once before timing; the best of ``repeat`` runs; the filled surfaces are compared cell by
   cell.  scikit-image's grey reconstruction (the fallback without numba) is timed too.
2. Watersheds, the depression hierarchy and Fill-Spill-Merge on rough 300 x 300 and 1,000 x 1,000 grids.
3. ``POST /analysis/ponding``'s work (``city.analyse("ponding", ...)``) on the sample city under the 30-year
   Chicago storm, cold (first call in the process) and warm.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def dem(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    return (np.sin(x / 50) + np.cos(y / 70)) * 5 + rng.normal(0, 0.5, (n, n)) + x * 0.01


def best(f, repeat: int) -> tuple[float, object]:
    out, t_best = None, float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best, out


def filling(n: int, repeat: int) -> dict:
    from affine import Affine
    from pysheds.grid import Grid
    from pysheds.sview import Raster, ViewFinder

    from cim.hydro.fill import fill_depressions

    z = dem(n)
    small = dem(64)
    fill_depressions(small)  # compile
    t_ours, ours = best(lambda: fill_depressions(z), repeat)

    def view(a):
        vf = ViewFinder(affine=Affine(1, 0, 0, 0, -1, a.shape[0]), shape=a.shape, nodata=np.nan)
        return Grid(viewfinder=vf), vf

    g, vf = view(small)
    g.fill_depressions(Raster(small.copy(), viewfinder=vf))  # compile
    g, vf = view(z)
    # pysheds fills its input in place: a fresh copy per run (the copy is outside the timing)
    runs = []
    for _ in range(repeat):
        r = Raster(z.copy(), viewfinder=vf)
        t = time.perf_counter()
        p = g.fill_depressions(r)
        runs.append(time.perf_counter() - t)
    theirs = np.asarray(p)
    t_rec, rec = best(lambda: fill_depressions(z, method="reconstruction"), 1)
    return {
        "n": n,
        "cells": n * n,
        "filled_cells": int((ours > z).sum()),
        "cim_s": round(t_ours, 3),
        "pysheds_s": round(min(runs), 3),
        "speedup": round(min(runs) / t_ours, 2),
        "skimage_reconstruction_s": round(t_rec, 3),
        "max_abs_diff_vs_pysheds_m": float(np.abs(ours - theirs).max()),
        "max_abs_diff_vs_reconstruction_m": float(np.abs(ours - rec).max()),
    }


def hierarchy(n: int, noise: float) -> dict:
    """Watersheds, the depression hierarchy and Fill-Spill-Merge (0.05 m of water on every cell) on a rough
    n x n grid (the filling benchmark's terrain with ``noise`` m of noise); kernels compiled beforehand."""
    from cim.hydro import fsm

    small = dem(40)
    fsm.fill_spill_merge(fsm.hierarchy(small, 1.0), np.ones(int(fsm.basins(small).max()) + 1))
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    z = (np.sin(x / 50) + np.cos(y / 70)) * 5 + rng.normal(0, noise, (n, n)) + x * 0.01
    t0 = time.perf_counter()
    lab = fsm.basins(z)
    t1 = time.perf_counter()
    h = fsm.hierarchy(z, 1.0, lab)
    t2 = time.perf_counter()
    water = np.bincount(lab.ravel(), weights=np.full(z.size, 0.05), minlength=h.n_leaves + 1)
    res = fsm.fill_spill_merge(h, water)
    t3 = time.perf_counter()
    return {
        "n": n,
        "noise_m": noise,
        "basins": h.n_leaves,
        "lakes": len(res.lakes),
        "watersheds_s": round(t1 - t0, 2),
        "hierarchy_s": round(t2 - t1, 2),
        "fsm_s": round(t3 - t2, 2),
    }


def ponding(store: Path) -> dict:
    import cim

    with cim.open(store) as city:
        t = time.perf_counter()
        cold = city.analyse("ponding", storm={"return_period_a": 30}, crs="EPSG:4550", drainage_mm_per_h=20)
        t_cold = time.perf_counter() - t
        t_warm, warm = best(
            lambda: city.analyse("ponding", storm={"return_period_a": 30}, crs="EPSG:4550", drainage_mm_per_h=20), 3
        )
        shape = cold.grid.shape
    return {
        "grid": f"{shape[0]} x {shape[1]} cells of {cold.grid.cell_m} m",
        "cold_s": round(t_cold, 2),
        "warm_s": round(t_warm, 2),
        "ponds": len(warm.ponds),
        "buildings_flooded": len(warm.buildings_flooded),
        "stored_m3": warm.stored_m3,
        "total_runoff_m3": warm.total_runoff_m3,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", type=Path, default=Path("data/sample.cim.sqlite"))
    args = ap.parse_args()
    out = {"filling": filling(args.n, args.repeat)}
    print(json.dumps(out, indent=1), flush=True)
    out["hierarchy"] = [hierarchy(300, 0.05), hierarchy(1000, 0.5)]
    print(json.dumps(out["hierarchy"], indent=1), flush=True)
    if not args.store.exists():
        from sample_city import build_sample_city

        build_sample_city(args.store)
    out["ponding"] = ponding(args.store)
    print(json.dumps(out["ponding"], indent=1))


if __name__ == "__main__":
    main()
