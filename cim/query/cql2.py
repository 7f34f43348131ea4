"""CQL2 filters (OGC API - Features Part 3) and sorting, compiled into each store's SQL.

Parsing and validation are the ``cql2`` library's (text and JSON, with the position of a syntax error);
this module checks names and types against the collection's queryables and writes SQL for SQLite
(``json_extract`` on the stored document; spatial predicates through the R*Tree for candidates plus an
exact shapely test registered as a SQL function) or PostGIS (``jsonb`` operators and ``ST_*``).
Literal geometries are given in ``filter-crs`` (default CRS84) and moved to the city CRS; distances
(``S_DWITHIN``) are metres.

The derived queryable ``alarm`` (see :mod:`cim.query.queryables`) reads the store's sensor tables: one
uncorrelated ``id IN (SELECT ...)`` per severity, highest first, so each runs once per query (SQLite
materialises it, PostgreSQL hashes it) whatever the number of features.  A store without sensor tables
compiles it to NULL.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import orjson
import shapely

from ..crs import CRS84, check_supported, to_city_xy
from ..errors import InvalidParameter
from .queryables import ALARM_SEVERITIES, Queryable, queryables

Dialect = Literal["sqlite", "postgis"]

_COMPARE = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TEMPORAL = {"t_before": "<", "t_after": ">", "t_equals": "=", "t_intersects": "="}
_SPATIAL = {
    "s_intersects",
    "s_within",
    "s_contains",
    "s_disjoint",
    "s_touches",
    "s_crosses",
    "s_overlaps",
    "s_equals",
    "s_dwithin",
}
_CONVERSE = {"s_within": "s_contains", "s_contains": "s_within"}
_ARITH = {"+", "-", "*", "/"}

#: how a store names its sensor tables for the ``alarm`` queryable: a callable returning the table-name prefix
#: ("" in SQLite, '"schema".' in PostGIS), or None when the store has no sensor tables yet
SensorTables = Callable[[], str | None]


@dataclass(frozen=True)
class Filter:
    """A parsed CQL2 filter: canonical CQL2 JSON and the CRS of its geometry literals."""

    ast: Any
    crs: str = CRS84
    text: str = ""


def parse_filter(expr: str | dict, *, lang: str | None = None, crs: str | None = None, city_epsg: int = 4550) -> Filter:
    """Parse CQL2 text or JSON (``lang``: ``cql2-text`` or ``cql2-json``; guessed when None)."""
    import cql2

    if lang not in (None, "cql2-text", "cql2-json"):
        raise InvalidParameter("filter-lang", f"filter-lang must be cql2-text or cql2-json, got {lang!r}.")
    source: Any = expr
    if isinstance(expr, str) and (lang == "cql2-json" or (lang is None and expr.lstrip().startswith("{"))):
        try:
            source = orjson.loads(expr)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameter("filter", f"filter is not valid CQL2 JSON: {exc}") from None
    try:
        parsed = cql2.Expr(source)
        if isinstance(source, dict):
            parsed.validate()
    except Exception as exc:  # cql2 raises plain exceptions whose text shows the position of the fault
        raise InvalidParameter("filter", f"filter is not valid CQL2: {str(exc).strip()}") from None
    return Filter(
        parsed.to_json(),
        check_supported(crs, city_epsg, "filter-crs"),
        expr if isinstance(expr, str) else orjson.dumps(expr).decode(),
    )


def parse_sortby(text: str | list[str] | None, collection: str) -> list[tuple[str, bool]]:
    """``"-height,+year_built"`` -> [("height", False), ("year_built", True)] (name, ascending)."""
    if not text:
        return []
    items = text.split(",") if isinstance(text, str) else text
    q = queryables(collection)
    out = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        asc = not item.startswith("-")
        name = item.lstrip("+- ")
        if name != "id" and name not in q:
            raise InvalidParameter("sortby", f"cannot sort by {name!r}; sortable properties: id, {', '.join(q)}.")
        out.append((name, asc))
    return out


# -- SQL ------------------------------------------------------------------------------------------
_PREDICATES: dict[str, tuple[str, shapely.Geometry, float]] = {}
_PRED_LOCK = threading.Lock()


def sqlite_predicate(wkb: bytes, key: str) -> int:
    """SQLite function ``cim_rel(geom, key)``: the exact spatial test registered under ``key``."""
    op, g, dist = _PREDICATES[key]
    geom = shapely.from_wkb(wkb)
    if op == "s_dwithin":
        return int(shapely.dwithin(geom, g, dist))
    return int(getattr(shapely, _SHAPELY[op])(geom, g))


_SHAPELY = {
    "s_intersects": "intersects",
    "s_within": "within",
    "s_contains": "contains",
    "s_touches": "touches",
    "s_crosses": "crosses",
    "s_overlaps": "overlaps",
    "s_equals": "equals",
}


@dataclass
class Compiled:
    """A WHERE fragment with its parameters; ``keys`` are registered spatial tests to release after use."""

    sql: str
    params: list[Any] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def release(self) -> None:
        with _PRED_LOCK:
            for k in self.keys:
                _PREDICATES.pop(k, None)


class Compiler:
    """CQL2 JSON -> SQL for one collection, dialect and city."""

    def __init__(
        self,
        collection: str,
        dialect: Dialect,
        city_epsg: int,
        *,
        rtree: str | None = None,
        sensors: SensorTables | None = None,
    ) -> None:
        self.collection = collection
        self.dialect = dialect
        self.epsg = city_epsg
        self.rtree = rtree
        self.sensors = sensors
        self._sensor_prefix: tuple[str | None] | None = None  # asked once, when alarm is first used
        self.q = queryables(collection)
        self.ph = "?" if dialect == "sqlite" else "%s"
        self.out = Compiled("")

    # public
    def where(self, flt: Filter) -> Compiled:
        self.crs = flt.crs
        sql = self._bool(flt.ast)
        self.out.sql = sql
        return self.out

    def order_by(self, sortby: list[tuple[str, bool]]) -> str:
        terms = [
            f"{self._alarm_sql(rank=True) if name == 'alarm' else self._prop_sql(name)} {'ASC' if asc else 'DESC'} "
            "NULLS LAST"
            for name, asc in sortby
        ]
        return ", ".join([*terms, "fid"])

    # nodes
    def _param(self, v: Any) -> str:
        self.out.params.append(v)
        return self.ph

    def _bool(self, node: Any) -> str:
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        if not isinstance(node, dict) or "op" not in node:
            raise InvalidParameter("filter", f"expected a condition, got {orjson.dumps(node).decode()}.")
        op, args = node["op"].lower(), node.get("args", [])
        if op in ("and", "or"):
            return "(" + f" {op.upper()} ".join(self._bool(a) for a in args) + ")"
        if op == "not":
            return f"(NOT {self._bool(args[0])})"
        if op in _COMPARE:
            return self._compare(_COMPARE[op], args[0], args[1])
        if op in _TEMPORAL:
            return self._compare(_TEMPORAL[op], args[0], args[1], temporal=True)
        if op == "like":
            lhs, kind = self._value(args[0])
            if kind not in ("string", None):
                raise InvalidParameter("filter", f"LIKE needs text; {self._name(args[0])} is a {kind}.")
            pattern, pkind = self._value(args[1])
            if pkind != "string":
                raise InvalidParameter("filter", f"LIKE needs a text pattern, got {orjson.dumps(args[1]).decode()}.")
            return f"({lhs} LIKE {pattern})"
        if op == "in":
            lhs, kind = self._value(args[0])
            items = [self._literal(v, kind, args[0]) for v in args[1]]
            return f"({lhs} IN ({', '.join(items)}))"
        if op == "between":
            lhs, kind = self._value(args[0])
            lo, hi = self._literal(args[1], kind, args[0]), self._literal(args[2], kind, args[0])
            return f"({lhs} BETWEEN {lo} AND {hi})"
        if op == "isnull":
            return f"({self._value(args[0])[0]} IS NULL)"
        if op in _SPATIAL:
            return self._spatial(op, args)
        raise InvalidParameter(
            "filter",
            f"the operator {node['op']!r} is not supported here; supported: comparisons, "
            "LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT, S_INTERSECTS, S_WITHIN, S_CONTAINS, "
            "S_DISJOINT, S_TOUCHES, S_CROSSES, S_OVERLAPS, S_EQUALS, S_DWITHIN, "
            "T_BEFORE, T_AFTER, T_EQUALS, T_INTERSECTS.",
        )

    def _name(self, node: Any) -> str:
        return node.get("property", "?") if isinstance(node, dict) else repr(node)

    def _queryable(self, name: str) -> Queryable | None:
        if name == "id":
            return None
        q = self.q.get(name)
        if q is None:
            raise InvalidParameter(
                "filter",
                f"unknown property {name!r}; queryable properties of "
                f"{self.collection}: id, geometry, {', '.join(self.q)}.",
                property=name,
            )
        return q

    def _prop_sql(self, name: str, temporal: bool = False) -> str:
        if name == "id":
            return "id"
        q = self._queryable(name)
        assert q is not None
        if q.derived:
            return self._alarm_sql()
        if self.dialect == "sqlite":
            expr = f"json_extract(doc, '$.{name}')"
            return f"printf('%04d-01-01', {expr})" if temporal else expr
        text = f"(doc->>'{name}')"
        if temporal:
            return f"make_date({text}::int, 1, 1)"
        cast = {"number": "::float8", "integer": "::bigint", "boolean": "::boolean", "string": ""}[q.type]
        return f"{text}{cast}"

    def _alarm_sql(self, rank: bool = False) -> str:
        """The ``alarm`` queryable: the highest severity among the feature's active alarms (its rank 1..4 for
        sorting when ``rank``), NULL when none.  Literals only (no parameters), so ORDER BY can use it."""
        if self._sensor_prefix is None:
            self._sensor_prefix = (self.sensors() if self.sensors is not None else None,)
        pre = self._sensor_prefix[0]
        if pre is None:  # no sensor tables in this store: no feature has an alarm
            return "CAST(NULL AS INTEGER)" if rank else "CAST(NULL AS TEXT)"
        head = f"{self.collection}/"
        n = len(head)
        key = (
            "json_extract(th.properties, '$.\"cim:feature\"')"
            if self.dialect == "sqlite"
            else "(th.properties->>'cim:feature')"
        )
        whens = []
        for i in range(len(ALARM_SEVERITIES) - 1, -1, -1):
            sev = ALARM_SEVERITIES[i]
            ids = (
                f"SELECT substr({key}, {n + 1}) FROM {pre}sta_alarms al JOIN {pre}sta_datastreams d ON d.id = al.ds "
                f"JOIN {pre}sta_things th ON th.id = d.thing_id WHERE al.closed_t IS NULL AND al.severity = '{sev}' "
                f"AND substr({key}, 1, {n}) = '{head.replace(chr(39), chr(39) * 2)}'"
            )
            whens.append(f"WHEN id IN ({ids}) THEN {i + 1 if rank else repr(sev)}")
        return f"(CASE {' '.join(whens)} END)"

    def _value(self, node: Any, temporal: bool = False) -> tuple[str, str | None]:
        """SQL for a scalar expression and its type (None when unknown)."""
        if isinstance(node, dict):
            if "property" in node:
                name = node["property"]
                if name == "geometry":
                    raise InvalidParameter("filter", "geometry can only be used in spatial predicates.")
                q = self._queryable(name)
                if temporal and (q is None or not q.temporal):
                    raise InvalidParameter(
                        "filter",
                        f"{name!r} is not a date; temporal operators apply to year_built (pipes: year).",
                        property=name,
                    )
                return self._prop_sql(name, temporal), ("date" if temporal else (q.type if q else "string"))
            op = node.get("op", "").lower()
            if op == "casei":
                inner, _ = self._value(node["args"][0])
                return f"lower({inner})", "string"
            if op in _ARITH:
                a, ka = self._value(node["args"][0])
                b, kb = self._value(node["args"][1])
                for k, n in ((ka, node["args"][0]), (kb, node["args"][1])):
                    if k not in ("number", "integer", None):
                        raise InvalidParameter("filter", f"arithmetic needs numbers; {self._name(n)} is a {k}.")
                return f"({a} {op} {b})", "number"
            if "date" in node or "timestamp" in node:
                return self._param(self._date(node)), "date"
            raise InvalidParameter("filter", f"unsupported expression {orjson.dumps(node).decode()}.")
        if isinstance(node, bool):
            return self._param(node if self.dialect == "postgis" else int(node)), "boolean"
        if isinstance(node, int | float):
            return self._param(node), "number"
        if isinstance(node, str):
            return self._param(node), "string"
        raise InvalidParameter("filter", f"unsupported value {orjson.dumps(node).decode()}.")

    def _date(self, node: dict) -> Any:
        text = node.get("date") or node.get("timestamp", "")[:10]
        try:
            d = date.fromisoformat(text)
        except ValueError:
            raise InvalidParameter("filter", f"bad date {text!r}.") from None
        return d.isoformat() if self.dialect == "sqlite" else d

    def _literal(self, value: Any, kind: str | None, prop: Any) -> str:
        sql, vkind = self._value(value)
        self._check(kind, vkind, prop, value)
        return sql

    @staticmethod
    def _check(kind: str | None, vkind: str | None, prop: Any, value: Any) -> None:
        numeric = {"number", "integer"}
        if kind is None or vkind is None or kind == vkind or (kind in numeric and vkind in numeric):
            return
        name = prop.get("property", "?") if isinstance(prop, dict) else "?"
        raise InvalidParameter(
            "filter",
            f"type mismatch: {name} is a {kind}, compared with {orjson.dumps(value).decode()} ({vkind}).",
            property=name,
        )

    def _compare(self, op: str, a: Any, b: Any, temporal: bool = False) -> str:
        dated = temporal or _is_date(a) or _is_date(b)
        lhs, ka = self._value(a, temporal=dated and _is_prop(a))
        rhs, kb = self._value(b, temporal=dated and _is_prop(b))
        if _is_prop(a):
            self._check(ka, kb, a, b)
        elif _is_prop(b):
            self._check(kb, ka, b, a)
        return f"({lhs} {op} {rhs})"

    # spatial
    def _geometry(self, node: Any) -> shapely.Geometry:
        try:
            if isinstance(node, dict) and "bbox" in node:
                bb = node["bbox"]
                half = len(bb) // 2
                g = shapely.box(bb[0], bb[1], bb[half], bb[half + 1])
            else:
                g = shapely.from_geojson(orjson.dumps(node))
        except Exception:
            raise InvalidParameter("filter", f"bad geometry literal {orjson.dumps(node).decode()[:200]}.") from None
        if g.is_empty:
            raise InvalidParameter("filter", "empty geometry literal.")
        g = shapely.segmentize(g, 5e-4) if self.crs == CRS84 or "4326" in self.crs or "4490" in self.crs else g
        return shapely.transform(g, lambda xy: to_city_xy(xy, self.crs, self.epsg))

    def _spatial(self, op: str, args: list[Any]) -> str:
        a, b = args[0], args[1]
        if isinstance(b, dict) and b.get("property") == "geometry" and not (isinstance(a, dict) and "property" in a):
            a, b, op = b, a, _CONVERSE.get(op, op)
        if not (isinstance(a, dict) and a.get("property") == "geometry"):
            raise InvalidParameter("filter", f"{op.upper()} compares the property geometry with a geometry literal.")
        g = self._geometry(b)
        dist = 0.0
        if op == "s_dwithin":
            if len(args) < 3 or not isinstance(args[2], int | float) or args[2] < 0:
                raise InvalidParameter("filter", "S_DWITHIN needs a distance in metres (a number >= 0).")
            dist = float(args[2])
        negate = op == "s_disjoint"
        rel = "s_intersects" if negate else op
        if self.dialect == "postgis":
            fn = {
                "s_intersects": "ST_Intersects",
                "s_within": "ST_Within",
                "s_contains": "ST_Contains",
                "s_touches": "ST_Touches",
                "s_crosses": "ST_Crosses",
                "s_overlaps": "ST_Overlaps",
                "s_equals": "ST_Equals",
                "s_dwithin": "ST_DWithin",
            }[rel]
            wkb = self._param(shapely.to_wkb(g))
            srid = self._param(self.epsg)
            extra = f", {self._param(dist)}" if rel == "s_dwithin" else ""
            sql = f"{fn}(geom, ST_GeomFromWKB({wkb}, {srid}){extra})"
        else:
            key = register_predicate(rel, g, dist)
            self.out.keys.append(key)
            x0, y0, x1, y1 = g.bounds
            box = [x1 + dist, x0 - dist, y1 + dist, y0 - dist]
            cand = (
                f"fid IN (SELECT fid FROM {self.rtree} WHERE minx <= {self.ph} AND maxx >= {self.ph} "
                f"AND miny <= {self.ph} AND maxy >= {self.ph})"
            )
            self.out.params.extend(box)
            sql = f"({cand} AND cim_rel(geom, {self._param(key)}) = 1)"
        return f"(NOT {sql})" if negate else sql


def register_predicate(op: str, geom: shapely.Geometry, dist: float = 0.0) -> str:
    """Register an exact spatial test for ``cim_rel(geom, key)`` (SQLite); returns the key."""
    key = uuid.uuid4().hex
    shapely.prepare(geom)
    with _PRED_LOCK:
        _PREDICATES[key] = (op, geom, dist)
    return key


def compile_filter(
    flt: Filter | None,
    collection: str,
    dialect: Dialect,
    city_epsg: int,
    *,
    rtree: str | None = None,
    sensors: SensorTables | None = None,
) -> Compiled:
    """SQL for ``flt`` (``TRUE`` when None); ``sensors`` names the store's sensor tables (``alarm``)."""
    if flt is None:
        return Compiled("TRUE")
    return Compiler(collection, dialect, city_epsg, rtree=rtree, sensors=sensors).where(flt)


def order_by(
    sortby: list[tuple[str, bool]] | None, collection: str, dialect: Dialect, *, sensors: SensorTables | None = None
) -> str:
    """The SQL ORDER BY clause of a ``sortby`` (then insertion order) for a backend's dialect."""
    return Compiler(collection, dialect, 0, sensors=sensors).order_by(sortby or [])


def _is_prop(node: Any) -> bool:
    return isinstance(node, dict) and "property" in node


def _is_date(node: Any) -> bool:
    return isinstance(node, dict) and ("date" in node or "timestamp" in node)


__all__ = ["Filter", "SensorTables", "parse_filter", "parse_sortby", "compile_filter", "order_by", "sqlite_predicate"]
