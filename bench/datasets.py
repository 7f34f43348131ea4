"""Data the peer benchmarks share: synthetic stores, the buildings as a plain PostGIS table, LoD2 CityJSON.

* :func:`synth_store`: a SQLite store of ``bench/synth.py``'s city of n buildings, kept in ``bench/out``
  between suites and runs (rebuilt when ``synth.py`` changes);
* :func:`buildings_table`: a store's buildings, as this service answers them in GeoJSON (CRS84), loaded
  into a PostGIS table of one column per property (nested ones as jsonb) with a GiST index: what
  pygeoapi's PostgreSQL provider serves;
* :func:`lod2_cityjson`: a CityJSON 2.0 file of n LoD2 buildings (gabled roofs, semantic surfaces),
  shaped like the LoD2 data cities publish, for the import benchmark.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from . import synth
from .common import Context, remove_store

COLLECTION = "buildings"


STORE_LAYOUT = "gj"  # change when stored rows gain a column (the CRS84 GeoJSON, issue 16): cached stores are rebuilt


def _synth_digest() -> str:
    return hashlib.sha1(Path(synth.__file__).read_bytes() + STORE_LAYOUT.encode()).hexdigest()[:10]


def synth_store(ctx: Context, n: int) -> Path:
    """``bench/out/cache-synth-<n>.sqlite``: the synthetic city of n buildings (and its pipes), built once."""
    from cim.store import open_store

    path = ctx.out / f"cache-synth-{n}.sqlite"  # not synth-*: bench/stores.py deletes those
    stamp = path.with_suffix(".ok")
    if path.exists() and stamp.exists() and stamp.read_text().strip() == _synth_digest():
        return path
    remove_store(path)
    stamp.unlink(missing_ok=True)
    ctx.log(f"synthetic store: generating {n:,} buildings into {path}")
    t0 = time.perf_counter()
    feats = synth.city(n)
    store = open_store(str(path), create=True)
    try:
        store.init(synth.CITY, overwrite=True)
        store.write(feats)
    finally:
        store.close()
    stamp.write_text(_synth_digest() + "\n")
    ctx.log(f"synthetic store: {len(feats):,} features in {time.perf_counter() - t0:.0f} s")
    return path


# -- the buildings as a plain PostGIS table -------------------------------------------------------
def _pg_type(values: list[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "text"
    if kinds & {dict, list}:
        return "jsonb"
    if kinds == {bool}:
        return "boolean"
    if kinds <= {int}:
        return "bigint"
    if kinds <= {int, float}:
        return "double precision"
    return "text"


def buildings_table(store: Any, conninfo: str, schema: str, table: str, *, batch: int = 5000) -> dict[str, Any]:
    """Load ``store``'s buildings into ``schema.table`` (id text primary key, properties, geom 4326).

    The rows are this service's own GeoJSON answers (``cim.geojson.encode_features``, CRS84), so both
    services serve the same properties and geometry.  Returns the columns and the row count.
    """
    import psycopg
    import shapely
    from psycopg import sql

    from cim.collections import get_spec
    from cim.crs import CRS84, OutputCRS
    from cim.geojson import encode_features

    spec = get_spec(COLLECTION)
    out_crs = OutputCRS(store.city().crs_epsg, CRS84)
    docs: list[dict[str, Any]] = []
    chunk: list[Any] = []
    for f in store.iter_features(COLLECTION, batch=batch):
        chunk.append(f)
        if len(chunk) >= batch:
            docs += orjson.loads(orjson.dumps(encode_features(spec, chunk, out_crs), option=orjson.OPT_SERIALIZE_NUMPY))
            chunk = []
    if chunk:
        docs += orjson.loads(orjson.dumps(encode_features(spec, chunk, out_crs), option=orjson.OPT_SERIALIZE_NUMPY))
    keys: list[str] = []
    for d in docs[:1000]:
        for k in d["properties"]:
            if k not in keys:
                keys.append(k)
    types = {k: _pg_type([d["properties"].get(k) for d in docs]) for k in keys}
    geoms = shapely.from_geojson([orjson.dumps(d["geometry"]) for d in docs])
    wkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
    t, s = sql.Identifier(schema, table), sql.Identifier(schema)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(t))
        cols = [sql.SQL("{} {}").format(sql.Identifier(k), sql.SQL(types[k])) for k in keys]
        conn.execute(
            sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, {}, geom geometry(Geometry, 4326) NOT NULL)").format(
                t, sql.SQL(", ").join(cols)
            )
        )
        names = sql.SQL(", ").join(sql.Identifier(c) for c in ["id", *keys, "geom"])
        with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(t, names)) as cp:
            for d, g in zip(docs, wkb, strict=True):
                p = d["properties"]
                row = [d["id"]]
                for k in keys:
                    v = p.get(k)
                    row.append(orjson.dumps(v).decode() if types[k] == "jsonb" and v is not None else v)
                row.append(g)
                cp.write_row(row)
        conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(t))
        conn.execute(sql.SQL("ANALYZE {}").format(t))
    return {"rows": len(docs), "columns": types}


# -- LoD2 CityJSON -------------------------------------------------------------------------------
def lod2_cityjson(path: Path, n: int, seed: int = 11) -> dict[str, Any]:
    """Write ``n`` LoD2 buildings as CityJSON 2.0 (EPSG:4550): rectangular footprints from ``synth``,
    gabled roofs along the longer side; each a ``Solid`` (lod 2.2) with GroundSurface, WallSurface and
    RoofSurface semantics (10 vertices, 7 faces), and the attributes cities publish (measuredHeight,
    roofType, storeysAboveGround, yearOfConstruction).  Coordinates quantised to the millimetre."""
    rng = np.random.default_rng(seed)
    objs: dict[str, Any] = {}
    verts: list[np.ndarray] = []
    base = 0
    translate = np.array([synth.X0, synth.Y0, 0.0])
    for b in synth.buildings(n):
        (x0, y0), (x1, _), (_, y1) = b.footprint[0][0], b.footprint[0][1], b.footprint[0][2]
        g, h = b.ground_elevation, b.height
        eave = g + h * float(rng.uniform(0.65, 0.85))
        top = g + h
        if x1 - x0 >= y1 - y0:  # ridge along x
            ridge = [(x0, (y0 + y1) / 2, top), (x1, (y0 + y1) / 2, top)]
        else:
            ridge = [((x0 + x1) / 2, y0, top), ((x0 + x1) / 2, y1, top)]
        v = np.array(
            [
                (x0, y0, g),
                (x1, y0, g),
                (x1, y1, g),
                (x0, y1, g),
                (x0, y0, eave),
                (x1, y0, eave),
                (x1, y1, eave),
                (x0, y1, eave),
                *ridge,
            ]
        )
        i = base + np.arange(10)
        if x1 - x0 >= y1 - y0:
            faces = [
                [i[[0, 3, 2, 1]]],
                [i[[0, 1, 5, 4]]],
                [i[[1, 2, 6, 9, 5]]],
                [i[[2, 3, 7, 6]]],
                [i[[3, 0, 4, 8, 7]]],
                [i[[4, 5, 9, 8]]],
                [i[[6, 7, 8, 9]]],
            ]
        else:
            faces = [
                [i[[0, 3, 2, 1]]],
                [i[[0, 1, 5, 8, 4]]],
                [i[[1, 2, 6, 5]]],
                [i[[2, 3, 7, 9, 6]]],
                [i[[3, 0, 4, 7]]],
                [i[[4, 8, 9, 7]]],
                [i[[5, 6, 9, 8]]],
            ]
        values = [0, 1, 1, 1, 1, 2, 2]
        objs[b.id] = {
            "type": "Building",
            "attributes": {
                "measuredHeight": h,
                "roofType": "gabled",
                "yearOfConstruction": b.year_built,
                "storeysAboveGround": b.floors_above,
                "function": b.use.value,
            },
            "geometry": [
                {
                    "type": "Solid",
                    "lod": "2.2",
                    "boundaries": [[[f.tolist() for f in face] for face in faces]],
                    "semantics": {
                        "surfaces": [{"type": "GroundSurface"}, {"type": "WallSurface"}, {"type": "RoofSurface"}],
                        "values": [values],
                    },
                }
            ],
        }
        verts.append(v)
        base += 10
    q = np.rint((np.concatenate(verts) - translate) / 0.001).astype(np.int64)
    doc = {
        "type": "CityJSON",
        "version": "2.0",
        "transform": {"scale": [0.001, 0.001, 0.001], "translate": translate.tolist()},
        "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/4550"},
        "CityObjects": objs,
        "vertices": q,
    }
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))
    return {"buildings": n, "bytes": path.stat().st_size, "surfaces": 7 * n}


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """(median seconds, every run's seconds, the last result) of ``repeat`` calls of ``fn``."""
    times, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), times, res


def _renumber(node: Any, remap: dict[int, int]) -> Any:
    if isinstance(node, list):
        return [_renumber(x, remap) for x in node]
    return remap[node]


def bag_cityjsonseq(path: Path, n: int, source: Path) -> dict[str, Any]:
    """Write a CityJSONSeq of ``n`` buildings made from a real 3D BAG subset (``source``, a CityJSON file
    whose CityObjects are 3D BAG buildings with LOD 1.2, 1.3 and 2.2 solids): its buildings replicated on a
    grid of 600 m steps (the subset spans about 475 x 525 m), each copy with a new id (``<id>-<copy>``)
    and its own vertices, as 3D BAG's CityJSONSeq tiles give them (one CityJSONFeature per building,
    vertices local to it, quantised to the millimetre with the file's transform).  EPSG:7415 (RD New +
    NAP height) is declared, as 3D BAG does."""
    doc = orjson.loads(source.read_bytes())
    scale = doc["transform"]["scale"]
    verts = np.asarray(doc["vertices"], dtype=np.int64)
    objs = doc["CityObjects"]
    singles = []
    for oid, o in objs.items():
        used = sorted({i for g in o.get("geometry", []) for i in _flat(g["boundaries"])})
        remap = {old: k for k, old in enumerate(used)}
        geoms = [{**g, "boundaries": _renumber(g["boundaries"], remap)} for g in o.get("geometry", [])]
        singles.append((oid, {**o, "geometry": geoms}, verts[used]))
    header = {
        "type": "CityJSON",
        "version": "2.0",
        "transform": doc["transform"],
        "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/7415"},
        "CityObjects": {},
        "vertices": [],
    }
    step = int(round(600 / scale[0]))
    side = 40  # copies per row: 40 x 600 m = 24 km, well inside the Netherlands
    with open(path, "wb") as fh:
        fh.write(orjson.dumps(header) + b"\n")
        for k in range(n):
            copy, (oid, obj, v) = divmod(k, len(singles))[0], singles[k % len(singles)]
            shift = np.array([(copy % side) * step, (copy // side) * step, 0], dtype=np.int64)
            nid = f"{oid}-{copy}"
            attrs = dict(obj.get("attributes") or {})
            if "identificatie" in attrs:
                attrs["identificatie"] = f"{attrs['identificatie']}-{copy}"
            feat = {
                "type": "CityJSONFeature",
                "id": nid,
                "CityObjects": {nid: {**obj, "attributes": attrs}},
                "vertices": v + shift,
            }
            fh.write(orjson.dumps(feat, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return {"buildings": n, "bytes": path.stat().st_size, "copies_of": len(singles)}


def _flat(node: Any) -> Any:
    if isinstance(node, list):
        for x in node:
            yield from _flat(x)
    else:
        yield node
