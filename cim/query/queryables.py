"""Queryables: the properties of each collection that filters and sorting may name, with types and units.

Derived from the pydantic feature models, so a new field is queryable without further code.  Only
scalar fields (numbers, integers, strings, enums, booleans) are queryable; ``geometry`` stands for the
feature's 2-D geometry in spatial predicates.

Every collection also has ``alarm``, derived from the sensors watching a feature (:mod:`cim.sensors`): the
highest severity (info < warning < alarm < critical) among the active (not closed) alarms of the
Datastreams of the Things whose properties name the feature (``"cim:feature": "collection/fid"``), NULL when
it has none (or the store has no sensor tables).  ``alarm IS NOT NULL``: features with an active alarm;
``alarm = 'critical'``; ``alarm IN ('alarm', 'critical')``.  Sorting by it follows severity, not spelling.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from ..collections import CollectionSpec, get_spec


@dataclass(frozen=True)
class Queryable:
    """A property that filters and sorting may use: its name, JSON type and description."""

    name: str
    type: Literal["number", "integer", "string", "boolean"]
    description: str = ""
    enum: tuple[str, ...] | None = None
    unit: str | None = None
    derived: bool = False  # computed from other tables (``alarm``), not a field of the feature's document

    @property
    def temporal(self) -> bool:
        """Year fields also compare with dates: year Y stands for 1 January of Y."""
        return self.type == "integer" and self.name in ("year_built", "year")


def _scalar(tp: Any) -> tuple[str, tuple[str, ...] | None] | None:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _scalar(args[0]) if len(args) == 1 else None
    if origin is typing.Annotated:
        return _scalar(typing.get_args(tp)[0])
    if origin is Literal:
        vals = typing.get_args(tp)
        return ("string", tuple(str(v) for v in vals)) if all(isinstance(v, str) for v in vals) else None
    if isinstance(tp, type):
        if issubclass(tp, bool):
            return "boolean", None
        if issubclass(tp, enum.Enum):
            return "string", tuple(str(m.value) for m in tp)
        if issubclass(tp, int):
            return "integer", None
        if issubclass(tp, float):
            return "number", None
        if issubclass(tp, str):
            return "string", None
    return None


#: the severities of sensor alarms, lowest first (cim.sensors.alarms.SEVERITIES)
ALARM_SEVERITIES = ("info", "warning", "alarm", "critical")
ALARM = Queryable(
    "alarm",
    "string",
    "Sensor alarm state: the highest severity among the active alarms of the sensors watching the feature "
    "(SensorThings Things with properties.cim:feature = 'collection/id'); null when none is active.",
    ALARM_SEVERITIES,
    derived=True,
)


@lru_cache(maxsize=16)
def queryables(collection: str) -> dict[str, Queryable]:
    """name -> Queryable for a collection (UnknownCollection for a bad name): the model's scalar fields, then
    the derived ``alarm``."""
    spec: CollectionSpec = get_spec(collection)
    out: dict[str, Queryable] = {}
    for name, field in spec.model.model_fields.items():
        if name in spec.geometry_fields or name in spec.hidden_fields:
            continue
        kind = _scalar(field.annotation)
        if kind is None:
            continue
        desc = field.description or ""
        unit = "m" if "metres" in desc else ("kV" if "kV" in desc else None)
        out[name] = Queryable(name, kind[0], desc, kind[1], unit)  # type: ignore[arg-type]
    if "alarm" not in out:
        out["alarm"] = ALARM
    return out


def json_schema(collection: str, base_url: str) -> dict[str, Any]:
    """The ``/collections/{cid}/queryables`` document (JSON Schema 2020-12, OGC API - Features Part 3)."""
    spec = get_spec(collection)
    props: dict[str, Any] = {
        "geometry": {
            "title": "geometry",
            "description": f"The feature's geometry ({spec.geometry_type}), "
            "for spatial predicates (S_INTERSECTS, S_WITHIN, S_DWITHIN, ...); literals in filter-crs.",
            "format": "geometry-any",
            "x-ogc-role": "primary-geometry",
        },
    }
    for q in queryables(collection).values():
        p: dict[str, Any] = {"title": q.name, "type": q.type}
        if q.description:
            p["description"] = q.description
        if q.enum:
            p["enum"] = list(q.enum)
        if q.unit:
            p["x-ogc-unit"] = q.unit
        if q.temporal:
            p["description"] = (
                p.get("description", "") + " Compares with DATE/TIMESTAMP literals as 1 January of the year."
            ).strip()
        props[q.name] = p
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url}/collections/{collection}/queryables",
        "type": "object",
        "title": spec.title,
        "properties": props,
        "additionalProperties": False,
        # the same list in the shape of the Part 3 drafts, which GDAL 3.6 and older read
        "queryables": [{"id": k, "type": v.get("type", "geometry")} for k, v in props.items()],
    }
