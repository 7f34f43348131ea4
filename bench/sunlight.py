"""Sunlight (日照) benchmark: a proposal against 200 neighbouring residential buildings, every floor.

``python -m bench.sunlight [--store data/sample.cim.sqlite] [--buildings 200] [--sample 1000]``

The question: on 大寒日, 08:00-16:00 true solar time in 1-minute steps, which window-sill points of the 200
residential buildings nearest to the sample city's ``SL-FAIL`` proposal (every floor, 1 m apart along every
wall that faces the sun's range) see the sun, with and without the proposal.

* **ours**: ``city.analyse("sunlight", ...)`` end to end (store reads, sun track, façade points, the exact LOD1
  shadow-top test wall by wall, upper bounds of the LOD2 landmarks' and the terrain's shadow tops, Embree rays
  only below those bounds, verdicts, the result model).
* **trimesh baseline**: the same (point, step) pairs as plain ray casting with trimesh's ray interface
  (``mesh.ray.intersects_any``; Embree through embreex when installed, as here): every pair against the scene
  of existing buildings (LOD1 prisms / LOD2 surfaces) and terrain, and against the proposal's prism (the
  "with" answer and ``blocked_by``): two ray queries per pair, as our ``rays`` counts them.  Only the ray
  queries are timed (the scene and the rays are built beforehand).  Its answers are compared with ours.
* **raw Embree**: the same rays as Embree occlusion queries straight on embreex (float32, no trimesh wrapper):
  what the ray engine itself costs.
* The three are run interleaved (``--repeat`` rounds of baseline, raw Embree, ours) and each keeps its best
  round, so that all see the same machine load.
* **trimesh pure-Python engine** (``trimesh.ray.ray_triangle``, what trimesh falls back to without embreex):
  timed on a random sample of ``--sample`` rays and reported as rays per second.

Rays per second = (point, step) pairs x (1 + proposals) / seconds.
Writes ``bench/out/sunlight-<n>-f<floors>-<report>.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "out"


def _targets(city, proposal_xy: np.ndarray, n: int, min_floors: int = 1) -> list[str]:
    dwell = [
        b
        for b in city.store.iter_features("buildings")
        if b.use.value == "residential"
        and b.attributes.get("kind") not in ("shed", "garage")
        and (b.floors_above or 1) >= min_floors
    ]
    cx = np.array([b.exterior().mean(axis=0) for b in dwell])
    order = np.argsort(np.hypot(*(cx - proposal_xy).T))
    return [dwell[i].id for i in order[:n]]


def main(argv: list[str] | None = None) -> dict:
    import trimesh

    import cim
    from cim.analysis import sunlight as S
    from cim.mesh import building_meshes, extrusions
    from cim.solar import facade, shadow
    from cim.solar.sun import solar_term_date, sun_track
    from cim.store.base import Region
    from sample_city import build_sample_city
    from sample_city.layout import origin
    from sample_city.sunlight import SITE, proposals

    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="data/sample.cim.sqlite")
    ap.add_argument("--buildings", type=int, default=200)
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--min-floors", type=int, default=1, help="only dwellings with at least this many floors")
    ap.add_argument("--repeat", type=int, default=3, help="best of N interleaved runs of ours and the baselines")
    ap.add_argument("--report", default="all", choices=["all", "worst"], help="points reported by ours")
    args = ap.parse_args(argv)
    store = Path(args.store)
    if not store.exists():
        store.parent.mkdir(parents=True, exist_ok=True)
        build_sample_city(store)
    x0, y0 = origin()
    u0, v0, u1, v1 = SITE
    prop = proposals()["SL-FAIL"]
    centre = np.array([x0 + 0.5 * (u0 + u1), y0 + 0.5 * (v0 + v1)])
    out: dict = {}
    with cim.open(store) as city:
        ids = _targets(city, centre, args.buildings, args.min_floors)
        req = {
            "crs": "EPSG:4550",
            "proposals": [prop],
            "targets": {"buildings": ids},
            "points": {"floors": "all", "spacing_m": 1.0, "report": args.report},
            "step_min": 1,
        }
        city.analyse("sunlight", {**req, "targets": {"buildings": ids[:1]}})  # warm: imports, solar term, numba

        def run_ours():
            t, c = time.perf_counter(), time.process_time()
            r = city.analyse("sunlight", req)
            return r, time.perf_counter() - t, time.process_time() - c

        res, ours_s, ours_cpu = run_ours()
        full = (
            res
            if args.report == "all"
            else city.analyse("sunlight", {**req, "points": {**req["points"], "report": "all"}})
        )
        n_points = sum(len(b.points) for b in full.buildings)
        out["ours"] = {
            "seconds": ours_s,
            "cpu_seconds": ours_cpu,
            "rays": res.rays,
            "rays_per_s": res.rays / ours_s,
            "points": n_points,
            "buildings": len(res.buildings),
            "min_floors": args.min_floors,
            "report": args.report,
            "floors_mean": float(np.mean([(b.points[-1].floor if b.points else 0) + 1 for b in full.buildings])),
            "engine": res.engine,
            "verdicts": {v: sum(b.verdict == v for b in res.buildings) for v in ("pass", "fail", "existing-shortfall")},
        }
        print(
            f"ours: {ours_s:.1f} s (CPU {ours_cpu:.1f} s), {res.rays:,} rays, "
            f"{res.rays / ours_s / 1e6:.2f} M rays/s, {n_points:,} points"
        )

        # -- the same pairs as plain ray casting -------------------------------------------------------------
        targets = [city.store.get("buildings", i) for i in ids]
        allxy = np.concatenate([b.exterior() for b in targets])
        mid = 0.5 * (allxy.min(axis=0) + allxy.max(axis=0))
        lon, lat = S._lonlat(city.crs_epsg, mid)
        track = sun_track(lon, lat, solar_term_date(2026, 300.0), (480.0, 960.0), 1.0, epsg=city.crs_epsg,
                          elevation=float(np.mean([b.ground_elevation for b in targets])))  # fmt: skip
        cols = facade.facade_columns([b.footprint for b in targets], track.horizontal, track.altitude > 0, spacing=1.0)
        nf = np.array([S._floors(b)[0] for b in targets])
        st = np.array([S._floors(b)[1] for b in targets])
        ground = np.array([b.ground_elevation for b in targets])
        pts = facade.facade_points(cols, ground, nf, st, 0.9, True)
        local = np.round(mid)
        reach = 3000.0
        lo, hi = allxy.min(axis=0) - reach, allxy.max(axis=0) + reach
        near = list(city.store.iter_features("buildings", region=Region.box(lo[0], lo[1], hi[0], hi[1])))
        scene = building_meshes(near)
        tm = city.terrain_mesh((lo[0], lo[1], hi[0], hi[1]))
        verts = [scene.vertices, tm.vertices]
        faces = [scene.faces, tm.faces + len(scene.vertices)]
        existing = trimesh.Trimesh(np.concatenate(verts) - [*local, 0.0], np.concatenate(faces), process=False)
        pc = proposals()["SL-FAIL"]["footprint"]["coordinates"][0]
        ring = np.array([[e, n] for n, e in pc[:-1]])
        ground_p = float(city.store.terrain().sample(ring.mean(axis=0)[None])[0])
        pm = extrusions([[ring]], np.array([ground_p]), np.array([ground_p + 78.0]), np.array([[0, 0, 0, 255]]), ["p"])
        prop_mesh = trimesh.Trimesh(pm.vertices - [*local, 0.0], pm.faces, process=False)
        r, tt = np.nonzero(cols.facing[pts.column])
        origins = np.column_stack([cols.origin[pts.column[r]] - local, pts.z[r]])
        dirs = track.direction[tt]
        n_pairs = len(r)
        print(f"baseline: {n_pairs:,} pairs, {len(existing.faces):,} + {len(prop_mesh.faces)} triangles")
        ray_e, ray_p = existing.ray, prop_mesh.ray

        def plain(ray, o, d, chunk=1_000_000):  # trimesh's own interface, as a user would call it
            return np.concatenate(
                [ray.intersects_any(o[k : k + chunk], d[k : k + chunk]) for k in range(0, len(o), chunk)]
            )

        base_s = base_cpu = raw_s = raw_cpu = np.inf
        for _ in range(args.repeat):  # interleaved: baseline, raw Embree, ours, so that all see the same load
            t, c = time.perf_counter(), time.process_time()
            hit_e = plain(ray_e, origins, dirs)
            hit_p = plain(ray_p, origins, dirs)
            base_s, base_cpu = min(base_s, time.perf_counter() - t), min(base_cpu, time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            raw_e = shadow.rays_blocked(ray_e, origins, dirs)
            raw_p = shadow.rays_blocked(ray_p, origins, dirs)
            raw_s, raw_cpu = min(raw_s, time.perf_counter() - t), min(raw_cpu, time.process_time() - c)
            _, s1, c1 = run_ours()
            ours_s, ours_cpu = min(ours_s, s1), min(ours_cpu, c1)
        out["ours"].update(seconds=ours_s, cpu_seconds=ours_cpu, rays_per_s=res.rays / ours_s)
        out["embree_occlusion"] = {
            "seconds": raw_s,
            "cpu_seconds": raw_cpu,
            "rays_per_s": 2 * n_pairs / raw_s,
            "same_answers_as_trimesh": float(np.mean(np.r_[raw_e == hit_e, raw_p == hit_p])),
        }
        print(f"embree occlusion (embreex, no trimesh wrapper): {raw_s:.1f} s (CPU {raw_cpu:.1f} s)")
        out["trimesh"] = {
            "engine": type(ray_e).__module__,
            "seconds": base_s,
            "cpu_seconds": base_cpu,
            "rays": 2 * n_pairs,
            "rays_per_s": 2 * n_pairs / base_s,
            "triangles": int(len(existing.faces)),
        }
        print(
            f"trimesh ({type(ray_e).__module__}): {base_s:.1f} s (CPU {base_cpu:.1f} s), "
            f"{2 * n_pairs / base_s / 1e6:.2f} M rays/s"
        )

        # agreement: minutes per point, ours against the baseline (same min-continuous rule)
        sun_wo = np.zeros((len(pts), len(track.minutes)), bool)
        sun_wo[r, tt] = ~hit_e
        sun_w = sun_wo.copy()
        sun_w[r, tt] &= ~hit_p
        min_steps = 5
        m_w, _ = S.runs(sun_w, min_steps)
        by_id = {b.id: b for b in full.buildings}
        # our points are emitted per building in column order then floor; rebuild that order
        ours_min = np.array([p.minutes for i in ids for p in by_id[i].points])
        key = np.lexsort((pts.floor, pts.column, cols.building[pts.column]))
        diff = np.abs(ours_min - m_w[key])
        out["agreement"] = {
            "points": int(len(diff)),
            "identical_share": float(np.mean(diff == 0)),
            "within_2_min_share": float(np.mean(diff <= 2)),
            "max_diff_min": float(diff.max()),
        }
        print("agreement:", out["agreement"])

        # trimesh's pure-Python engine on a sample
        from trimesh.ray.ray_triangle import RayMeshIntersector

        rng = np.random.default_rng(0)
        k = rng.choice(n_pairs, size=min(args.sample, n_pairs), replace=False)
        pure = RayMeshIntersector(existing)
        t = time.perf_counter()
        pure.intersects_any(origins[k], dirs[k])
        pure_s = time.perf_counter() - t
        out["trimesh_pure"] = {"sample": len(k), "seconds": pure_s, "rays_per_s": len(k) / pure_s}
        print(f"trimesh pure: {len(k)} rays in {pure_s:.1f} s, {len(k) / pure_s:,.0f} rays/s")
    out["speedup_vs_trimesh"] = out["ours"]["rays_per_s"] / out["trimesh"]["rays_per_s"]
    out["speedup_vs_trimesh_cpu"] = (out["trimesh"]["cpu_seconds"] / out["trimesh"]["rays"]) / (
        out["ours"]["cpu_seconds"] / out["ours"]["rays"]
    )
    out["speedup_vs_embree_occlusion_cpu"] = out["embree_occlusion"]["cpu_seconds"] / out["ours"]["cpu_seconds"]
    out["speedup_vs_trimesh_pure"] = out["ours"]["rays_per_s"] / out["trimesh_pure"]["rays_per_s"]
    print(
        f"speed-up: {out['speedup_vs_trimesh']:.1f}x trimesh+embree (wall), "
        f"{out['speedup_vs_trimesh_cpu']:.1f}x (CPU), {out['speedup_vs_embree_occlusion_cpu']:.1f}x raw Embree (CPU), "
        f"{out['speedup_vs_trimesh_pure']:.0f}x pure"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"sunlight-{args.buildings}-f{args.min_floors}-{args.report}.json").write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
