"""PostGIS store: the Store contract on PostgreSQL 15 + PostGIS 3 (psycopg 3, a connection pool).

URL: ``postgresql://user:password@host:port/dbname?schema=cim`` (``schema`` defaults to ``cim``; one
city per schema).  Per collection a table ``f_<name>(fid, id, doc jsonb, geom, minx..maxz, env, gj, solid)`` (gj:
the feature's CRS84 GeoJSON as ``/items`` writes it; solid: an underground feature's packed solid,
:mod:`cim.store.solid_columns`; both NULL in rows of older stores)
with a 2-D GiST index on ``geom`` (exact bbox tests run in SQL) and an n-D GiST index on ``env``, a
3-D segment spanning the solid's box (candidate searches for the analyses).  Writes are one
transaction, loaded with COPY.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import shapely
from pydantic import BaseModel

from ..collections import COLLECTIONS, get_spec
from ..errors import DuplicateFeature, FeatureNotFound, StoreError
from ..model import City
from ..query.cql2 import Filter, compile_filter, order_by
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
    json_column,
    next_number,
    number_range,
    points_from_bytes,
    points_to_bytes,
    prepare_rows,
)

try:  # optional dependency: only this backend needs it
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb
    from psycopg_pool import ConnectionPool
except ImportError:  # pragma: no cover - exercised only without psycopg installed
    psycopg = None  # type: ignore[assignment]

SCHEMA_VERSION = 1


def _split_url(url: str) -> tuple[str, str]:
    """(libpq conninfo, schema) from a store URL: ``schema`` (default cim) is taken out and everything else is
    passed to libpq as written, so every libpq URI (``postgresql:///db?host=/var/run/postgresql``) and keyword
    form (``dbname=db host=/tmp schema=x``) works."""
    import re
    from urllib.parse import unquote

    if url.startswith(("postgresql://", "postgres://")):
        base, _, query = url.partition("?")
        keep, schema = [], "cim"
        for item in query.split("&") if query else []:
            key, _, value = item.partition("=")
            if unquote(key) == "schema":
                schema = unquote(value) or schema
            elif item:
                keep.append(item)
        return base + ("?" + "&".join(keep) if keep else ""), schema
    m = re.search(r"(?:^|\s)schema\s*=\s*(?:'([^']*)'|(\S+))", url)
    if m is None:
        return url.strip(), "cim"
    return (url[: m.start()] + " " + url[m.end() :]).strip(), m.group(1) or m.group(2)


def _one(cursor: Any) -> tuple[Any, ...]:
    """The one row a query must return (aggregates)."""
    row = cursor.fetchone()
    if row is None:  # pragma: no cover - an aggregate always returns a row
        raise StoreError("The database returned no row for an aggregate query.")
    return tuple(row)


class PostGISStore:
    """The scale-out store.  Many API workers may share one database."""

    def __init__(self, url: str, *, create: bool = False, pool_size: int = 8, read_url: str | None = None) -> None:
        if psycopg is None:
            raise StoreError("The PostGIS backend needs psycopg: pip install 'psycopg[binary]' psycopg-pool.")
        self.url = url
        conninfo, self.schema = _split_url(url)
        self._s = sql.Identifier(self.schema)
        try:
            self._pool = ConnectionPool(
                conninfo, min_size=1, max_size=pool_size, open=True, timeout=30, kwargs={"autocommit": True}
            )
            self._pool.wait(timeout=30)
        except Exception as exc:
            raise StoreError(f"Cannot connect to PostgreSQL: {exc}", where={"store": self._safe_url()}) from exc
        self.read_url = read_url
        self._read = self._pool  # reads of features, blobs and counts; a streaming replica with read_url
        if read_url:
            try:
                self._read = ConnectionPool(
                    _split_url(read_url)[0],
                    min_size=1,
                    max_size=pool_size,
                    open=True,
                    timeout=30,
                    kwargs={"autocommit": True},
                )
                self._read.wait(timeout=30)
            except Exception as exc:
                self._pool.close()
                raise StoreError(
                    f"Cannot connect to the read replica: {exc}", where={"store": "CIM_STORE_READ"}
                ) from exc
        self._counts: tuple[int, dict[str, int]] | None = None
        self._ensured = False
        self._city: tuple[str, City] | None = None  # (the stored text, the model): validated once per change
        if not create and self._meta("schema_version") is None:
            self.close()
            raise StoreError(
                f"No city store in schema {self.schema!r}: create one with `cim init` or `cim sample`.",
                where={"store": self._safe_url()},
            )

    def _safe_url(self) -> str:
        if not self.url.startswith(("postgresql://", "postgres://")):
            import re

            return re.sub(r"password\s*=\s*('[^']*'|\S+)", "password=***", self.url)
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}@{host}:{parts.port or ''}"))

    def _t(self, collection: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(self._s, sql.Identifier("f_" + collection.replace("-", "_")))

    def _q(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(self._s, sql.Identifier(name))

    def close(self) -> None:
        self._pool.close()
        if self._read is not self._pool:
            self._read.close()

    def __enter__(self) -> PostGISStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema and metadata -----------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        with self._pool.connection() as conn:
            try:
                row = conn.execute(
                    sql.SQL("SELECT value FROM {} WHERE key = %s").format(self._q("meta")), (key,)
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                return None
        return row[0] if row else None

    def init(self, city: City, *, overwrite: bool = False) -> None:
        if self._meta("schema_version") is not None and not overwrite:
            raise StoreError(
                f"Schema {self.schema!r} already holds a city; replace it with overwrite=True (`cim init --force`).",
                where={"store": self._safe_url()},
            )
        srid = city.crs_epsg
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(self._s))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(self._s))
            conn.execute(sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value text NOT NULL)").format(self._q("meta")))
            conn.execute(
                sql.SQL("CREATE TABLE {} (name text PRIMARY KEY, data bytea NOT NULL)").format(self._q("blobs"))
            )
            conn.execute(sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, doc jsonb NOT NULL)").format(self._q("jobs")))
            for cid in COLLECTIONS:
                self._create_collection(conn, cid, srid)
            conn.cursor().executemany(
                sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(self._q("meta")),
                [("schema_version", str(SCHEMA_VERSION)), ("city", city.model_dump_json()), ("version", "1")],
            )
        self._counts = None

    def _create_collection(self, conn, cid: str, srid: int) -> None:
        """A collection's table and its 2-D and n-D GiST indexes (``IF NOT EXISTS``: older stores gain new
        collections)."""
        t = self._t(cid)
        name = "f_" + cid.replace("-", "_")
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {t} (fid bigserial PRIMARY KEY, id text NOT NULL UNIQUE, "
                "doc jsonb NOT NULL, geom geometry(Geometry, {srid}) NOT NULL, minx float8 NOT NULL, "
                "miny float8 NOT NULL, minz float8 NOT NULL, maxx float8 NOT NULL, maxy float8 NOT NULL, "
                "maxz float8 NOT NULL, env geometry GENERATED ALWAYS AS (ST_SetSRID(ST_MakeLine("
                "ST_MakePoint(minx, miny, minz), ST_MakePoint(maxx, maxy, maxz)), {srid})) STORED, gj bytea, "
                "solid bytea)"
            ).format(t=t, srid=sql.Literal(srid))
        )
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (geom)").format(sql.Identifier(name + "_geom"), t)
        )
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (env gist_geometry_ops_nd)").format(
                sql.Identifier(name + "_env"), t
            )
        )

    def _ensure_collections(self, srid: int) -> None:
        """Create the tables of collections added since the store was made, and the ``gj`` and ``solid`` columns
        in tables made before them (once per store object)."""
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (self.schema,)
            ).fetchall()
            have = {r[0] for r in rows}
            rows = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND column_name IN ('gj', 'solid')",
                (self.schema,),
            ).fetchall()
            with_col = {(r[0], r[1]) for r in rows}
            for cid in COLLECTIONS:
                name = "f_" + cid.replace("-", "_")
                if name not in have:
                    self._create_collection(conn, cid, srid)
                    continue
                for col in ("gj", "solid"):
                    if (name, col) not in with_col:
                        conn.execute(
                            sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} bytea").format(
                                self._t(cid), sql.Identifier(col)
                            )
                        )
        self._ensured = True

    def city(self) -> City:
        """The city record, validated once per change of the stored text (one small read per call)."""
        raw = self._meta("city")
        cached = self._city
        if cached is not None and raw == cached[0] and self._ensured:
            return cached[1]
        if raw is None:
            raise StoreError(
                f"Schema {self.schema!r} holds no city: run `cim init` or `cim sample` first.",
                where={"store": self._safe_url()},
            )
        city = City.model_validate_json(raw)
        if not self._ensured:
            self._ensure_collections(city.crs_epsg)
        self._city = (raw, city)
        return city

    def version(self) -> int:
        return int(self._meta("version") or 0)

    def read_version(self) -> int:
        """The version the reads see: behind ``version()`` while a streaming replica catches up."""
        with self._read.connection() as conn:
            row = conn.execute(sql.SQL("SELECT value FROM {} WHERE key = 'version'").format(self._q("meta"))).fetchone()
        return int(row[0]) if row else 0

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
        city = self.city()
        rows = prepare_rows(features, srid=city.crs_epsg, city_epsg=city.crs_epsg, jsonb=True)
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(sql.SQL("SELECT value FROM {} WHERE key = 'version' FOR UPDATE").format(self._q("meta")))
            for cid, ids in (delete or {}).items():  # removed first: a write may delete and add one id
                get_spec(cid)
                conn.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(self._t(cid)), (list(ids),))
            for cid, r in rows.items():
                t = self._t(cid)
                if replace:
                    conn.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(t), (r.ids,))
                try:
                    with (
                        conn.transaction(),
                        conn.cursor().copy(
                            sql.SQL(
                                "COPY {} (id, doc, geom, minx, miny, minz, maxx, maxy, maxz, gj, solid) FROM STDIN"
                            ).format(t)
                        ) as cp,
                    ):
                        gjs: list[bytes | None] = list(r.geojson) if r.geojson is not None else [None] * len(r.ids)
                        sol: list[bytes | None] = list(r.solid) if r.solid is not None else [None] * len(r.ids)
                        for fid, doc, geom, b, gj, so in zip(r.ids, r.docs, r.geoms, r.boxes, gjs, sol, strict=True):
                            cp.write_row((fid, doc.decode(), geom.hex(), *b, gj, so))
                except psycopg.errors.UniqueViolation:
                    raise DuplicateFeature(cid, first_duplicate(r.ids, self._existing(conn, t))) from None
            if terrain is not None:
                self._put_blob(conn, "terrain", terrain.to_bytes())
            if building_points is not None and len(building_points):
                old = self._blob(conn, "building_points")
                pts = building_points if old is None else np.concatenate([points_from_bytes(old), building_points])
                self._put_blob(conn, "building_points", points_to_bytes(pts))
            extra = dict(blobs or {})
            if numbered is not None:  # the meta row locked above orders the writers: no other claims this number
                prefix, make = numbered
                (top,) = _one(
                    conn.execute(
                        sql.SQL(
                            'SELECT max(name COLLATE "C") FROM {} '
                            'WHERE name COLLATE "C" >= %s AND name COLLATE "C" < %s'
                        ).format(self._q("blobs")),
                        number_range(prefix),
                    )
                )
                extra.update(make(next_number(prefix, top)))
            for name, data in extra.items():
                self._put_blob(conn, name, bytes(data))
            conn.execute(
                sql.SQL("UPDATE {} SET value = (value::bigint + 1)::text WHERE key = 'version'").format(self._q("meta"))
            )
        return {cid: len(r.ids) for cid, r in rows.items()}

    @staticmethod
    def _existing(conn, t):
        def find(chunk: list[str]) -> str | None:
            row = conn.execute(sql.SQL("SELECT id FROM {} WHERE id = ANY(%s) LIMIT 1").format(t), (chunk,)).fetchone()
            return row[0] if row else None

        return find

    # -- reads -------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        v = self.read_version()
        if self._counts is None or self._counts[0] != v:
            with self._read.connection() as conn:
                self._counts = (
                    v,
                    {
                        cid: _one(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self._t(cid))))[0]
                        for cid in COLLECTIONS
                    },
                )
        return dict(self._counts[1])

    def bounds(self, collection: str) -> Bounds3 | None:
        get_spec(collection)
        with self._read.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT min(minx), min(miny), min(minz), max(maxx), max(maxy), max(maxz) FROM {}").format(
                    self._t(collection)
                )
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return tuple(float(v) for v in row)  # type: ignore[return-value]  # six numbers

    def _where(self, region: Region | None, srid: int) -> tuple[sql.Composable, list]:
        if region is None:
            return sql.SQL("TRUE"), []
        clause = [sql.SQL("geom && ST_GeomFromWKB(%s, %s) AND ST_Intersects(geom, ST_GeomFromWKB(%s, %s))")]
        wkb = shapely.to_wkb(region.polygon)
        args: list = [wkb, srid, wkb, srid]
        if region.zmin is not None:
            clause.append(sql.SQL("maxz >= %s"))
            args.append(region.zmin)
        if region.zmax is not None:
            clause.append(sql.SQL("minz <= %s"))
            args.append(region.zmax)
        return sql.SQL(" AND ").join(clause), args

    def _decode(self, collection: str, docs: Iterable[dict]) -> list[BaseModel]:
        model = get_spec(collection).model
        return [model.model_validate(d) for d in docs]

    def _sensor_tables(self) -> str | None:
        """The sensor tables' name prefix for the ``alarm`` queryable ('"schema".', or None when there are none)."""
        with self._read.connection() as conn:
            row = conn.execute("SELECT to_regclass(%s)", (f'"{self.schema}".sta_alarms',)).fetchone()
        return f'"{self.schema}".' if row is not None and row[0] is not None else None

    def _full_where(self, collection: str, region: Region | None, flt: Filter | None) -> tuple[sql.Composable, list]:
        srid = self.city().crs_epsg
        where, args = self._where(region, srid)
        if flt is None:
            return where, args
        comp = compile_filter(flt, collection, "postgis", srid, sensors=self._sensor_tables)
        return sql.SQL("{} AND ({})").format(where, sql.SQL(comp.sql)), [*args, *comp.params]

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
        gj, matched = self._page(collection, region, filter, sortby, limit, offset, "gj")
        return None if None in gj else EncodedPage([bytes(g) for g in gj], matched)

    def _page(
        self,
        collection: str,
        region: Region | None,
        filter: Filter | None,
        sortby: list[tuple[str, bool]] | None,
        limit: int | None,
        offset: int,
        col: str,
    ) -> tuple[list[Any], int]:
        """Column ``col`` (``doc`` or ``gj``) of a page's rows and how many matched."""
        get_spec(collection)
        t = self._t(collection)
        where, args = self._full_where(collection, region, filter)
        order = sql.SQL(order_by(sortby, collection, "postgis", sensors=self._sensor_tables))
        with self._read.connection() as conn:
            if region is None and filter is None:
                matched = self.counts()[collection]
            else:
                matched = _one(conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(t, where), args))[0]
            rows = conn.execute(
                sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT %s OFFSET %s").format(
                    sql.Identifier(col), t, where, order
                ),
                [*args, limit, offset],
            ).fetchall()
        return [r[0] for r in rows], matched

    def iter_features(
        self, collection: str, *, region: Region | None = None, filter: Filter | None = None, batch: int = 1000
    ) -> Iterator[BaseModel]:
        get_spec(collection)
        t = self._t(collection)
        where, args = self._full_where(collection, region, filter)
        last = 0
        while True:
            with self._read.connection() as conn:
                rows = conn.execute(
                    sql.SQL("SELECT fid, doc FROM {} WHERE fid > %s AND {} ORDER BY fid LIMIT %s").format(t, where),
                    [last, *args, batch],
                ).fetchall()
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
        """One statement: the GiST search with the exact test in SQL, each field taken from the jsonb document
        as JSON text (parsed per column in one call), the geometry as WKB, the packed solid as bytes."""
        get_spec(collection)
        names = check_fields(fields)
        where, args = self._where(region, self.city().crs_epsg)  # city(): adds the solid column to older stores
        cols = sql.SQL("").join(sql.SQL(", (doc -> {})::text").format(sql.Literal(n)) for n in names)
        sol = sql.SQL(", solid" if solid else "")
        box = sql.SQL(", minx, miny, minz, maxx, maxy, maxz" if boxes else "")
        with self._read.connection() as conn:
            rows = conn.execute(
                sql.SQL("SELECT id, ST_AsBinary(geom){}{}{} FROM {} WHERE {} ORDER BY fid").format(
                    box, sol, cols, self._t(collection), where
                ),
                args,
            ).fetchall()
        if not rows:
            return Columns([], np.zeros((0, 6)), np.zeros(0, dtype=object), {n: [] for n in names})
        c = list(zip(*rows, strict=True))
        nb = 6 if boxes else 0
        k0 = 2 + nb + (1 if solid else 0)
        return Columns(
            list(c[0]),
            np.array(c[2 : 2 + nb], dtype=float).T.reshape(len(rows), nb),
            shapely.from_wkb(c[1]),
            {n: json_column(c[k0 + k]) for k, n in enumerate(names)},
            [None if b is None else bytes(b) for b in c[2 + nb]] if solid else [],
        )

    def feature_index(self, collection: str) -> FeatureIndex:
        get_spec(collection)
        with self._read.connection() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT fid, minx, miny, minz, maxx, maxy, maxz, pg_column_size(doc), "
                    "octet_length(ST_AsBinary(geom)) FROM {} ORDER BY fid"
                ).format(self._t(collection))
            ).fetchall()
        return FeatureIndex.from_rows(rows)

    def feature_docs(self, collection: str, fids: Sequence[int], *, without: Sequence[str] = ()) -> list[bytes]:
        get_spec(collection)
        with self._read.connection() as conn:
            rows = conn.execute(
                sql.SQL("SELECT (doc - %s::text[])::text FROM {} WHERE fid = ANY(%s) ORDER BY fid").format(
                    self._t(collection)
                ),
                (list(without), [int(i) for i in fids]),
            ).fetchall()
        return [r[0].encode() for r in rows]

    def get(self, collection: str, fid: str) -> BaseModel:
        get_spec(collection)
        with self._read.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT doc FROM {} WHERE id = %s").format(self._t(collection)), (fid,)
            ).fetchone()
        if row is None:
            raise FeatureNotFound(collection, fid)
        return self._decode(collection, [row[0]])[0]

    def get_geojson(self, collection: str, fid: str) -> bytes | None:
        get_spec(collection)
        if not self._ensured:
            self.city()
        with self._read.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT gj FROM {} WHERE id = %s").format(self._t(collection)), (fid,)
            ).fetchone()
        if row is None:
            raise FeatureNotFound(collection, fid)
        return None if row[0] is None else bytes(row[0])

    def _put_blob(self, conn, name: str, data: bytes) -> None:
        conn.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data").format(
                self._q("blobs")
            ),
            (name, data),
        )

    def _blob(self, conn, name: str) -> bytes | None:
        row = conn.execute(sql.SQL("SELECT data FROM {} WHERE name = %s").format(self._q("blobs")), (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def terrain(self) -> Terrain | None:
        with self._read.connection() as conn:
            data = self._blob(conn, "terrain")
        return None if data is None else Terrain.from_bytes(data)

    def building_points(self) -> np.ndarray | None:
        with self._read.connection() as conn:
            data = self._blob(conn, "building_points")
        return None if data is None else points_from_bytes(data)

    def get_blob(self, name: str) -> bytes | None:
        with self._read.connection() as conn:
            return self._blob(conn, name)

    def blob_names(self, prefix: str = "") -> list[str]:
        with self._read.connection() as conn:
            rows = conn.execute(
                sql.SQL("SELECT name FROM {} WHERE left(name, %s) = %s ORDER BY name").format(self._q("blobs")),
                (len(prefix), prefix),
            ).fetchall()
        return [r[0] for r in rows]

    def put_job(self, job_id: str, doc: dict) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc").format(
                    self._q("jobs")
                ),
                (job_id, Jsonb(doc)),
            )

    def update_job(self, job_id: str, doc: dict) -> bool:
        with self._pool.connection() as conn:
            cur = conn.execute(
                sql.SQL("UPDATE {} SET doc = %s WHERE id = %s").format(self._q("jobs")), (Jsonb(doc), job_id)
            )
            return cur.rowcount > 0

    def delete_job(self, job_id: str) -> bool:
        with self._pool.connection() as conn:
            cur = conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(self._q("jobs")), (job_id,))
            return cur.rowcount > 0

    def get_job(self, job_id: str) -> dict | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT doc FROM {} WHERE id = %s").format(self._q("jobs")), (job_id,)
            ).fetchone()
        return None if row is None else row[0]

    def list_jobs(self, *, type: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
        where = sql.SQL("WHERE doc->>'type' = %s") if type is not None else sql.SQL("")
        args = [type] if type is not None else []
        with self._pool.connection() as conn:
            rows = conn.execute(
                sql.SQL("SELECT doc FROM {} {} ORDER BY doc->>'created' DESC, id LIMIT %s OFFSET %s").format(
                    self._q("jobs"), where
                ),
                (*args, limit, offset),
            ).fetchall()
        return [r[0] for r in rows]

    def integrity_check(self) -> bool:
        """Every feature has its index box and the box holds its geometry."""
        with self._pool.connection() as conn:
            for cid in COLLECTIONS:
                bad = _one(
                    conn.execute(
                        sql.SQL(
                            "SELECT count(*) FROM {} WHERE NOT ST_IsValid(geom) "
                            "AND GeometryType(geom) LIKE '%%POLYGON' "
                            "OR ST_XMin(geom) < minx - 1e-6 OR ST_XMax(geom) > maxx + 1e-6 "
                            "OR ST_YMin(geom) < miny - 1e-6 OR ST_YMax(geom) > maxy + 1e-6"
                        ).format(self._t(cid))
                    )
                )[0]
                if bad:
                    return False
        return True


__all__ = ["PostGISStore"]
