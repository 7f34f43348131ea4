"""SensorThings API 1.1 (Sensing) over a city store: read, create (deep insert), update, delete, DataArray.

:class:`Sensors` is what the HTTP router calls; every method takes the request path below the service root
(``Things(1)/Datastreams``) and returns plain JSON-ready dicts.  Writes are one transaction each: a request
that fails validation writes nothing.  Observations are ingested as numpy columns and their alarms computed
in the same transaction (:mod:`cim.sensors.alarms`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import numpy as np

from . import alarms as A
from .backend import Conn, backend_of
from .errors import EntityNotFound, bad
from .model import MEASUREMENT, NUMERIC_TYPES, OBSERVATION_TYPES, SETS, EntitySet, entity_set
from .odata import Options, compile_filter, compile_orderby, parse_options
from .times import iso, iso_array, now_ms, parse_ms, parse_ms_array

CONFORMANCE = [
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
]
#: properties the service computes: accepted in a request body and ignored
_SERVER_MADE = {"Datastreams": ("phenomenonTime", "resultTime", "observedArea")}
_SEG = re.compile(r"([A-Za-z]+|\$ref|\$value)(?:\(([^)]*)\))?")


class _Target:
    """Where a resource path points: an entity set, the SQL condition selecting its members, whether it is
    one entity, and an optional property (``Things(1)/name``)."""

    def __init__(self, es: EntitySet, where: str, params: list[Any], single: bool) -> None:
        self.es, self.where, self.params, self.single = es, where, params, single
        self.prop: str | None = None
        self.value = False
        self.parent: tuple[EntitySet, int, Any] | None = None  # (set, id, nav) when reached by navigation
        self.id: int | None = None


class Sensors:
    """The sensor layer of one store (SQLite or PostGIS)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.b = backend_of(store)

    # -- paths --------------------------------------------------------------------------------------------------
    def _resolve(self, c: Conn, path: str) -> _Target:
        segs = [s for s in path.strip("/").split("/") if s]
        if not segs:
            raise bad("path", "The path names no entity set.")
        cur: _Target | None = None
        for n, seg in enumerate(segs):
            m = _SEG.fullmatch(seg)
            if m is None:
                raise bad("path", f"Cannot read path segment {seg!r}.")
            name, raw_id = m.group(1), m.group(2)
            eid = None
            if raw_id is not None:
                try:
                    eid = int(raw_id)
                except ValueError:
                    raise EntityNotFound(name, raw_id) from None
            if cur is None:
                es = entity_set(name)
                cur = _Target(es, "1=1", [], False)
                if eid is not None:
                    self._must_exist(c, es, eid)
                    cur = _Target(es, *self._idc(c, es, eid), True)
                    cur.id = eid
                continue
            if name in ("$value", "$ref"):
                if name == "$value" and cur.prop:
                    cur.value = True
                    continue
                raise bad("path", f"{name} is not supported here.")
            nav = cur.es.nav(name)
            if nav is None:
                last = n == len(segs) - 1 or (n == len(segs) - 2 and segs[-1] == "$value")
                if cur.single and last and (cur.es.field(name) or name == "id"):
                    cur.prop = name
                    continue
                if cur.prop and cur.es.field(cur.prop) and cur.es.field(cur.prop).kind == "json":  # type: ignore[union-attr]
                    raise bad("path", "Paths into JSON properties are not supported; use $select.")
                raise EntityNotFound(f"{cur.es.name}/{name}", "")
            if not cur.single or cur.id is None:
                raise bad("path", f"Navigate to {name} from one entity: {cur.es.name}(id)/{name}.")
            target = entity_set(nav.target)
            pid = cur.id
            if nav.kind == "fwd":
                cond, cparams = self._idc(c, cur.es, pid, "")
                row = c.q(f"SELECT {nav.col} FROM {c.T(cur.es.table)} WHERE {cond}", cparams)
                tid = row[0][0] if row else None
                if tid is None:
                    raise EntityNotFound(f"{cur.es.name}({pid})/{name}", "")
                nxt = _Target(target, "a.id = ?", [tid], nav.name != "Locations")
                nxt.id = tid
            elif nav.kind == "rev":
                nxt = _Target(target, f"a.{nav.col} = ?", [pid], False)
            else:
                table, mine, theirs = nav.link  # type: ignore[misc]
                nxt = _Target(target, f"a.id IN (SELECT {theirs} FROM {c.T(table)} WHERE {mine} = ?)", [pid], False)
            nxt.parent = (cur.es, pid, nav)
            if eid is not None:
                cond, cparams = self._idc(c, target, eid)
                if not c.q(
                    f"SELECT 1 FROM {c.T(target.table)} a WHERE {nxt.where} AND {cond}", [*nxt.params, *cparams]
                ):
                    raise EntityNotFound(target.name, eid)
                nxt = _Target(target, cond, cparams, True)
                nxt.id = eid
            cur = nxt
        assert cur is not None
        return cur

    @staticmethod
    def _idc(c: Conn, es: EntitySet, eid: int, alias: str = "a") -> tuple[str, list[Any]]:
        """SQL condition selecting entity ``eid`` (Observations: through its id block, a range scan)."""
        p = f"{alias}." if alias else ""
        if es.name != "Observations":
            return f"{p}id = ?", [eid]
        row = c.q(
            f"SELECT last_id, ds, min_t, max_t FROM {c.T('sta_obs_blocks')} WHERE id <= ? ORDER BY id DESC LIMIT 1",
            [eid],
        )
        if not row or row[0][0] < eid:
            return "1 = 0", []
        _, ds, lo, hi = row[0]
        return f"{p}ds = ? AND {p}t >= ? AND {p}t <= ? AND {p}id = ?", [ds, lo, hi, eid]

    @classmethod
    def _must_exist(cls, c: Conn, es: EntitySet, eid: int) -> None:
        cond, params = cls._idc(c, es, eid, "")
        if not c.q(f"SELECT 1 FROM {c.T(es.table)} WHERE {cond}", params):
            raise EntityNotFound(es.name, eid)

    # -- reading ------------------------------------------------------------------------------------------------
    def root(self, base: str) -> dict[str, Any]:
        """The service root: the entity sets and ``serverSettings.conformance``."""
        return {
            "value": [{"name": n, "url": f"{base}/{n}"} for n in SETS],
            "serverSettings": {"conformance": CONFORMANCE},
        }

    def get(self, path: str, params: Mapping[str, str], base: str) -> Any:
        """GET a collection, an entity or a property; ``base`` is the service root URL (for links)."""
        opts = parse_options(dict(params))
        with self.b.read() as c:
            tgt = self._resolve(c, path)
            if tgt.single:
                rows = self._rows(c, tgt.es, tgt.where, tgt.params, opts, 1, 0)
                if not rows:
                    raise EntityNotFound(tgt.es.name, tgt.id or "")
                ent = self._render(c, tgt.es, rows, base, opts)[0]
                if tgt.prop:
                    key = "@iot.id" if tgt.prop == "id" else tgt.prop
                    return ent.get(key) if tgt.value else {key: ent.get(key)}
                return ent
            return self._collection(c, tgt, opts, base, path, params)

    def _collection(
        self, c: Conn, tgt: _Target, opts: Options, base: str, path: str, params: Mapping[str, str]
    ) -> dict[str, Any]:
        where, fparams = compile_filter(opts.filter, tgt.es, c)
        cond, cparams = f"({tgt.where}) AND {where}", [*tgt.params, *fparams]
        rows = self._rows(c, tgt.es, cond, cparams, opts, opts.top + 1, opts.skip)
        more = len(rows) > opts.top
        rows = rows[: opts.top]
        out: dict[str, Any] = {}
        if opts.count:
            out["@iot.count"] = c.q(f"SELECT count(*) FROM {c.T(tgt.es.table)} a WHERE {cond}", cparams)[0][0]
        out["value"] = self._render(c, tgt.es, rows, base, opts)
        if more:
            q = dict(params)
            q["$skip"] = str(opts.skip + opts.top)
            q["$top"] = str(opts.top)
            out["@iot.nextLink"] = f"{base}/{path.strip('/')}?{urlencode(q)}"
        return out

    def _columns(self, es: EntitySet) -> list[str]:
        cols = ["a.id", *(f"a.{f.col}" for f in es.fields)]
        if es.name == "Observations":
            cols += ["a.rj", "a.ds", "a.foi"]
        if es.name == "Datastreams":
            cols += [
                "(SELECT min(o.t) FROM {obs} o WHERE o.ds = a.id)",
                "(SELECT max(o.t) FROM {obs} o WHERE o.ds = a.id)",
            ]
        return cols

    def _rows(
        self, c: Conn, es: EntitySet, where: str, params: list[Any], opts: Options, limit: int, offset: int
    ) -> list[tuple]:
        order = compile_orderby(opts.orderby, es, c)
        cols = ", ".join(self._columns(es)).replace("{obs}", c.T("sta_obs"))
        return c.q(
            f"SELECT {cols} FROM {c.T(es.table)} a WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )

    def _render(self, c: Conn, es: EntitySet, rows: list[tuple], base: str, opts: Options) -> list[dict[str, Any]]:
        """Rows -> entity dicts, column by column (times formatted by numpy), keeping only ``$select``ed keys."""
        keep: set[str] | None = None
        if opts.select:
            known = {"id", "@iot.id", "@iot.selfLink", *(f.name for f in es.fields), *(n.name for n in es.navs)}
            if es.name == "Datastreams":
                known.add("phenomenonTime")
            unknown = set(opts.select) - known
            if unknown:
                raise bad("$select", f"{es.name} have no property {sorted(unknown)[0]!r}.")
            keep = {"@iot.id" if k == "id" else k for k in opts.select}
            keep |= {f"{k}@iot.navigationLink" for k in opts.select}
        for name, _ in opts.expand:
            if es.nav(name) is None:
                raise bad("$expand", f"{es.name} have no navigation property {name!r}.")
        want = (lambda k: True) if keep is None else keep.__contains__  # noqa: E731
        ids = [r[0] for r in rows]
        links = [f"{base}/{es.name}({i})" for i in ids]
        cols: dict[str, list[Any]] = {}
        if want("@iot.id"):
            cols["@iot.id"] = ids
        if want("@iot.selfLink"):
            cols["@iot.selfLink"] = links
        for k, f in enumerate(es.fields, start=1):
            if not want(f.name):
                continue
            vals = [r[k] for r in rows]
            if f.kind == "time":
                present = [v is not None for v in vals]
                strs = iso_array(np.array([v if v is not None else 0 for v in vals], dtype=np.int64))
                vals = strs if all(present) else [s if p else None for s, p in zip(strs, present, strict=True)]
            elif f.kind == "json":
                vals = [c.dec(v) if v is not None else None for v in vals]
            elif f.kind == "result":
                vals = [
                    v if v is not None else (c.dec(r[k + 1]) if r[k + 1] is not None else None)
                    for v, r in zip(vals, rows, strict=True)
                ]
            cols[f.name] = vals
        if es.name == "Datastreams" and want("phenomenonTime"):
            cols["phenomenonTime"] = [f"{iso(r[-2])}/{iso(r[-1])}" if r[-2] is not None else None for r in rows]
        for nav in es.navs:
            key = f"{nav.name}@iot.navigationLink"
            if want(key):
                cols[key] = [f"{link}/{nav.name}" for link in links]
        keys = list(cols)
        out = (
            [dict(zip(keys, vals, strict=True)) for vals in zip(*(cols[k] for k in keys), strict=True)]
            if keys
            else [{} for _ in rows]
        )
        for ent in out:  # absent optional JSON members and the derived phenomenonTime are left out
            for k in ("properties", "phenomenonTime"):
                if k in ent and ent[k] is None and (k == "properties" or es.name == "Datastreams"):
                    del ent[k]
        for i, r in enumerate(rows):
            for name, sub in opts.expand:
                nav = es.nav(name)
                fk = None
                if es.name == "Observations":  # the row holds ds and foi: no lookup by observation id
                    fk = r[-2] if nav.name == "Datastream" else r[-1]
                    if fk is None:
                        out[i][nav.name] = None
                        continue
                out[i].update(self._expand(c, es, r[0], nav, sub, base, fk))
        return out

    def _expand(
        self, c: Conn, es: EntitySet, eid: int, nav: Any, sub: Options, base: str, fk: Any = None
    ) -> dict[str, Any]:
        target = entity_set(nav.target)
        if nav.kind == "fwd" and fk is not None:
            where, eid = "a.id = ?", fk
        elif nav.kind == "fwd":
            where = f"a.id = (SELECT {nav.col} FROM {c.T(es.table)} WHERE id = ?)"
        elif nav.kind == "rev":
            where = f"a.{nav.col} = ?"
        else:
            table, mine, theirs = nav.link
            where = f"a.id IN (SELECT {theirs} FROM {c.T(table)} WHERE {mine} = ?)"
        fsql, fparams = compile_filter(sub.filter, target, c)
        rows = self._rows(c, target, f"({where}) AND {fsql}", [eid, *fparams], sub, sub.top + 1, sub.skip)
        ents = self._render(c, target, rows[: sub.top], base, sub)
        if nav.kind == "fwd" and nav.name != "Locations":
            return {nav.name: ents[0] if ents else None}
        out: dict[str, Any] = {nav.name: ents}
        if len(rows) > sub.top:
            out[f"{nav.name}@iot.nextLink"] = (
                f"{base}/{es.name}({eid})/{nav.name}?{urlencode({'$top': sub.top, '$skip': sub.skip + sub.top})}"
            )
        return out

    # -- creating -----------------------------------------------------------------------------------------------
    def create(self, path: str, body: Any, base: str) -> tuple[str, dict[str, Any]]:
        """POST to a collection (deep insert, all or nothing); returns (Location URL, the new entity)."""
        with self.b.write() as c:
            tgt = self._resolve(c, path)
            if tgt.single or tgt.prop:
                raise bad("path", "POST to an entity collection, e.g. /Things or /Datastreams(1)/Observations.")
            if tgt.es.name == "HistoricalLocations":
                raise bad("path", "HistoricalLocations are made by the service when a Thing's Location changes.")
            fixed: dict[str, Any] = {}
            link: tuple[str, str, str, int] | None = None
            if tgt.parent is not None:
                pes, pid, nav = tgt.parent
                if nav.kind == "rev":
                    fixed[nav.col] = pid
                elif nav.kind == "m2m":
                    link = (*nav.link, pid)
            w = _Writer(self, c)
            eid = w.insert(tgt.es, body, fixed, "")
            if link is not None:
                table, mine, theirs, pid = link
                w.link(table, mine, theirs, pid, eid)
            w.flush()
            if tgt.es.name == "Observations":
                eid = w.obs_ids[0]
        url = f"{base}/{tgt.es.name}({eid})"
        return url, self.get(f"{tgt.es.name}({eid})", {}, base)

    def create_observations(self, body: Any, base: str) -> list[str]:
        """The DataArray extension (``POST /CreateObservations``): all rows land, or none; returns the new
        Observations' selfLinks in request order."""
        if not isinstance(body, list) or not body:
            raise bad("body", "CreateObservations takes a list of {Datastream, components, dataArray} objects.")
        with self.b.write() as c:
            w = _Writer(self, c)
            for i, item in enumerate(body):
                where = f"[{i}]"
                if not isinstance(item, dict):
                    raise bad(where, "Each item is an object with Datastream, components and dataArray.")
                ds = item.get("Datastream")
                if not isinstance(ds, dict) or not isinstance(ds.get("@iot.id"), int):
                    raise bad(f"{where}.Datastream", 'Datastream is a reference: {"@iot.id": n}.')
                comps = item.get("components")
                rows = item.get("dataArray")
                if not isinstance(comps, list) or "result" not in comps:
                    raise bad(f"{where}.components", "components lists the columns, including result.")
                allowed = {"phenomenonTime", "result", "resultTime", "FeatureOfInterest/id", "id"}
                extra = set(comps) - allowed
                if extra or len(set(comps)) != len(comps):
                    raise bad(f"{where}.components", f"Unsupported components {sorted(extra)}; use {sorted(allowed)}.")
                if not isinstance(rows, list) or (
                    rows and (set(map(type, rows)) != {list} or set(map(len, rows)) != {len(comps)})
                ):
                    raise bad(f"{where}.dataArray", f"dataArray is a list of rows of {len(comps)} values.")
                cols = dict(zip(comps, zip(*rows, strict=True), strict=True)) if rows else {k: () for k in comps}
                n = len(rows)
                t = (
                    parse_ms_array(list(cols["phenomenonTime"]), f"{where}.phenomenonTime")
                    if "phenomenonTime" in cols
                    else np.full(n, now_ms(), dtype=np.int64)
                )
                rt = parse_ms_array(list(cols["resultTime"]), f"{where}.resultTime") if "resultTime" in cols else None
                foi = None
                if "FeatureOfInterest/id" in cols:
                    try:
                        foi = np.array(cols["FeatureOfInterest/id"], dtype=np.int64)
                    except (TypeError, ValueError):
                        raise bad(f"{where}.dataArray", "FeatureOfInterest/id values are ids.") from None
                    for f in np.unique(foi).tolist():
                        self._must_exist(c, SETS["FeaturesOfInterest"], f)
                w.add_obs(ds["@iot.id"], t, cols["result"], rt, foi, f"{where}.dataArray")
            w.flush()
            ids = w.obs_ids
        return [f"{base}/Observations({i})" for i in ids]

    def ingest(self, batches: list[tuple[int, np.ndarray, np.ndarray]]) -> list[int]:
        """Bulk ingest from numpy, one transaction: ``(datastream id, times, results)`` per batch, times
        int64 ms since the epoch or datetime64 (n,), results float64 (n,).  Alarms are computed as for
        DataArray.  Returns the new Observation ids in order."""
        with self.b.write() as c:
            w = _Writer(self, c)
            for ds, t, v in batches:
                t = np.asarray(t)
                t = t.astype("datetime64[ms]").astype(np.int64) if t.dtype.kind == "M" else t.astype(np.int64)
                w.add_obs(int(ds), t, np.asarray(v, dtype=np.float64), None, None, f"Datastreams({ds})")
            w.flush()
            return w.obs_ids

    # -- updating and deleting -----------------------------------------------------------------------------------
    def update(self, path: str, body: Any) -> None:
        """PATCH: replace the given properties (and re-link given single navigation properties)."""
        if not isinstance(body, dict) or not body:
            raise bad("body", "PATCH takes an object with the properties to change.")
        with self.b.write() as c:
            tgt = self._resolve(c, path)
            if not tgt.single or tgt.prop:
                raise bad("path", "PATCH one entity: /Things(1).")
            es, eid = tgt.es, tgt.id
            sets: dict[str, Any] = {}
            for k, v in body.items():
                if k.startswith("@iot."):
                    continue
                f, nav = es.field(k), es.nav(k)
                if f is not None:
                    sets[f.col] = _Writer(self, c).value(es, f, v, {})
                elif nav is not None and nav.kind == "fwd" and es.name != "HistoricalLocations":
                    ref = v.get("@iot.id") if isinstance(v, dict) else None
                    if not isinstance(ref, int):
                        raise bad(k, f'{k} is a reference {{"@iot.id": n}}.')
                    self._must_exist(c, entity_set(nav.target), ref)
                    sets[nav.col] = ref
                else:
                    raise bad(k, f"{es.name} have no property {k!r} to change.")
            if es.name == "Observations":
                ds = tgt.params[0]
                if "result" in sets:
                    num, rj = sets.pop("result")
                    sets["result"], sets["rj"] = num, rj
                    self._check_result(c, ds, num, rj, "result")
                if "ds" in sets:
                    raise bad("Datastream", "An Observation stays in its Datastream; delete it and post a new one.")
                if sets:
                    self._set(c, es, eid, sets)
                if "t" in sets:  # widen the id block's time span so that Observations(id) still finds it
                    c.x(
                        f"UPDATE {c.T('sta_obs_blocks')} SET min_t = CASE WHEN ? < min_t THEN ? ELSE min_t END, "
                        "max_t = CASE WHEN ? > max_t THEN ? ELSE max_t END "
                        f"WHERE id = (SELECT max(id) FROM {c.T('sta_obs_blocks')} WHERE id <= ?)",
                        [sets["t"], sets["t"], sets["t"], sets["t"], eid],
                    )
                _Writer(self, c).recompute(ds)
                return
            if es.name == "Datastreams":
                if "observation_type" in sets and sets["observation_type"] in NUMERIC_TYPES:
                    bad_rows = c.q(f"SELECT 1 FROM {c.T('sta_obs')} WHERE ds = ? AND rj IS NOT NULL LIMIT 1", [eid])
                    if bad_rows:
                        raise bad("observationType", "The Datastream holds non-numeric results.")
                self._set(c, es, eid, sets)
                if "properties" in sets:
                    _Writer(self, c).recompute(eid)
                return
            self._set(c, es, eid, sets)

    @classmethod
    def _set(cls, c: Conn, es: EntitySet, eid: int, sets: dict[str, Any]) -> None:
        if sets:
            assign = ", ".join(f"{k} = ?" for k in sets)
            cond, params = cls._idc(c, es, eid, "")
            c.x(f"UPDATE {c.T(es.table)} SET {assign} WHERE {cond}", [*sets.values(), *params])

    def _check_result(self, c: Conn, ds: int, num: Any, rj: Any, where: str) -> None:
        otype = c.q(f"SELECT observation_type FROM {c.T('sta_datastreams')} WHERE id = ?", [ds])[0][0]
        if otype in NUMERIC_TYPES and num is None:
            raise bad(where, "The Datastream's results are numbers (its observationType is numeric).")

    def delete(self, path: str) -> None:
        """DELETE one entity and what depends on it (a Thing's Datastreams, a Datastream's Observations ...)."""
        with self.b.write() as c:
            tgt = self._resolve(c, path)
            if not tgt.single or tgt.prop:
                raise bad("path", "DELETE one entity: /Things(1).")
            self._delete(c, tgt.es.name, [tgt.id])  # type: ignore[list-item]

    def _delete(self, c: Conn, name: str, ids: list[int]) -> None:
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        T = c.T  # noqa: N806
        if name == "Things":
            ds = [r[0] for r in c.q(f"SELECT id FROM {T('sta_datastreams')} WHERE thing_id IN ({marks})", ids)]
            self._delete(c, "Datastreams", ds)
            c.x(f"DELETE FROM {T('sta_hlocations')} WHERE thing_id IN ({marks})", ids)
            c.x(f"DELETE FROM {T('sta_thing_locations')} WHERE thing_id IN ({marks})", ids)
        elif name == "Locations":
            c.x(f"DELETE FROM {T('sta_hlocations')} WHERE location_id IN ({marks})", ids)
            c.x(f"DELETE FROM {T('sta_thing_locations')} WHERE location_id IN ({marks})", ids)
        elif name in ("Sensors", "ObservedProperties"):
            col = "sensor_id" if name == "Sensors" else "obsprop_id"
            ds = [r[0] for r in c.q(f"SELECT id FROM {T('sta_datastreams')} WHERE {col} IN ({marks})", ids)]
            self._delete(c, "Datastreams", ds)
        elif name == "Datastreams":
            c.x(f"DELETE FROM {T('sta_obs')} WHERE ds IN ({marks})", ids)
            c.x(f"DELETE FROM {T('sta_alarms')} WHERE ds IN ({marks})", ids)
        elif name == "FeaturesOfInterest":
            ds = [r[0] for r in c.q(f"SELECT DISTINCT ds FROM {T('sta_obs')} WHERE foi IN ({marks})", ids)]
            c.x(f"DELETE FROM {T('sta_obs')} WHERE foi IN ({marks})", ids)
            for d in ds:
                _Writer(self, c).recompute(d)
        elif name == "Observations":
            touched = set()
            for i in ids:
                cond, params = self._idc(c, SETS["Observations"], i, "")
                if params:
                    c.x(f"DELETE FROM {T('sta_obs')} WHERE {cond}", params)
                    touched.add(params[0])
            for d in sorted(touched):
                _Writer(self, c).recompute(d)
            return
        c.x(f"DELETE FROM {T(SETS[name].table)} WHERE id IN ({marks})", ids)

    # -- alarms -------------------------------------------------------------------------------------------------
    def alarms(
        self,
        *,
        active: bool | None = None,
        datastream: int | None = None,
        feature: str | None = None,
        severity: str | None = None,
    ) -> list[dict[str, Any]]:
        """Alarms, newest first: id, datastream (id, name, unit), thing (id, name), feature ("collection/fid" or
        None), kind, severity, threshold, first/last/closed times (ISO), peak value and time, active, and the
        Thing's location (GeoJSON geometry, CRS84) under ``geometry``."""
        if not self.b.exists():  # no sensor tables yet: nothing to report, and nothing created by a read
            return []
        conds, params = ["1=1"], []
        if active is not None:
            conds.append("al.closed_t IS NULL" if active else "al.closed_t IS NOT NULL")
        if datastream is not None:
            conds.append("al.ds = ?")
            params.append(datastream)
        if severity is not None:
            conds.append("al.severity = ?")
            params.append(severity)
        with self.b.read() as c:
            T = c.T  # noqa: N806
            rows = c.q(
                f"SELECT al.id, al.ds, d.name, d.unit, th.id, th.name, th.properties, al.kind, al.severity, "
                f"al.threshold, al.first_t, al.last_t, al.closed_t, al.peak, al.peak_t, "
                f"(SELECT l.location FROM {T('sta_thing_locations')} tl JOIN {T('sta_locations')} l "
                f"ON l.id = tl.location_id WHERE tl.thing_id = th.id ORDER BY l.id LIMIT 1) "
                f"FROM {T('sta_alarms')} al JOIN {T('sta_datastreams')} d ON d.id = al.ds "
                f"JOIN {T('sta_things')} th ON th.id = d.thing_id WHERE {' AND '.join(conds)} "
                "ORDER BY al.first_t DESC, al.id DESC",
                params,
            )
        out = []
        for r in rows:
            props = c.dec(r[6]) if r[6] is not None else {}
            feat = props.get("cim:feature") if isinstance(props, dict) else None
            if feature is not None and feat != feature:
                continue
            loc = c.dec(r[15]) if r[15] is not None else None
            out.append(
                {
                    "id": r[0],
                    "datastream": {"id": r[1], "name": r[2], "unitOfMeasurement": c.dec(r[3])},
                    "thing": {"id": r[4], "name": r[5]},
                    "feature": feat,
                    "kind": r[7],
                    "severity": r[8],
                    "threshold": r[9],
                    "first": iso(r[10]),
                    "last": iso(r[11]),
                    "closed": iso(r[12]),
                    "peak": r[13],
                    "peak_time": iso(r[14]),
                    "active": r[12] is None,
                    "geometry": loc if isinstance(loc, dict) and "coordinates" in loc else None,
                }
            )
        return out


class _Writer:
    """One write transaction's inserts; observations are collected per datastream and loaded at ``flush``."""

    def __init__(self, sensors: Sensors, c: Conn) -> None:
        self.s, self.c = sensors, c
        self.pending: list[tuple[int, np.ndarray, list[Any], np.ndarray | None, np.ndarray | None, str]] = []
        self.obs_ids: list[int] = []

    def link(self, table: str, mine: str, theirs: str, a: int, b: int) -> None:
        c = self.c
        c.x(f"INSERT INTO {c.T(table)} ({mine}, {theirs}) VALUES (?, ?)", [a, b])
        thing, loc = (a, b) if mine == "thing_id" else (b, a)
        c.insert("sta_hlocations", ["thing_id", "time", "location_id"], [thing, now_ms(), loc])

    def value(self, es: EntitySet, f: Any, v: Any, fixed: dict[str, Any]) -> Any:
        """A JSON property's value as the column stores it (validated)."""
        c = self.c
        if f.kind == "text":
            if not isinstance(v, str):
                raise bad(f.name, f"{es.singular}.{f.name} is a string.")
            if f.name == "observationType" and v not in OBSERVATION_TYPES:
                raise bad(f.name, f"Unknown observationType {v!r}; e.g. {MEASUREMENT}.")
            return v
        if f.kind == "json":
            if f.name == "properties":
                if not isinstance(v, dict):
                    raise bad(f.name, f"{es.singular}.properties is an object.")
                if es.name == "Datastreams":
                    A.detectors(v)
            if f.name == "unitOfMeasurement" and not isinstance(v, dict):
                raise bad(f.name, "unitOfMeasurement is an object {name, symbol, definition}.")
            return c.json(v)
        if f.kind == "time":
            return parse_ms(v, f.name)
        if f.kind == "result":
            if isinstance(v, bool) or not isinstance(v, int | float):
                return (None, c.json(v))
            if not np.isfinite(v):
                raise bad("result", "result is a finite number.")
            return (float(v), None)
        raise AssertionError(f.kind)  # pragma: no cover

    def insert(self, es: EntitySet, body: Any, fixed: dict[str, Any], where: str) -> int:
        """Insert ``body`` (or resolve a reference ``{"@iot.id": n}``) and its nested entities; returns the id."""
        c = self.c
        here = where or es.singular
        if not isinstance(body, dict):
            raise bad(here, f"A {es.singular} is a JSON object.")
        if "@iot.id" in body:
            ref = body["@iot.id"]
            if not where:
                raise bad("@iot.id", "The service assigns ids; leave @iot.id out of a new entity.")
            if not isinstance(ref, int) or isinstance(ref, bool):
                raise bad(here, "@iot.id is a number.")
            self.s._must_exist(c, es, ref)
            return ref
        for k in body:
            if k.startswith("@iot.") or k.endswith("@iot.navigationLink") or k in _SERVER_MADE.get(es.name, ()):
                continue
            if es.field(k) is None and es.nav(k) is None:
                raise bad(f"{here}.{k}", f"{es.name} have no property {k!r}.")
        if es.name == "HistoricalLocations":
            raise bad(here, "HistoricalLocations are made by the service.")
        if es.name == "Observations":
            ds = fixed.get("ds")
            if ds is None:
                dsb = body.get("Datastream")
                if dsb is None:
                    raise bad(f"{here}.Datastream", 'An Observation needs its Datastream: {"@iot.id": n}.')
                ds = self.insert(SETS["Datastreams"], dsb, {}, f"{here}.Datastream")
            else:
                self.s._must_exist(c, SETS["Datastreams"], ds)
            if "result" not in body:
                raise bad(f"{here}.result", "An Observation needs a result.")
            t = np.array([parse_ms(body["phenomenonTime"], "phenomenonTime") if "phenomenonTime" in body else now_ms()])
            rt = np.array([parse_ms(body["resultTime"], "resultTime")]) if body.get("resultTime") else None
            foi = None
            if body.get("FeatureOfInterest") is not None:
                foi = np.array(
                    [
                        self.insert(
                            SETS["FeaturesOfInterest"], body["FeatureOfInterest"], {}, f"{here}.FeatureOfInterest"
                        )
                    ]
                )
            self.add_obs(ds, t, [body["result"]], rt, foi, f"{here}.result")
            return -1
        cols: dict[str, Any] = {}
        for f in es.fields:
            if f.name in body:
                cols[f.col] = self.value(es, f, body[f.name], fixed)
            elif f.required:
                raise bad(f"{here}.{f.name}", f"A {es.singular} needs {f.name}.")
        for nav in es.navs:
            if nav.kind == "fwd" and nav.col in fixed:
                continue
            if nav.kind == "fwd":
                if nav.name in body:
                    cols[nav.col] = self.insert(entity_set(nav.target), body[nav.name], {}, f"{here}.{nav.name}")
                else:
                    raise bad(f"{here}.{nav.name}", f"A {es.singular} needs its {nav.name}.")
        cols.update(fixed)
        eid = c.insert(es.table, list(cols), list(cols.values()))
        for nav in es.navs:
            if nav.kind == "fwd" or nav.name not in body:
                continue
            kids = body[nav.name]
            if not isinstance(kids, list):
                raise bad(f"{here}.{nav.name}", f"{nav.name} is a list.")
            target = entity_set(nav.target)
            for i, kid in enumerate(kids):
                kw = f"{here}.{nav.name}[{i}]"
                if nav.kind == "rev":
                    if isinstance(kid, dict) and "@iot.id" in kid:
                        raise bad(kw, f"Link an existing {target.singular} by PATCHing it.")
                    self.insert(target, kid, {nav.col: eid}, kw)
                else:
                    table, mine, theirs = nav.link  # type: ignore[misc]
                    self.link(table, mine, theirs, eid, self.insert(target, kid, {}, kw))
        return eid

    def add_obs(
        self, ds: Any, t: np.ndarray, results: list[Any], rt: np.ndarray | None, foi: np.ndarray | None, where: str
    ) -> None:
        if not isinstance(ds, int) or isinstance(ds, bool):
            raise bad(where, "Datastream id is a number.")
        self.s._must_exist(self.c, SETS["Datastreams"], ds)
        self.pending.append((ds, t, results, rt, foi, where))

    def flush(self) -> None:
        """Load the collected observations: ids in request order, results checked against each Datastream's
        observationType, alarms updated.  One id block for the whole request."""
        if not self.pending:
            return
        c = self.c
        c.lock_obs()
        last_block = c.q(f"SELECT last_id FROM {c.T('sta_obs_blocks')} ORDER BY id DESC LIMIT 1")
        nxt = int(last_block[0][0]) + 1 if last_block else 1
        ids_all: list[np.ndarray] = []
        for ds, t, results, rt, foi, where in self.pending:
            n = len(t)
            otype, props = c.q(f"SELECT observation_type, properties FROM {c.T('sta_datastreams')} WHERE id = ?", [ds])[
                0
            ]
            arr = np.asarray(results) if len(results) else np.zeros(0)
            rj = None
            if arr.dtype.kind in "iuf":
                num = arr.astype(np.float64)
                if not np.isfinite(num).all():
                    raise bad(where, "results are finite numbers.")
            else:
                if otype in NUMERIC_TYPES:
                    k = next(i for i, v in enumerate(results) if isinstance(v, bool) or not isinstance(v, int | float))
                    raise bad(
                        where,
                        f"result {results[k]!r} (row {k}) is not a number; the Datastream's observationType is numeric",
                    )
                num = np.array(
                    [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan for v in results]
                )
                rj = np.array(
                    [None if not np.isnan(x) else c.json(v) for x, v in zip(num, results, strict=True)], dtype=object
                )
            ids = np.arange(nxt, nxt + n, dtype=np.int64)
            nxt += n
            ids_all.append(ids)
            if n:
                c.insert_row(
                    "sta_obs_blocks",
                    ["id", "last_id", "ds", "min_t", "max_t"],
                    [nxt - n, nxt - 1, ds, int(t.min()), int(t.max())],
                )
            last = c.q(f"SELECT t, result FROM {c.T('sta_obs')} WHERE ds = ? ORDER BY t DESC, id DESC LIMIT 1", [ds])
            c.load_obs(
                {"id": ids, "ds": np.full(n, ds, dtype=np.int64), "t": t, "result": num, "rj": rj, "rt": rt, "foi": foi}
            )
            dets = A.detectors(c.dec(props) if props is not None else None)
            if not dets or n == 0:
                continue
            if not last or int(t.min()) > last[0][0]:  # appended after the newest: continue from there
                order = np.argsort(t, kind="stable")
                prev = (last[0][0], last[0][1]) if last and last[0][1] is not None else None
                self._alarms(ds, dets, t[order], num[order], prev)
            else:
                self.recompute(ds, dets)
        self.obs_ids = np.concatenate(ids_all).tolist() if ids_all else []
        self.pending = []

    def recompute(self, ds: int, dets: list[A.Detector] | None = None) -> None:
        """Recompute a datastream's alarms from all its observations (after out-of-order writes, deletes,
        changed thresholds)."""
        c = self.c
        if dets is None:
            props = c.q(f"SELECT properties FROM {c.T('sta_datastreams')} WHERE id = ?", [ds])[0][0]
            dets = A.detectors(c.dec(props) if props is not None else None)
        c.x(f"DELETE FROM {c.T('sta_alarms')} WHERE ds = ?", [ds])
        if not dets:
            return
        t, v = _series(c, ds, None, None)
        self._alarms(ds, dets, t, v, None)

    def _alarms(self, ds: int, dets: list[A.Detector], t: np.ndarray, v: np.ndarray, prev: Any) -> None:
        c = self.c
        opened = {
            (r[1], r[2]): {"id": r[0], "first_t": r[3], "last_t": r[4], "peak": r[5], "peak_t": r[6]}
            for r in c.q(
                f"SELECT id, rule, kind, first_t, last_t, peak, peak_t FROM {c.T('sta_alarms')} "
                "WHERE ds = ? AND closed_t IS NULL",
                [ds],
            )
        }
        for d in dets:
            old = opened.get((d.rule, d.kind))
            found, continues = A.detect(d, t, v, prev, old)
            for k, a in enumerate(found):
                vals = [a["first_t"], a["last_t"], a["closed_t"], a["peak"], a["peak_t"]]
                if k == 0 and continues and old is not None:
                    c.x(
                        f"UPDATE {c.T('sta_alarms')} SET first_t = ?, last_t = ?, closed_t = ?, peak = ?, peak_t = ? "
                        "WHERE id = ?",
                        [*vals, old["id"]],
                    )
                else:
                    c.insert(
                        "sta_alarms",
                        [
                            "ds",
                            "rule",
                            "kind",
                            "severity",
                            "threshold",
                            "first_t",
                            "last_t",
                            "closed_t",
                            "peak",
                            "peak_t",
                        ],
                        [ds, d.rule, d.kind, d.severity, d.threshold, *vals],
                    )


def _series(c: Conn, ds: int, start: int | None, end: int | None) -> tuple[np.ndarray, np.ndarray]:
    cond, params = "ds = ?", [ds]
    if start is not None:
        cond += " AND t >= ?"
        params.append(start)
    if end is not None:
        cond += " AND t < ?"
        params.append(end)
    rows = c.q(f"SELECT t, result FROM {c.T('sta_obs')} WHERE {cond} ORDER BY t, id", params)
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    a = np.array(rows, dtype=np.float64)  # ms since 1970 are exact in float64 (< 2**53); None -> NaN
    return a[:, 0].astype(np.int64), a[:, 1]
