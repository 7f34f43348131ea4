"""One small adapter per store backend: the sensor tables, SQL execution and bulk loading.

The sensor tables live next to the city's tables, created on first use (``IF NOT EXISTS``), so older stores
gain them without a migration and the Store protocol is unchanged.  Times are integers: milliseconds since
1970-01-01 UTC, in both backends, so the SQL the query compiler writes is the same for both except for JSON
access and placeholders.

Observations (``sta_obs``): ``id``, ``ds`` (datastream id), ``t`` (phenomenonTime, ms), ``result`` (float,
NULL for a non-numeric result), ``rj`` (the result as JSON only when it is not a number; NULL otherwise),
``rt`` (resultTime, ms or NULL), ``foi`` (FeatureOfInterest id or NULL).

* SQLite: a ``WITHOUT ROWID`` table clustered on ``(ds, t, id)`` (a datastream's time window is one range
  scan of adjacent pages).  There is no index on ``id``: ids are handed out in blocks, one per datastream
  per write, and ``sta_obs_blocks(id = first id, last_id, ds, min_t, max_t)`` turns ``Observations(id)`` into
  a range scan of the block's time span (an index on id would double the table and halve the ingest rate).
* PostGIS: a heap table with a B-tree on ``(ds, t)``, a BRIN index on ``t`` and a B-tree on ``id``; a
  TimescaleDB hypertable on ``t`` where that extension is installed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import StoreError

#: entity tables: name -> column definitions after ``id`` (SQL common to both backends; J = JSON type)
ENTITY_TABLES: dict[str, str] = {
    "sta_things": "name TEXT NOT NULL, description TEXT NOT NULL, properties J",
    "sta_locations": "name TEXT NOT NULL, description TEXT NOT NULL, encoding_type TEXT NOT NULL, location J, "
    "properties J",
    "sta_sensors": "name TEXT NOT NULL, description TEXT NOT NULL, encoding_type TEXT NOT NULL, metadata J, "
    "properties J",
    "sta_obsprops": "name TEXT NOT NULL, definition TEXT NOT NULL, description TEXT NOT NULL, properties J",
    "sta_datastreams": "name TEXT NOT NULL, description TEXT NOT NULL, observation_type TEXT NOT NULL, "
    "unit J NOT NULL, properties J, thing_id BIGINT NOT NULL, sensor_id BIGINT NOT NULL, "
    "obsprop_id BIGINT NOT NULL",
    "sta_fois": "name TEXT NOT NULL, description TEXT NOT NULL, encoding_type TEXT NOT NULL, feature J, properties J",
    "sta_hlocations": "thing_id BIGINT NOT NULL, time BIGINT NOT NULL, location_id BIGINT NOT NULL",
    # one row per block of observation ids written together: where Observations(id) lives (no index on id)
    "sta_obs_blocks": "last_id BIGINT NOT NULL, ds BIGINT NOT NULL, min_t BIGINT NOT NULL, max_t BIGINT NOT NULL",
    "sta_alarms": "ds BIGINT NOT NULL, rule INTEGER NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, "
    "threshold DOUBLE PRECISION NOT NULL, first_t BIGINT NOT NULL, last_t BIGINT NOT NULL, closed_t BIGINT, "
    "peak DOUBLE PRECISION NOT NULL, peak_t BIGINT NOT NULL",
}
INDEXES = [
    ("sta_datastreams_thing", "sta_datastreams", "thing_id"),
    ("sta_hlocations_thing", "sta_hlocations", "thing_id"),
    ("sta_alarms_ds", "sta_alarms", "ds, first_t"),
]


class Conn:
    """One connection inside a transaction (or autocommit for reads): ``q`` fetches, ``x`` executes,
    ``many`` runs a statement for many rows.  SQL uses ``?`` placeholders and ``{schema}`` table names
    (``T("sta_obs")``)."""

    dialect: str

    def T(self, name: str) -> str:  # noqa: N802 - reads like a table reference in SQL f-strings
        raise NotImplementedError

    def q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        raise NotImplementedError

    def x(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def many(self, sql: str, rows: Any) -> None:
        raise NotImplementedError

    def insert(self, table: str, cols: Sequence[str], values: Sequence[Any]) -> int:
        """Insert one row; returns its new id."""
        marks = ", ".join("?" * len(cols))
        return int(
            self.q(f"INSERT INTO {self.T(table)} ({', '.join(cols)}) VALUES ({marks}) RETURNING id", values)[0][0]
        )

    def insert_row(self, table: str, cols: Sequence[str], values: Sequence[Any]) -> None:
        """Insert one row with its own id."""
        self.x(f"INSERT INTO {self.T(table)} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values)

    def load_obs(self, cols: dict[str, Any]) -> None:
        """Append observations: parallel arrays ``id, ds, t, result, rj, rt, foi`` (rj an object array)."""
        raise NotImplementedError

    def json(self, value: Any) -> Any:
        """A Python value as this backend's JSON parameter."""
        raise NotImplementedError

    def dec(self, value: Any) -> Any:
        """A JSON column's value as Python."""
        return value

    def lock_obs(self) -> None:
        """Serialise observation id allocation with other writers (until the transaction ends)."""

    def json_get(self, col: str, keys: Sequence[str], kind: str) -> str:
        """SQL reading ``col`` -> keys... as ``kind``: "num", "text", "bool" or "any" (for ordering)."""
        raise NotImplementedError


# -- SQLite --------------------------------------------------------------------------------------------------
class SQLiteConn(Conn):
    """A SQLite connection of the store (``?`` placeholders, JSON as text, ``json_extract``)."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.c = conn

    def T(self, name: str) -> str:  # noqa: N802
        return name

    def q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.c.execute(sql, list(params)).fetchall()

    def x(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.c.execute(sql, list(params))

    def many(self, sql: str, rows: Any) -> None:
        self.c.executemany(sql, rows)

    def json(self, value: Any) -> Any:
        import orjson

        return None if value is None else orjson.dumps(value).decode()

    def dec(self, value: Any) -> Any:
        import orjson

        return None if value is None else orjson.loads(value)

    def json_get(self, col: str, keys: Sequence[str], kind: str) -> str:
        path = "$" + "".join(f'."{k}"' for k in keys)
        path = path.replace("'", "''")
        return f"json_extract({col}, '{path}')"

    def load_obs(self, cols: dict[str, Any]) -> None:
        n = len(cols["id"])
        if n == 0:
            return
        names, lists = _obs_lists(cols)  # id, ds, t, result, then the optional columns set
        marks = ["?"] * len(names)
        for k in ("foi", "ds"):  # one datastream (every write path), one FeatureOfInterest: the id in the SQL
            a = cols.get(k)
            if k in names and a is not None and n > 1 and a[0] != NO_INT and bool((a == a[0]).all()):
                i = names.index(k)
                marks[i] = str(int(a[0]))
                del lists[i]
        self.c.executemany(
            f"INSERT INTO sta_obs ({', '.join(names)}) VALUES ({', '.join(marks)})", zip(*lists, strict=True)
        )


def _obs_lists(cols: dict[str, Any]) -> tuple[list[str], list[list]]:
    """Column names and value lists of an observation block, leaving out the optional columns nobody set."""
    n = len(cols["id"])
    names = ["id", "ds", "t", "result"]
    lists = [cols["id"].tolist(), cols["ds"].tolist(), cols["t"].tolist(), _none_for_nan(cols["result"])]
    if cols.get("rj") is not None:
        names.append("rj")
        lists.append(cols["rj"].tolist())
    for k in ("rt", "foi"):
        a = cols.get(k)
        if a is not None and (a != NO_INT).any():
            names.append(k)
            lists.append(_none_for_min(a, n))
    return names, lists


def _binary_copy(cols: dict[str, Any]) -> tuple[list[str], bytes] | None:
    """PostgreSQL's binary COPY format for an observation block whose values are all present and numeric
    (no JSON results, no NaN, no missing resultTime or FeatureOfInterest): column names and the body, built as
    one numpy structured array of big-endian fields (per row: field count, then length and value per column).
    None otherwise (the row-by-row path handles NULLs)."""
    if cols.get("rj") is not None or np.isnan(cols["result"]).any():
        return None
    names = ["id", "ds", "t", "result"]
    for k in ("rt", "foi"):
        a = cols.get(k)
        if a is not None and (a != NO_INT).any():
            if (a == NO_INT).any():
                return None
            names.append(k)
    n = len(cols["id"])
    dtype = [("count", ">i2")]
    for k in names:
        dtype += [(f"len_{k}", ">i4"), (k, ">f8" if k == "result" else ">i8")]
    rows = np.empty(n, dtype=np.dtype(dtype))
    rows["count"] = len(names)
    for k in names:
        rows[f"len_{k}"] = 8
        rows[k] = cols[k]
    head = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    return names, head + rows.tobytes() + (-1).to_bytes(2, "big", signed=True)


def _none_for_nan(a: np.ndarray) -> list:
    out = a.tolist()
    nan = np.isnan(a)
    if nan.any():
        for i in np.flatnonzero(nan).tolist():
            out[i] = None
    return out


NO_INT = np.iinfo(np.int64).min  # "no value" in an int64 column array (resultTime, FeatureOfInterest)


def _none_for_min(a: np.ndarray | None, n: int) -> list:
    if a is None:
        return [None] * n
    out = a.tolist()
    miss = a == NO_INT
    if miss.any():
        for i in np.flatnonzero(miss).tolist():
            out[i] = None
    return out


def _sqlite_schema(c: sqlite3.Connection) -> None:
    for name, cols in ENTITY_TABLES.items():
        c.execute(f"CREATE TABLE IF NOT EXISTS {name} (id INTEGER PRIMARY KEY, {cols.replace(' J', ' TEXT')})")
    c.execute("CREATE TABLE IF NOT EXISTS sta_thing_locations (thing_id INTEGER, location_id INTEGER, "
              "PRIMARY KEY (thing_id, location_id)) WITHOUT ROWID")  # fmt: skip
    c.execute(
        "CREATE TABLE IF NOT EXISTS sta_obs (ds INTEGER NOT NULL, t INTEGER NOT NULL, id INTEGER NOT NULL, "
        "result REAL, rj TEXT, rt INTEGER, foi INTEGER, PRIMARY KEY (ds, t, id)) WITHOUT ROWID"
    )
    c.execute("CREATE INDEX IF NOT EXISTS sta_obs_foi ON sta_obs (foi) WHERE foi IS NOT NULL")
    for iname, table, cols in INDEXES:
        c.execute(f"CREATE INDEX IF NOT EXISTS {iname} ON {table} ({cols})")


class SQLiteBackend:
    """The sensor tables of a SQLite store: created on first use; ``read()`` and ``write()`` (one
    ``BEGIN IMMEDIATE`` transaction that also bumps the store version) yield a :class:`SQLiteConn`."""

    dialect = "sqlite"

    def __init__(self, store: Any) -> None:
        self.store = store
        self._ready = False

    def _c(self) -> sqlite3.Connection:
        c = self.store._conn()
        if not self._ready:
            have = c.execute("SELECT 1 FROM sqlite_master WHERE name = 'sta_obs'").fetchone()
            if not have:
                c.execute("BEGIN IMMEDIATE")
                try:
                    _sqlite_schema(c)
                    c.execute("COMMIT")
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
            self._ready = True
        return c

    def exists(self) -> bool:
        """Whether the store has the sensor tables (reads that must not create them ask first)."""
        if self._ready:
            return True
        c = self.store._conn()
        return c.execute("SELECT 1 FROM sqlite_master WHERE name = 'sta_obs'").fetchone() is not None

    @contextmanager
    def read(self) -> Iterator[Conn]:
        yield SQLiteConn(self._c())

    @contextmanager
    def write(self) -> Iterator[Conn]:
        c = self._c()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield SQLiteConn(c)
            c.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise


# -- PostGIS -------------------------------------------------------------------------------------------------
class PGConn(Conn):
    """A psycopg connection of the store (``%s`` placeholders, jsonb, schema-qualified tables, ``COPY``)."""

    dialect = "postgis"

    def __init__(self, conn: Any, schema: str) -> None:
        self.c = conn
        self.schema = schema

    def T(self, name: str) -> str:  # noqa: N802
        return f'"{self.schema}".{name}'

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.c.execute(self._sql(sql), list(params)).fetchall()

    def x(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.c.execute(self._sql(sql), list(params))

    def many(self, sql: str, rows: Any) -> None:
        self.c.cursor().executemany(self._sql(sql), rows)

    def json(self, value: Any) -> Any:
        from psycopg.types.json import Jsonb

        return None if value is None else Jsonb(value)

    def json_get(self, col: str, keys: Sequence[str], kind: str) -> str:
        path = "{" + ",".join('"' + k.replace('"', "") + '"' for k in keys) + "}"
        path = path.replace("'", "''")
        if kind == "num":
            return f"(CASE WHEN jsonb_typeof({col} #> '{path}') = 'number' THEN ({col} #>> '{path}')::float8 END)"
        if kind == "bool":
            return f"(CASE WHEN jsonb_typeof({col} #> '{path}') = 'boolean' THEN ({col} #>> '{path}')::boolean END)"
        if kind == "any":
            return f"({col} #> '{path}')"
        return f"({col} #>> '{path}')"

    def lock_obs(self) -> None:
        self.c.execute(f"LOCK TABLE {self.T('sta_obs_blocks')} IN SHARE ROW EXCLUSIVE MODE")

    def load_obs(self, cols: dict[str, Any]) -> None:
        n = len(cols["id"])
        if n == 0:
            return
        blob = _binary_copy(cols)
        if blob is not None:  # every value present and numeric: one numpy-built binary COPY body
            names, data = blob
            with self.c.cursor().copy(
                f"COPY {self.T('sta_obs')} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
            ) as cp:
                cp.write(data)
            return
        names, lists = _obs_lists(cols)
        types = {
            "id": "int8",
            "ds": "int8",
            "t": "int8",
            "result": "float8",
            "rj": "jsonb",
            "rt": "int8",
            "foi": "int8",
        }
        with self.c.cursor().copy(f"COPY {self.T('sta_obs')} ({', '.join(names)}) FROM STDIN") as copy:
            copy.set_types([types[k] for k in names])
            for r in zip(*lists, strict=True):
                copy.write_row(r)


class PGBackend:
    """The sensor tables of a PostGIS store's schema: created on first use (BRIN on time, TimescaleDB
    hypertable where installed); ``read()`` and ``write()`` yield a :class:`PGConn`."""

    dialect = "postgis"

    def __init__(self, store: Any) -> None:
        self.store = store
        self.schema = store.schema
        self._ready = False

    def _ensure(self, conn: Any) -> None:
        if self._ready:
            return
        s = f'"{self.schema}"'
        have = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'sta_obs'", (self.schema,)
        ).fetchone()
        if not have:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema + ".sta",))
                for name, cols in ENTITY_TABLES.items():
                    conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {s}.{name} (id bigserial PRIMARY KEY, "
                        f"{cols.replace(' J', ' jsonb').replace('TEXT', 'text')})"
                    )
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {s}.sta_thing_locations (thing_id bigint, location_id bigint, "
                    "PRIMARY KEY (thing_id, location_id))"
                )
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {s}.sta_obs (id bigint NOT NULL, ds bigint NOT NULL, "
                    "t bigint NOT NULL, result float8, rj jsonb, rt bigint, foi bigint)"
                )
                timescale = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
                if timescale:  # pragma: no cover - only where TimescaleDB is installed
                    try:
                        with conn.transaction():
                            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                            conn.execute(
                                "SELECT create_hypertable(%s::regclass, 't', chunk_time_interval => 604800000, "
                                "if_not_exists => true)",
                                (f"{s}.sta_obs",),
                            )
                    except Exception:  # the extension is available but not preloaded: a plain table
                        pass
                conn.execute(f"CREATE INDEX IF NOT EXISTS sta_obs_ds_t ON {s}.sta_obs (ds, t)")
                conn.execute(f"CREATE INDEX IF NOT EXISTS sta_obs_t_brin ON {s}.sta_obs USING brin (t)")
                conn.execute(f"CREATE INDEX IF NOT EXISTS sta_obs_id ON {s}.sta_obs (id)")
                conn.execute(f"CREATE INDEX IF NOT EXISTS sta_obs_foi ON {s}.sta_obs (foi) WHERE foi IS NOT NULL")
                for iname, table, cols in INDEXES:
                    conn.execute(f"CREATE INDEX IF NOT EXISTS {iname} ON {s}.{table} ({cols})")
        self._ready = True

    def exists(self) -> bool:
        """Whether the store has the sensor tables (reads that must not create them ask first)."""
        if self._ready:
            return True
        with self.store._pool.connection() as conn:
            return (
                conn.execute(
                    "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'sta_obs'",
                    (self.schema,),
                ).fetchone()
                is not None
            )

    @contextmanager
    def read(self) -> Iterator[Conn]:
        with self.store._pool.connection() as conn:
            self._ensure(conn)
            yield PGConn(conn, self.schema)

    @contextmanager
    def write(self) -> Iterator[Conn]:
        with self.store._pool.connection() as conn:
            self._ensure(conn)
            with conn.transaction():
                c = PGConn(conn, self.schema)
                yield c
                c.x(f"UPDATE {c.T('meta')} SET value = (value::bigint + 1)::text WHERE key = 'version'")


def backend_of(store: Any) -> SQLiteBackend | PGBackend:
    """The adapter for a store (cached on the store object)."""
    b = getattr(store, "_sta_backend", None)
    if b is not None:
        return b
    kind = type(store).__name__
    if kind == "SQLiteStore":
        b = SQLiteBackend(store)
    elif kind == "PostGISStore":
        b = PGBackend(store)
    else:
        raise StoreError(f"Sensor data needs a SQLite or PostGIS store, not {kind}.")
    store.city()  # must be initialised
    store._sta_backend = b
    return b
