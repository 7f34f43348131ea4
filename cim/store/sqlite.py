"""SQLite store: one file, WAL, one transaction per write, a 3-D R*Tree per collection.

Layout: ``meta(key, value)`` holds the schema version, the city (JSON) and the store version;
``blobs`` holds the terrain DEM and the LiDAR building points; each collection has
``f_<name>(fid, id, doc, geom, minx..maxz, gj, solid)`` (doc = the feature as JSON, geom = its 2-D geometry as
WKB, gj = its CRS84 GeoJSON Feature as ``/items`` writes it, solid = an underground feature's packed solid
(:mod:`cim.store.solid_columns`); both NULL in rows of older stores) and ``rt_<name>``
(an R*Tree over the solid's 3-D box).
Connections are per thread, so reads run in parallel.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import orjson
import shapely
from pydantic import BaseModel, ValidationError

from ..collections import COLLECTIONS, get_spec
from ..errors import DuplicateFeature, FeatureNotFound, StoreError
from ..model import City
from ..query.cql2 import Compiled, Filter, compile_filter, order_by, register_predicate, sqlite_predicate
from ..terrain import Terrain
from ..typed import Bounds3
from .base import (
    Columns,
    EncodedPage,
    FeatureIndex,
    Numbered,
    Page,
    Region,
    check_fields,
    first_duplicate,
    next_number,
    number_range,
    points_from_bytes,
    points_to_bytes,
    prepare_rows,
)

SCHEMA_VERSION = 2
_CHUNK = 500  # ids per IN (...) list


def _t(collection: str) -> tuple[str, str]:
    name = collection.replace("-", "_")
    return f"f_{name}", f"rt_{name}"


def _rtree_where(region: Region, t: str = "") -> tuple[str, list[float]]:
    """R*Tree condition for a region's candidates: its 2-D bounds and z range (boxes rounded outwards);
    ``t`` prefixes the columns (``"r."``)."""
    minx, miny, maxx, maxy = region.bounds
    sql = f"{t}maxx >= ? AND {t}minx <= ? AND {t}maxy >= ? AND {t}miny <= ?"
    args = [minx, maxx, miny, maxy]
    if region.zmin is not None:
        sql += f" AND {t}maxz >= ?"
        args.append(region.zmin)
    if region.zmax is not None:
        sql += f" AND {t}minz <= ?"
        args.append(region.zmax)
    return sql, args


def _create_collection(conn: sqlite3.Connection, cid: str) -> None:
    """A collection's table and its 3-D R*Tree (``IF NOT EXISTS``: older stores gain new collections)."""
    f, rt = _t(cid)
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {f} (fid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
        "doc BLOB NOT NULL, geom BLOB NOT NULL, minx REAL, miny REAL, minz REAL, "
        "maxx REAL, maxy REAL, maxz REAL, gj BLOB, solid BLOB)"
    )
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {rt} USING rtree(fid, minx, maxx, miny, maxy, minz, maxz)")
    _create_fid_index(conn, cid)


def _fid_index(cid: str) -> str:
    return f"ix_{_t(cid)[0]}_fid"


def _create_fid_index(conn: sqlite3.Connection, cid: str) -> None:
    """An index of the row keys alone: a page at a deep ``offset`` counts through it (about 12 bytes a row)
    instead of through the table's rows with their documents (offset 999,900 of 1,000,000 buildings: 11 ms
    against 360 ms)."""
    conn.execute(f"CREATE INDEX IF NOT EXISTS {_fid_index(cid)} ON {_t(cid)[0]} (fid)")


class SQLiteStore:
    """The embedded store.  ``path`` is the database file (created by ``init`` when ``create``)."""

    inline_reads = True  # reads are short in-process calls: a server may make index reads on its event loop

    def __init__(self, path: str | Path, *, create: bool = False, mmap_mb: int = 64, cache_mb: int = 16) -> None:
        """``mmap_mb``, ``cache_mb``: memory-mapped I/O and page cache per connection (one per thread), MiB:
        they bound what a busy server holds (``CIM_SQLITE_MMAP_MB``, ``CIM_SQLITE_CACHE_MB``)."""
        self.path = Path(path)
        self.url = str(self.path)
        if not create and not self.path.exists():
            raise StoreError(
                f"No store at {self.path}: create one with `cim init` or `cim sample`.", where={"store": str(self.path)}
            )
        self._mmap = max(0, int(mmap_mb)) * 1024 * 1024
        self._cache_kib = max(1, int(cache_mb)) * 1024
        self._local = threading.local()
        self._all: list[tuple[int, sqlite3.Connection]] = []  # (owner thread ident, connection)
        self._lock = threading.Lock()
        self._counts: tuple[int, dict[str, int]] | None = None
        self._bounds: dict[str, tuple[int, Bounds3 | None]] = {}
        self._ensured = False
        self._city: tuple[str, City] | None = None  # (the stored text, the model): validated once per change
        self._has_gj = True  # False: a read-only file from before the gj column
        self._has_solid = True  # False: a read-only file from before the solid column

    # -- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA mmap_size={self._mmap}")
            conn.execute(f"PRAGMA cache_size=-{self._cache_kib}")
            conn.execute("PRAGMA case_sensitive_like=ON")  # CQL2 LIKE is case-sensitive
            conn.create_function("cim_rel", 2, sqlite_predicate, deterministic=True)
            self._local.conn = conn
            with self._lock:
                self._all.append((threading.get_ident(), conn))
        return conn

    def close(self) -> None:
        """Close this thread's connection and those of threads that have ended.

        A connection of another live thread may be in the middle of a query (an analysis past the service's
        time limit goes on in its worker thread): closing it under that query crashes SQLite, so it is only
        let go, and SQLite closes it when its last user drops it.
        """
        live = {t.ident for t in threading.enumerate()}
        me = threading.get_ident()
        with self._lock:
            conns, self._all = self._all, []
        for owner, c in conns:
            if owner == me or owner not in live:
                try:
                    c.close()
                except sqlite3.ProgrammingError:  # pragma: no cover - already closed
                    pass
        self._local = threading.local()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema and metadata -----------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        try:
            row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a city store ({exc}).", where={"store": self.url}) from exc
        return row[0] if row else None

    def init(self, city: City, *, overwrite: bool = False) -> None:
        conn = self._conn()
        if self._meta("schema_version") is not None and not overwrite:
            raise StoreError(
                f"{self.path} already holds a city; replace it with overwrite=True (`cim init --force`).",
                where={"store": self.url},
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            for cid in COLLECTIONS:
                f, rt = _t(cid)
                conn.execute(f"DROP TABLE IF EXISTS {f}")
                conn.execute(f"DROP TABLE IF EXISTS {rt}")
                _create_collection(conn, cid)
            conn.execute("DROP TABLE IF EXISTS jobs")
            conn.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, doc BLOB NOT NULL)")
            conn.execute("DROP TABLE IF EXISTS blobs")
            conn.execute("CREATE TABLE blobs (name TEXT PRIMARY KEY, data BLOB NOT NULL)")
            conn.execute("DROP TABLE IF EXISTS meta")
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("city", city.model_dump_json()),
                    ("version", "1"),
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._counts = None
        self._bounds = {}

    def city(self) -> City:
        """The city record, validated once per change of the stored text (one small read per call)."""
        cached = self._city
        if cached is not None and self._ensured and self._meta("city") == cached[0]:
            return cached[1]
        version = self._meta("schema_version")
        if version is not None and int(version) != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has store schema {version}; this version reads schema {SCHEMA_VERSION}. "
                "Rebuild it (`cim sample`, or `cim init` and import again).",
                where={"store": self.url},
            )
        raw = self._meta("city")
        if raw is None:
            raise StoreError(
                f"{self.path} holds no city: run `cim init` or `cim sample` first.", where={"store": self.url}
            )
        if not self._ensured:
            self._ensure_collections()
        city = City.model_validate_json(raw)
        self._city = (raw, city)
        return city

    def _ensure_collections(self) -> None:
        """Create the tables of collections added since the store was made, and the ``gj`` and ``solid`` columns
        in tables made before them (once per store object; a read-only file keeps its tables as they are)."""
        conn = self._conn()
        have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [cid for cid in COLLECTIONS if _t(cid)[0] not in have]
        cols = {
            cid: {r[1] for r in conn.execute(f"PRAGMA table_info({_t(cid)[0]})")}
            for cid in COLLECTIONS
            if cid not in missing
        }
        no_gj = [cid for cid, c in cols.items() if "gj" not in c]
        no_solid = [cid for cid, c in cols.items() if "solid" not in c]
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        no_index = [cid for cid in cols if _fid_index(cid) not in indexes]
        if missing or no_gj or no_solid or no_index:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # read-only: nothing to add
                self._ensured, self._has_gj, self._has_solid = True, not no_gj, not no_solid
                return
            try:
                for cid in missing:
                    _create_collection(conn, cid)
                for cid in no_gj:
                    conn.execute(f"ALTER TABLE {_t(cid)[0]} ADD COLUMN gj BLOB")
                for cid in no_solid:
                    conn.execute(f"ALTER TABLE {_t(cid)[0]} ADD COLUMN solid BLOB")
                for cid in no_index:
                    _create_fid_index(conn, cid)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self._ensured = True

    def version(self) -> int:
        return int(self._meta("version") or 0)

    def read_version(self) -> int:
        return self.version()

    # -- writes ------------------------------------------------------------------------------
    def write(
        self,
        features: Iterable[BaseModel],
        *,
        terrain: Terrain | None = None,
        building_points: np.ndarray | None = None,
        replace: bool = False,
        blobs: Mapping[str, bytes] | None = None,
        delete: Mapping[str, Sequence[str]] | None = None,
        numbered: Numbered | None = None,
    ) -> dict[str, int]:
        city = self.city()  # must be initialised
        rows = prepare_rows(features, city_epsg=city.crs_epsg)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for cid, ids in (delete or {}).items():  # removed first: a write may delete and add one id
                get_spec(cid)
                self._delete_ids(conn, cid, list(ids))
            for cid, r in rows.items():
                f, rt = _t(cid)
                if replace:
                    self._delete_ids(conn, cid, r.ids)
                (start,) = conn.execute(f"SELECT coalesce(max(fid), 0) + 1 FROM {f}").fetchone()
                gjs: list[bytes | None] = list(r.geojson) if r.geojson is not None else [None] * len(r.ids)
                sol: list[bytes | None] = list(r.solid) if r.solid is not None else [None] * len(r.ids)
                fids = range(start, start + len(r.ids))
                try:
                    conn.executemany(
                        f"INSERT INTO {f} (fid, id, doc, geom, minx, miny, minz, maxx, maxy, maxz, gj, solid) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            (fid, i, d, g, *b, gj, so)
                            for fid, i, d, g, b, gj, so in zip(
                                fids, r.ids, r.docs, r.geoms, r.boxes, gjs, sol, strict=True
                            )
                        ),
                    )
                except sqlite3.IntegrityError:
                    raise DuplicateFeature(cid, first_duplicate(r.ids, self._existing(conn, cid))) from None
                rt_rows = ((fid, b[0], b[3], b[1], b[4], b[2], b[5]) for fid, b in zip(fids, r.boxes, strict=True))
                conn.executemany(f"INSERT INTO {rt} VALUES (?, ?, ?, ?, ?, ?, ?)", rt_rows)
            if terrain is not None:
                conn.execute("INSERT OR REPLACE INTO blobs VALUES ('terrain', ?)", (terrain.to_bytes(),))
            if building_points is not None and len(building_points):
                old = self._blob(conn, "building_points")
                pts = building_points if old is None else np.concatenate([points_from_bytes(old), building_points])
                conn.execute("INSERT OR REPLACE INTO blobs VALUES ('building_points', ?)", (points_to_bytes(pts),))
            extra = dict(blobs or {})
            if numbered is not None:  # BEGIN IMMEDIATE holds the write lock: no other writer claims this number
                prefix, make = numbered
                (top,) = conn.execute(
                    "SELECT max(name) FROM blobs WHERE name >= ? AND name < ?", number_range(prefix)
                ).fetchone()
                extra.update(make(next_number(prefix, top)))
            for name, data in extra.items():
                conn.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?)", (name, bytes(data)))
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return {cid: len(r.ids) for cid, r in rows.items()}

    def _delete_ids(self, conn: sqlite3.Connection, cid: str, ids: list[str]) -> None:
        f, rt = _t(cid)
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            q = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM {rt} WHERE fid IN (SELECT fid FROM {f} WHERE id IN ({q}))", chunk)
            conn.execute(f"DELETE FROM {f} WHERE id IN ({q})", chunk)

    @staticmethod
    def _existing(conn: sqlite3.Connection, cid: str):
        f, _ = _t(cid)

        def find(chunk: list[str]) -> str | None:
            row = conn.execute(
                f"SELECT id FROM {f} WHERE id IN ({','.join('?' * len(chunk))}) LIMIT 1", chunk
            ).fetchone()
            return row[0] if row else None

        return find

    # -- reads -------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        v = self.version()
        if self._counts is None or self._counts[0] != v:
            conn = self._conn()
            self._counts = (
                v,
                {cid: conn.execute(f"SELECT count(*) FROM {_t(cid)[0]}").fetchone()[0] for cid in COLLECTIONS},
            )
        return dict(self._counts[1])

    def bounds(self, collection: str) -> Bounds3 | None:
        """Exact bounds (minx, miny, minz, maxx, maxy, maxz), cached per store version.

        Found through the R*Tree, whose 32-bit boxes are rounded outwards (up to ~0.5 m at 4.6e6 m): its
        extent ``R`` bounds the exact one from outside, so the exact minimum of a side is among the rows
        whose R*Tree value is within the rounding of ``R`` (a row further in has an exact value further in
        too); only those rows' exact columns are read.  Scanning the exact columns of every row instead
        would read every document's overflow pages (the columns are stored after the document)."""
        get_spec(collection)
        v = self.version()
        if self._bounds.get(collection, (None,))[0] != v:
            self._bounds[collection] = (v, self._index_bounds(collection))
        return self._bounds[collection][1]

    def _index_bounds(self, collection: str) -> Bounds3 | None:
        f, rt = _t(collection)
        conn = self._conn()
        outer = conn.execute(
            f"SELECT min(minx), min(miny), min(minz), max(maxx), max(maxy), max(maxz) FROM {rt}"
        ).fetchone()
        if outer[0] is None:
            return None
        out = []
        for k, (col, r) in enumerate(zip(("minx", "miny", "minz", "maxx", "maxy", "maxz"), outer, strict=True)):
            agg, cmp, sign = ("min", "<=", 1.0) if k < 3 else ("max", ">=", -1.0)
            # float32 rounding is relative (2**-24 of the value, twice over for safety) plus subnormals
            edge = r + sign * (abs(r) * 2.0**-22 + 1e-30)
            (exact,) = conn.execute(
                f"SELECT {agg}({col}) FROM {f} WHERE fid IN (SELECT fid FROM {rt} WHERE {col} {cmp} ?)", (edge,)
            ).fetchone()
            if exact is None or (exact > edge if k < 3 else exact < edge):  # not the candidates' side: scan all
                (exact,) = conn.execute(f"SELECT {agg}({col}) FROM {f}").fetchone()
            out.append(None if exact is None else float(exact))
        return tuple(out)  # type: ignore[return-value]

    def _decode(self, collection: str, docs: Iterable[bytes]) -> list[BaseModel]:
        model = get_spec(collection).model
        try:
            return [model.model_validate_json(d) for d in docs]
        except ValidationError as exc:  # pragma: no cover - only a corrupted file gets here
            raise StoreError(f"Corrupt feature in {collection}: {exc}", where={"store": self.url}) from exc

    def _matching_fids(self, collection: str, region: Region) -> np.ndarray:
        """One statement: the R*Tree's candidates joined with their 2-D geometry, then the exact test."""
        f, rt = _t(collection)
        where, args = _rtree_where(region, "r.")
        rows = (
            self._conn()
            .execute(
                f"SELECT r.fid, r.minx, r.miny, r.maxx, r.maxy, f.geom FROM {rt} AS r JOIN {f} AS f ON f.fid = r.fid "
                f"WHERE {where}",
                args,
            )
            .fetchall()
        )
        if not rows:
            return np.zeros(0, dtype=np.int64)
        cand = np.array([r[:5] for r in rows], dtype=float)
        fids = cand[:, 0].astype(np.int64)
        geom = {r[0]: r[5] for r in rows}
        return region.select(fids, cand[:, 1:], lambda sub: list(shapely.from_wkb([geom[i] for i in sub.tolist()])))

    def _docs(self, collection: str, fids: list[int], col: str = "doc") -> list[bytes]:
        """Column ``col`` (``doc`` or ``gj``) of the rows ``fids``, in fid order."""
        f, _ = _t(collection)
        conn = self._conn()
        out: list[bytes] = []
        for i in range(0, len(fids), _CHUNK):
            chunk = fids[i : i + _CHUNK]
            out += [
                r[0]
                for r in conn.execute(
                    f"SELECT {col} FROM {f} WHERE fid IN ({','.join('?' * len(chunk))}) ORDER BY fid", chunk
                )
            ]
        return out

    def _sensor_tables(self) -> str | None:
        """The sensor tables' name prefix for the ``alarm`` queryable ("", or None when the store has none)."""
        have = self._conn().execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sta_alarms'")
        return "" if have.fetchone() else None

    def _where(self, collection: str, region: Region | None, flt: Filter | None) -> Compiled:
        """WHERE fragment for a region and a filter (SQL path); release() it after the query."""
        _, rt = _t(collection)
        parts = [compile_filter(flt, collection, "sqlite", self.city().crs_epsg, rtree=rt, sensors=self._sensor_tables)]
        if region is not None:
            where, args = _rtree_where(region)
            key = register_predicate("s_intersects", region.polygon)
            parts.append(
                Compiled(f"fid IN (SELECT fid FROM {rt} WHERE {where}) AND cim_rel(geom, ?) = 1", [*args, key], [key])
            )
        return Compiled(
            " AND ".join(f"({p.sql})" for p in parts),
            [v for p in parts for v in p.params],
            [k for p in parts for k in p.keys],
        )

    def _sql_query(
        self,
        collection: str,
        region: Region | None,
        flt: Filter | None,
        sortby: list[tuple[str, bool]] | None,
        limit: int | None,
        offset: int,
        col: str = "doc",
    ) -> tuple[list[bytes], int]:
        f, _ = _t(collection)
        where = self._where(collection, region, flt)
        try:
            conn = self._conn()
            matched = conn.execute(f"SELECT count(*) FROM {f} WHERE {where.sql}", where.params).fetchone()[0]
            order = order_by(sortby, collection, "sqlite", sensors=self._sensor_tables)
            rows = conn.execute(
                f"SELECT {col} FROM {f} WHERE {where.sql} ORDER BY {order} LIMIT ? OFFSET ?",
                [*where.params, -1 if limit is None else limit, offset],
            ).fetchall()
        except sqlite3.OperationalError as exc:  # pragma: no cover - a compiler bug, not user input
            raise StoreError(f"query failed: {exc}", where={"store": self.url}) from exc
        finally:
            where.release()
        return [r[0] for r in rows], matched

    def _page(
        self,
        collection: str,
        region: Region | None,
        flt: Filter | None,
        sortby: list[tuple[str, bool]] | None,
        limit: int | None,
        offset: int,
        col: str,
    ) -> tuple[list[bytes], int]:
        """Column ``col`` of a page's rows and how many matched (``query``, ``query_geojson``)."""
        get_spec(collection)
        f, _ = _t(collection)
        if flt is not None or sortby:
            return self._sql_query(collection, region, flt, sortby, limit, offset, col)
        if region is None:
            matched = self.counts()[collection]
            keys = f"(SELECT fid FROM {f} ORDER BY fid LIMIT ? OFFSET ?)"  # counted through the key index
            rows = (
                self._conn()
                .execute(
                    f"SELECT {col} FROM {f} WHERE fid IN {keys} ORDER BY fid"
                    if offset
                    else f"SELECT {col} FROM {f} ORDER BY fid LIMIT ? OFFSET ?",
                    (-1 if limit is None else limit, offset),
                )
                .fetchall()
            )
            return [r[0] for r in rows], matched
        fids = self._matching_fids(collection, region)
        page = fids[offset : None if limit is None else offset + limit]
        return self._docs(collection, page.tolist(), col), len(fids)

    def query(
        self,
        collection: str,
        *,
        region: Region | None = None,
        filter: Filter | None = None,
        sortby: list[tuple[str, bool]] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Page:
        docs, matched = self._page(collection, region, filter, sortby, limit, offset, "doc")
        return Page(self._decode(collection, docs), matched)

    def query_geojson(
        self,
        collection: str,
        *,
        region: Region | None = None,
        filter: Filter | None = None,
        sortby: list[tuple[str, bool]] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> EncodedPage | None:
        if not self._ensured:
            self.city()  # adds the gj column to older stores
        if not self._has_gj:
            return None
        gj, matched = self._page(collection, region, filter, sortby, limit, offset, "gj")
        return None if None in gj else EncodedPage(gj, matched)

    def iter_features(
        self, collection: str, *, region: Region | None = None, filter: Filter | None = None, batch: int = 1000
    ) -> Iterator[BaseModel]:
        get_spec(collection)
        if filter is not None:
            f, _ = _t(collection)
            last = 0
            while True:
                where = self._where(collection, region, filter)
                try:
                    rows = (
                        self._conn()
                        .execute(
                            f"SELECT fid, doc FROM {f} WHERE fid > ? AND {where.sql} ORDER BY fid LIMIT ?",
                            [last, *where.params, batch],
                        )
                        .fetchall()
                    )
                finally:
                    where.release()
                if not rows:
                    return
                last = rows[-1][0]
                yield from self._decode(collection, (r[1] for r in rows))
        if region is not None:
            fids = self._matching_fids(collection, region).tolist()
            for i in range(0, len(fids), batch):
                yield from self._decode(collection, self._docs(collection, fids[i : i + batch]))
            return
        f, _ = _t(collection)
        last = 0
        while True:
            rows = (
                self._conn()
                .execute(f"SELECT fid, doc FROM {f} WHERE fid > ? ORDER BY fid LIMIT ?", (last, batch))
                .fetchall()
            )
            if not rows:
                return
            last = rows[-1][0]
            yield from self._decode(collection, (r[1] for r in rows))

    def columns(
        self,
        collection: str,
        fields: Sequence[str] = (),
        *,
        region: Region | None = None,
        solid: bool = False,
        boxes: bool = True,
    ) -> Columns:
        """One statement: the R*Tree's candidates joined with their rows, then the exact 2-D test; the documents of
        the matches are parsed in one orjson call (no models) and the fields picked from them."""
        get_spec(collection)
        names = check_fields(fields)
        f, rt = _t(collection)
        if solid and not self._ensured:
            self.city()  # adds the solid column to older stores
        sol = (", f.solid" if self._has_solid else ", NULL") if solid else ""
        doc = ", f.doc" if names else ""
        box = ", f.minx, f.miny, f.minz, f.maxx, f.maxy, f.maxz" if boxes else ""
        head = f"SELECT f.id, f.geom{box}{sol}{doc} FROM "
        if region is None:
            rows = self._conn().execute(head + f"{f} AS f ORDER BY f.fid").fetchall()
        else:
            where, args = _rtree_where(region, "r.")
            rows = (
                self._conn()
                .execute(head + f"{rt} AS r JOIN {f} AS f ON f.fid = r.fid WHERE {where} ORDER BY f.fid", args)
                .fetchall()
            )
        if not rows:
            return Columns([], np.zeros((0, 6)), np.zeros(0, dtype=object), {n: [] for n in names})
        cols = list(zip(*rows, strict=True))
        nb = 6 if boxes else 0
        box_a = np.array(cols[2 : 2 + nb], dtype=float).T.reshape(len(rows), nb)
        geoms = shapely.from_wkb(cols[1])
        ids, docs = list(cols[0]), cols[-1] if names else ()
        packed: tuple = cols[2 + nb] if solid else ()
        if region is not None:
            shapely.prepare(region.polygon)
            keep = shapely.intersects(region.polygon, geoms)
            if not keep.all():
                idx = np.flatnonzero(keep).tolist()
                ids, box_a, geoms = [ids[i] for i in idx], box_a[keep], geoms[keep]
                docs = tuple(docs[i] for i in idx) if names else ()
                packed = tuple(packed[i] for i in idx) if solid else ()
        values = {n: [] for n in names}  # type: dict[str, list]
        if names and ids:
            parsed = orjson.loads(b"[" + b",".join(docs) + b"]")
            values = {n: [d.get(n) for d in parsed] for n in names}
        return Columns(ids, box_a, geoms, values, list(packed))

    def feature_index(self, collection: str) -> FeatureIndex:
        """Boxes from the R*Tree, sizes from the record headers: no page of a document is read (reading
        the exact boxes, stored after the document, would read every document's overflow pages)."""
        get_spec(collection)
        f, rt = _t(collection)
        rows = (
            self._conn()
            .execute(
                f"SELECT f.fid, r.minx, r.miny, r.minz, r.maxx, r.maxy, r.maxz, length(f.doc), length(f.geom) "
                f"FROM {f} AS f JOIN {rt} AS r ON r.fid = f.fid ORDER BY f.fid"
            )
            .fetchall()
        )
        return FeatureIndex.from_rows(rows)

    def feature_docs(self, collection: str, fids: Sequence[int], *, without: Sequence[str] = ()) -> list[bytes]:
        get_spec(collection)
        fids = [int(i) for i in fids]
        if not without:
            return self._docs(collection, fids)
        f, _ = _t(collection)
        paths = ", ".join("?" * len(without))
        names = [f'$."{w}"' for w in without]
        conn = self._conn()
        out: list[bytes] = []
        for i in range(0, len(fids), _CHUNK):
            chunk = fids[i : i + _CHUNK]
            out += [
                r[0].encode() if isinstance(r[0], str) else r[0]
                for r in conn.execute(
                    f"SELECT json_remove(doc, {paths}) FROM {f} WHERE fid IN ({','.join('?' * len(chunk))}) "
                    "ORDER BY fid",
                    [*names, *chunk],
                )
            ]
        return out

    def get(self, collection: str, fid: str) -> BaseModel:
        get_spec(collection)
        f, _ = _t(collection)
        row = self._conn().execute(f"SELECT doc FROM {f} WHERE id = ?", (fid,)).fetchone()
        if row is None:
            raise FeatureNotFound(collection, fid)
        return self._decode(collection, [row[0]])[0]

    def get_geojson(self, collection: str, fid: str) -> bytes | None:
        get_spec(collection)
        if not self._ensured:
            self.city()
        if not self._has_gj:
            return None
        f, _ = _t(collection)
        row = self._conn().execute(f"SELECT gj FROM {f} WHERE id = ?", (fid,)).fetchone()
        if row is None:
            raise FeatureNotFound(collection, fid)
        return row[0]

    @staticmethod
    def _blob(conn: sqlite3.Connection, name: str) -> bytes | None:
        try:
            row = conn.execute("SELECT data FROM blobs WHERE name = ?", (name,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else row[0]

    def terrain(self) -> Terrain | None:
        data = self._blob(self._conn(), "terrain")
        return None if data is None else Terrain.from_bytes(data)

    def building_points(self) -> np.ndarray | None:
        data = self._blob(self._conn(), "building_points")
        return None if data is None else points_from_bytes(data)

    def get_blob(self, name: str) -> bytes | None:
        return self._blob(self._conn(), name)

    def blob_names(self, prefix: str = "") -> list[str]:
        rows = self._conn().execute(
            "SELECT name FROM blobs WHERE substr(name, 1, ?) = ? ORDER BY name", (len(prefix), prefix)
        )
        return [r[0] for r in rows]

    def put_job(self, job_id: str, doc: dict) -> None:
        self._conn().execute("INSERT OR REPLACE INTO jobs VALUES (?, ?)", (job_id, orjson.dumps(doc)))

    def update_job(self, job_id: str, doc: dict) -> bool:
        cur = self._conn().execute("UPDATE jobs SET doc = ? WHERE id = ?", (orjson.dumps(doc), job_id))
        return cur.rowcount > 0

    def delete_job(self, job_id: str) -> bool:
        return self._conn().execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount > 0

    def get_job(self, job_id: str) -> dict | None:
        row = self._conn().execute("SELECT doc FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def list_jobs(self, *, type: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
        where, args = ("WHERE json_extract(CAST(doc AS TEXT), '$.type') = ?", [type]) if type is not None else ("", [])
        rows = self._conn().execute(
            f"SELECT doc FROM jobs {where} ORDER BY json_extract(CAST(doc AS TEXT), '$.created') DESC, id "
            "LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [orjson.loads(r[0]) for r in rows]

    def integrity_check(self) -> bool:
        """SQLite's own integrity check and the R*Tree's (true when both pass)."""
        conn = self._conn()
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            return False
        return all(conn.execute(f"SELECT rtreecheck('{_t(cid)[1]}')").fetchone()[0] == "ok" for cid in COLLECTIONS)
