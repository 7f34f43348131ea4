"""Clash detection at scale, and IFC import against IfcOpenShell's own geometry iterator.

``python -m bench.clashes [--existing 1000000] [--new 10000] [--ifc PATH]`` prints a JSON object.

* **clashes**: a synthetic street network: lines every 100 m in both directions over a square, eight
  utilities under each street (plan offsets -7..7 m, axis depths 1.2-4.0 m, DN150-DN1000), cut into 30 m
  pieces, each piece a pipe feature, until ``--existing`` segments; then ``--new`` new pipe segments (30 m,
  random direction and depth 0.8-4.5 m, DN100-DN600) at random places.  The solids are built straight into
  :class:`cim.analysis.clashes.Bodies` arrays (no pydantic models, no store); timed: the detection of the
  new against the existing and among themselves (index build, candidate pairs, exact distances, rules,
  report), and, apart, the building of the arrays.
* **ifc**: the same file read by ``cim.io.ifc`` (everything: iterator, placement, footprint, elements,
  property sets, surfaces) and by IfcOpenShell's iterator alone (the same settings, include list and
  threads, vertices and faces copied to numpy); best of ``--repeat`` runs each.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np

from cim.analysis.clashes import Bodies, detect_clashes
from cim.analysis.compliance import PipeClass, PipelineRules

UTILITIES = (  # (utility, offset from the street axis m, axis depth m, diameter m)
    ("water", -7.0, 1.6, 0.6),
    ("reclaimed", -5.0, 1.4, 0.3),
    ("gas", -3.0, 1.2, 0.3),
    ("heat", -1.0, 2.0, 0.8),
    ("sewer", 1.0, 4.0, 1.0),
    ("storm", 3.0, 3.0, 0.8),
    ("power", 5.0, 1.2, 0.15),
    ("telecom", 7.0, 1.0, 0.15),
)
PIECE = 30.0
GROUND = 50.0


def network(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[PipeClass]]:
    """``n`` existing segments: ends (n, 3) a and b, diameters (n,), classes (n,)."""
    per_km2 = 10 * 1000 / PIECE * len(UTILITIES) * 2  # segments per km² (lines every 100 m both ways)
    side = np.sqrt(n / per_km2) * 1000  # metres
    lines = np.arange(0, side + 1, 100.0)
    steps = np.arange(0, side, PIECE)
    a, b, d, cls = [], [], [], []
    classes = {
        u: PipeClass(u, dia, "medium" if u == "gas" else None, u in ("power", "telecom")) for u, _, _, dia in UTILITIES
    }
    for u, off, depth, dia in UTILITIES:
        z = GROUND - depth
        for horizontal in (True, False):
            pos = np.repeat(lines, len(steps)) + off
            s0 = np.tile(steps, len(lines))
            s1 = s0 + PIECE
            if horizontal:
                a.append(np.column_stack([s0, pos, np.full_like(s0, z)]))
                b.append(np.column_stack([s1, pos, np.full_like(s0, z - 0.01)]))
            else:
                a.append(np.column_stack([pos, s0, np.full_like(s0, z + 0.02)]))  # lifted: crossings clear
                b.append(np.column_stack([pos, s1, np.full_like(s0, z + 0.01)]))
            d.append(np.full(len(s0), dia))
            cls += [classes[u]] * len(s0)
    a_, b_, d_ = np.concatenate(a)[:n], np.concatenate(b)[:n], np.concatenate(d)[:n]
    return a_, b_, d_, cls[:n]


def new_pipes(
    n: int, extent: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[PipeClass]]:
    start = np.column_stack([rng.uniform(0, extent, n), rng.uniform(0, extent, n), GROUND - rng.uniform(0.8, 4.5, n)])
    ang = rng.uniform(0, 2 * np.pi, n)
    end = start + np.column_stack([np.cos(ang) * PIECE, np.sin(ang) * PIECE, rng.uniform(-0.3, 0.3, n)])
    utils = rng.choice(["water", "gas", "sewer", "power"], n)
    d = rng.choice([0.1, 0.2, 0.3, 0.4, 0.6], n)
    cls = [PipeClass(str(u), float(x), "low" if u == "gas" else None, False) for u, x in zip(utils, d, strict=True)]
    return start, end, d, cls


def bodies_of(a: np.ndarray, b: np.ndarray, d: np.ndarray, cls: list[PipeClass], prefix: str, base: int) -> Bodies:
    n = len(a)
    out = Bodies()
    out.ids = [f"{prefix}{k}" for k in range(n)]
    out.collections = ["pipes"] * n
    out.kinds = [c.utility for c in cls]
    out.classes = list(cls)
    out.group = list(range(base, base + n))
    codes = -(2 * np.arange(base, base + n) + 1)
    out.nodes = list(zip(codes.tolist(), (codes - 1).tolist(), strict=True))
    out.source = list(range(base, base + n))
    out.sa, out.sb = a, b
    out.shw = out.shh = d / 2
    out.scirc = np.ones(n, bool)
    out.sown = np.arange(n, dtype=np.int64)
    return out


def concat(x: Bodies, y: Bodies) -> Bodies:
    out = Bodies()
    for name in ("ids", "collections", "kinds", "classes", "group", "nodes", "source", "parts"):
        setattr(out, name, getattr(x, name) + getattr(y, name))
    out.sa, out.sb = np.concatenate([x.sa, y.sa]), np.concatenate([x.sb, y.sb])
    out.shw, out.shh = np.concatenate([x.shw, y.shw]), np.concatenate([x.shh, y.shh])
    out.scirc = np.concatenate([x.scirc, y.scirc])
    out.sown = np.concatenate([x.sown, y.sown + len(x.ids)])
    return out


def bench_clashes(n_existing: int, n_new: int, seed: int = 20261203) -> dict:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    ea, eb, ed, ec = network(n_existing)
    extent = float(max(ea[:, 0].max(), ea[:, 1].max()))
    na, nb, nd, nc = new_pipes(n_new, extent, rng)
    new = bodies_of(na, nb, nd, nc, "new-", 0)
    old = bodies_of(ea, eb, ed, ec, "old-", n_new)
    bodies = concat(new, old)
    mask = np.zeros(len(bodies.ids), bool)
    mask[:n_new] = True
    t_build = time.perf_counter() - t0
    rules = PipelineRules.load()
    runs, cpu = [], []
    for _ in range(2):
        t0, c0 = time.perf_counter(), time.process_time()
        rep = detect_clashes(bodies, rules, new=mask)
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "existing_segments": n_existing,
        "new_segments": n_new,
        "extent_km": round(extent / 1000, 2),
        "arrays_s": round(t_build, 2),
        "detect_s": [round(r, 2) for r in runs],
        "detect_cpu_s": [round(r, 2) for r in cpu],
        "candidates": rep.candidates,
        "hard": rep.counts["hard"],
        "clearance": rep.counts["clearance"],
    }


def bench_ifc(path: Path, repeat: int) -> dict:
    import ifcopenshell
    import ifcopenshell.geom

    from cim.io import ImportContext, read
    from cim.model import City

    city = City(crs_epsg=25832)
    ours, iterator, ours_cpu, it_cpu = [], [], [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = read(path, ImportContext(city=city))
        ours.append(time.perf_counter() - t0)
        ours_cpu.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        f = ifcopenshell.open(str(path))
        s = ifcopenshell.geom.settings()
        s.set("use-world-coords", True)
        inc = [
            e
            for e in f.by_type("IfcElement")
            if not e.is_a("IfcFeatureElementSubtraction") and not e.is_a("IfcVirtualElement")
        ]
        inc += f.by_type("IfcSpace")
        it = ifcopenshell.geom.iterator(s, f, max(1, min(4, multiprocessing.cpu_count())), include=inc)
        tris = 0
        if it.initialize():
            while True:
                g = it.get().geometry
                np.asarray(g.verts, float).reshape(-1, 3)
                tris += len(np.asarray(g.faces).reshape(-1, 3))
                if not it.next():
                    break
        iterator.append(time.perf_counter() - t0)
        it_cpu.append(time.process_time() - c0)
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "cim_read_s": [round(x, 2) for x in ours],
        "iterator_s": [round(x, 2) for x in iterator],
        "cim_read_cpu_s": [round(x, 2) for x in ours_cpu],
        "iterator_cpu_s": [round(x, 2) for x in it_cpu],
        "triangles": tris,
        "elements": len(next(x for x in res.features if hasattr(x, "elements")).elements),
        "threads": max(1, min(4, multiprocessing.cpu_count())),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--existing", type=int, default=1_000_000)
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument(
        "--ifc", type=Path, default=Path(__file__).parent.parent.parent / "shared/data/buildings/AC20-FZK-Haus.ifc"
    )
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--skip-ifc", action="store_true")
    ap.add_argument("--skip-clashes", action="store_true")
    args = ap.parse_args()
    import os

    out: dict = {"load_average_before": os.getloadavg()}
    if not args.skip_clashes:
        out["clashes"] = bench_clashes(args.existing, args.new)
    if not args.skip_ifc and args.ifc.exists():
        out["ifc"] = bench_ifc(args.ifc, args.repeat)
    out["load_average_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
