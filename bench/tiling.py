"""GLB and 3D Tiles against the peers: CityJSON to GLB against cjio, LAS to tiles against py3dtiles.

Every conversion runs as a command in a fresh process, timed on the wall clock from start to exit
(interpreter start-up and imports included, as a user runs it), the median of the runs:

* **CityJSON to GLB**: ``python -m bench.tiling glb FILE EPSG OUT`` (``cim.io.read``, ``cim.mesh``
  meshes, ``tiles.gltf.encode_glb``: one y-up GLB in a local ENU frame with normals, colours, feature ids
  and the property table) against ``cjio FILE export glb OUT`` (cjio 0.10), on ``delft.json`` and
  ``zurich_subset_lod2.json``.  delft.json holds 570 city objects of which 160 buildings, the only
  objects this service imports; cjio converts every object unless told ``subset --cotype Building``
  first, so both cjio runs are measured and the per-building figure uses the buildings-only one.  The
  whole 3D Tiles layer (import into a store, ``tiles.build_layer``) is timed too (``tileset``).
* **LAS to tiles**: ``python -m bench.tiling terrain FILE EPSG OUTDIR`` (``cim.io.import_files`` of
  the LAS: ground grid, DEM, building points; then the terrain layer's 3D Tiles 1.1 tileset) against
  ``py3dtiles convert FILE --spec-version 1.1 --srs_out 4978 --jobs 2`` (py3dtiles 12.1: a point-cloud
  tileset of every point, placed on the globe).  The products differ (a terrain mesh from the ground
  points against a point cloud of all points): the comparison is of the work per input point.
  Files: ``autzen_trim.las`` (110,000 points) and a synthetic LAS (1 M points quick, 10 M full).

When ``tiles`` or ``cim.mesh`` are missing (another engineer builds them) the suite records
``pending: tiles not yet available``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import ROOT, Context, Row
from .peers_env import PeersEnv, loadavg, run_timed

NAME = "tiling"
TITLE = "CityJSON to GLB against cjio, LAS to 3D Tiles against py3dtiles"

DATA = ROOT.parent / "shared" / "data"
GLB_FILES = [
    ("delft", DATA / "buildings" / "delft.json", 28992),
    ("zurich", DATA / "buildings" / "zurich_subset_lod2.json", 2056),
]
LAS_FILES = [("autzen", DATA / "terrain" / "autzen_trim.las", 32610)]


def tiles_missing() -> str | None:
    """None when this checkout has the mesh and tiles functions the suite uses, else why not."""
    try:
        import tiles
        from cim.mesh import feature_meshes  # noqa: F401
        from tiles.frame import CityFrame, EnuFrame, yup  # noqa: F401
        from tiles.gltf import encode_glb  # noqa: F401
        from tiles.layers import layer_of_collection  # noqa: F401

        tiles.build_layer, tiles.DirectorySink  # noqa: B018
    except (ImportError, AttributeError) as exc:
        return f"pending: tiles not yet available ({type(exc).__name__}: {exc})"
    return None


# -- our side, run as a command -------------------------------------------------------------------
def our_glb(path: Path, epsg: int, out: Path) -> dict[str, Any]:
    """CityJSON file -> one GLB of its buildings (what ``cjio export glb`` makes), stage times in seconds."""
    import numpy as np

    from cim.io import ImportContext, read
    from cim.mesh import feature_meshes
    from cim.model import City
    from tiles.frame import CityFrame, EnuFrame, yup
    from tiles.gltf import encode_glb
    from tiles.layers import layer_of_collection

    t0 = time.perf_counter()
    res = read(path, ImportContext(city=City(crs_epsg=epsg)))
    feats = res.features
    t1 = time.perf_counter()
    mesh = feature_meshes(feats)
    t2 = time.perf_counter()
    lo, hi = mesh.bounds()
    origin = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    frame = CityFrame(epsg, EnuFrame.at_city_point(*origin, epsg))
    enu = frame.to_enu(mesh.vertices)
    normals = frame.rotate_normals(mesh.normals, origin)
    table = layer_of_collection("buildings").table(feats, None)
    data = encode_glb(
        yup(enu),
        mesh.faces,
        normals=yup(normals),
        colors=mesh.colors,
        feature=mesh.feature,
        table=table,
        extras={"enu_to_ecef": frame.enu.matrix()},
        name=path.stem,
    )
    out.write_bytes(data)
    t3 = time.perf_counter()
    return {
        "features": len(feats),
        "vertices": int(len(mesh.vertices)),
        "triangles": int(len(mesh.faces)),
        "bytes": len(data),
        "read_s": t1 - t0,
        "mesh_s": t2 - t1,
        "encode_s": t3 - t2,
    }


def our_tileset(path: Path, epsg: int, out: Path, layer: str) -> dict[str, Any]:
    """Import a file into a fresh store and write a layer's 3D Tiles 1.1 tileset into ``out``."""
    import tiles
    from cim.io import import_files
    from cim.model import City
    from cim.store import open_store

    out.mkdir(parents=True, exist_ok=True)
    store_path = out.parent / (out.name + ".sqlite")
    t0 = time.perf_counter()
    store = open_store(str(store_path), create=True)
    try:
        store.init(City(name="tiling bench", crs_epsg=epsg), overwrite=True)
        rep = import_files(store, [path])
        t1 = time.perf_counter()
        res = tiles.build_layer(store, layer, tiles.DirectorySink(out))
        t2 = time.perf_counter()
    finally:
        store.close()
    return {
        "counts": rep.counts,
        "import_s": t1 - t0,
        "tiles_s": t2 - t1,
        "tiles": res.tiles,
        "bytes": res.bytes,
        "features": res.features,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.tiling", description="one conversion, timed by stage (JSON)")
    ap.add_argument("what", choices=["glb", "tileset", "terrain"])
    ap.add_argument("file", type=Path)
    ap.add_argument("epsg", type=int)
    ap.add_argument("out", type=Path)
    a = ap.parse_args(argv)
    if a.what == "glb":
        res = our_glb(a.file, a.epsg, a.out)
    else:
        res = our_tileset(a.file, a.epsg, a.out, "buildings" if a.what == "tileset" else "terrain")
    print(json.dumps(res))
    return 0


# -- the suite ------------------------------------------------------------------------------------
def _runs(
    cmd: list[str], repeat: int, timeout: float, out: Path | None = None, *, warm: bool = True, **kw: Any
) -> dict[str, Any]:
    """Median wall seconds of ``repeat`` runs of ``cmd`` after one unmeasured run (``warm``: the page cache,
    the bytecode and the PROJ database warm for both sides); the output is removed before each run."""
    import statistics

    runs, last = [], {}
    for i in range(repeat + warm):
        if out is not None and out.is_dir():
            shutil.rmtree(out, ignore_errors=True)
        elif out is not None:
            out.unlink(missing_ok=True)
        last = run_timed(cmd, timeout=timeout, **kw)
        if last.get("error"):
            return {"error": last["error"], "cmd": " ".join(cmd)}
        if i >= warm:
            runs.append(last["s"])
    res: dict[str, Any] = {"s": statistics.median(runs), "runs": runs, "cpu_s": last.get("cpu_s")}
    try:
        res["stages"] = json.loads(last.get("stdout", "").strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    return res


def _size(p: Path) -> int:
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size if p.exists() else 0


def run(ctx: Context) -> dict[str, Any]:
    repeat = 1 if ctx.quick else 3
    result: dict[str, Any] = {"repeat": repeat, "glb": {}, "las": {}, "loadavg_start": loadavg()}
    why = tiles_missing()
    if why:
        result["pending"] = why
        ctx.log(f"tiling: {why}")
        return result
    env = PeersEnv(log=ctx.log)
    ours = [sys.executable, "-m", "bench.tiling"]
    with tempfile.TemporaryDirectory(dir=ctx.out) as tmp:
        work = Path(tmp)
        why_cjio = env.ensure("cjio")
        result["cjio"] = f"skipped: {why_cjio}" if why_cjio else f"cjio {env.versions('cjio')['cjio']}"
        for label, path, epsg in GLB_FILES:
            if not path.exists():
                result["glb"][label] = {"skipped": f"{path} not found"}
                continue
            r: dict[str, Any] = {"file": path.name}
            out = work / f"{label}-ours.glb"
            r["ours"] = _runs([*ours, "glb", str(path), str(epsg), str(out)], repeat, 600, out, cwd=ROOT)
            r["ours"]["bytes"] = _size(out)
            tdir = work / f"{label}-tileset"
            r["ours_tileset"] = _runs([*ours, "tileset", str(path), str(epsg), str(tdir)], repeat, 600, tdir, cwd=ROOT)
            if not why_cjio:
                cj = env.bin("cjio")
                out = work / f"{label}-cjio.glb"
                if label == "delft":
                    r["cjio_buildings"] = _runs(
                        [
                            str(cj),
                            "--suppress_msg",
                            str(path),
                            "subset",
                            "--cotype",
                            "Building",
                            "export",
                            "glb",
                            str(out),
                        ],
                        repeat,
                        1200,
                        out,
                    )
                    r["cjio_buildings"]["bytes"] = _size(out)
                    if not ctx.quick:
                        r["cjio"] = _runs(
                            [str(cj), "--suppress_msg", str(path), "export", "glb", str(out)],
                            repeat,
                            1200,
                            out,
                            warm=False,
                        )
                        r["cjio"]["bytes"] = _size(out)
                else:
                    r["cjio_buildings"] = _runs(
                        [str(cj), "--suppress_msg", str(path), "export", "glb", str(out)], repeat, 1200, out
                    )
                    r["cjio_buildings"]["bytes"] = _size(out)
            n = (r["ours"].get("stages") or {}).get("features")
            r["buildings"] = n
            if n and "s" in r["ours"] and "s" in r.get("cjio_buildings", {}):
                r["ms_per_building"] = {"ours": r["ours"]["s"] / n * 1e3, "cjio": r["cjio_buildings"]["s"] / n * 1e3}
                r["ratio"] = r["cjio_buildings"]["s"] / r["ours"]["s"]
            result["glb"][label] = r
            ctx.log(
                f"tiling glb {label}: ours {r['ours'].get('s', float('nan')):.2f} s, tileset "
                f"{r['ours_tileset'].get('s', float('nan')):.2f} s, cjio (buildings) "
                f"{r.get('cjio_buildings', {}).get('s', float('nan')):.2f} s"
                + (f", cjio (all objects) {r['cjio']['s']:.2f} s" if "s" in r.get("cjio", {}) else "")
                + (f" -> {r['ratio']:.1f}x" if "ratio" in r else "")
            )

        why_p3 = env.ensure("py3dtiles")
        result["py3dtiles"] = f"skipped: {why_p3}" if why_p3 else f"py3dtiles {env.versions('py3dtiles')['py3dtiles']}"
        from .las_import import synthetic

        n_pts = 1_000_000 if ctx.quick else 10_000_000
        las = [(lbl, p, e) for lbl, p, e in LAS_FILES if p.exists()]
        las.append((f"synthetic {n_pts // 1_000_000} M", synthetic(work / "synthetic.las", n_pts), 32632))
        import laspy

        for label, path, epsg in las:
            points = int(laspy.open(str(path)).header.point_count)
            r = {"file": path.name, "points": points}
            tdir = work / f"{label.replace(' ', '_')}-ours"
            r["ours"] = _runs([*ours, "terrain", str(path), str(epsg), str(tdir)], repeat, 900, tdir, cwd=ROOT)
            r["ours"]["bytes"] = _size(tdir)
            if not why_p3:
                pdir = work / f"{label.replace(' ', '_')}-py3dtiles"
                r["py3dtiles"] = _runs(
                    [
                        str(env.bin("py3dtiles")),
                        "convert",
                        str(path),
                        "--out",
                        str(pdir),
                        "--overwrite",
                        "--spec-version",
                        "1.1",
                        "--srs_out",
                        "4978",
                        "--jobs",
                        "2",
                    ],
                    repeat,
                    1800,
                    pdir,
                    cwd=work,
                )
                r["py3dtiles"]["bytes"] = _size(pdir)
                r["py3dtiles"]["tiles"] = sum(1 for f in pdir.rglob("*") if f.suffix in (".glb", ".pnts"))
            if "s" in r["ours"] and "s" in r.get("py3dtiles", {}):
                r["points_per_s"] = {"ours": points / r["ours"]["s"], "py3dtiles": points / r["py3dtiles"]["s"]}
                r["ratio"] = r["py3dtiles"]["s"] / r["ours"]["s"]
            result["las"][label] = r
            ctx.log(
                f"tiling las {label} ({points:,} points): ours {r['ours'].get('s', float('nan')):.2f} s, "
                f"py3dtiles {r.get('py3dtiles', {}).get('s', float('nan')):.2f} s"
                + (f" -> {r['ratio']:.1f}x" if "ratio" in r else "")
            )
    result["loadavg_end"] = loadavg()
    return result


def rows(result: dict[str, Any]) -> list[Row]:  # noqa: C901 - predates the complexity gate (issue 14); split it when it next changes
    if result.get("pending"):
        return [(NAME, "GLB and 3D Tiles", {}, result["pending"])]
    out: list[Row] = []
    for label, r in result["glb"].items():
        if "skipped" in r:
            out.append((NAME, f"glb {label}", {}, f"skipped: {r['skipped']}"))
            continue
        n = r.get("buildings") or 0
        for key, what in (
            ("ours", "ours, one GLB"),
            ("ours_tileset", "ours, import + 3D Tiles layer"),
            ("cjio_buildings", "cjio export glb (buildings)"),
            ("cjio", "cjio export glb (all objects)"),
        ):
            m = r.get(key)
            if not m:
                continue
            if "error" in m:
                out.append((NAME, f"glb {label}: {what}", {}, f"FAILED: {m['error'][:100]}"))
                continue
            note = f"{m['s'] / n * 1e3:.1f} ms/bldg" if n else ""
            if m.get("bytes"):
                note += f"; {m['bytes']:,} B"
            if key == "cjio_buildings" and "ratio" in r:
                note += f"; cjio/ours {r['ratio']:.1f}x"
            out.append((NAME, f"glb {label} ({n} bldg): {what}, s", {"value": m["s"]}, note))
    for label, r in result["las"].items():
        for key in ("ours", "py3dtiles"):
            m = r.get(key)
            if not m:
                continue
            if "error" in m:
                out.append((NAME, f"las {label}: {key}", {}, f"FAILED: {m['error'][:100]}"))
                continue
            note = f"{r['points'] / m['s'] / 1e6:.2f} M points/s; {m.get('bytes', 0):,} B"
            if key == "py3dtiles" and "ratio" in r:
                note += f"; py3dtiles/ours {r['ratio']:.1f}x"
            out.append((NAME, f"las {label} ({r['points']:,} pts): {key}, s", {"value": m["s"]}, note))
    for peer in ("cjio", "py3dtiles"):
        if str(result.get(peer, "")).startswith("skipped"):
            out.append((NAME, peer, {}, result[peer]))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
