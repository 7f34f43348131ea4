"""The SensorThings API 1.1 Sensing entities: their fields, tables and navigation links."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    """One JSON property of an entity: its column and kind ("text", "json", "time", "result")."""

    name: str
    col: str
    kind: str = "text"
    required: bool = False


@dataclass(frozen=True)
class Nav:
    """A navigation property.  ``fwd``: own column ``col`` holds the target's id; ``rev``: the target's column
    ``col`` holds our id; ``m2m``: link table ``link`` (table, our column, target column)."""

    name: str
    target: str
    kind: str
    col: str = ""
    link: tuple[str, str, str] | None = None

    @property
    def many(self) -> bool:
        return self.kind != "fwd" or self.name == "Locations"


@dataclass(frozen=True)
class EntitySet:
    """One SensorThings entity set: its names, table, fields and navigation properties."""

    name: str  # "Things"
    singular: str  # "Thing"
    table: str
    fields: tuple[Field, ...]
    navs: tuple[Nav, ...] = field(default_factory=tuple)

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def nav(self, name: str) -> Nav | None:
        for n in self.navs:
            if n.name == name:
                return n
        return None


def _common(*extra: Field) -> tuple[Field, ...]:
    return (Field("name", "name", required=True), Field("description", "description", required=True), *extra)


SETS: dict[str, EntitySet] = {
    s.name: s
    for s in [
        EntitySet(
            "Things",
            "Thing",
            "sta_things",
            _common(Field("properties", "properties", "json")),
            (
                Nav("Locations", "Locations", "m2m", link=("sta_thing_locations", "thing_id", "location_id")),
                Nav("HistoricalLocations", "HistoricalLocations", "rev", "thing_id"),
                Nav("Datastreams", "Datastreams", "rev", "thing_id"),
            ),
        ),
        EntitySet(
            "Locations",
            "Location",
            "sta_locations",
            _common(
                Field("encodingType", "encoding_type", required=True),
                Field("location", "location", "json", required=True),
                Field("properties", "properties", "json"),
            ),
            (
                Nav("Things", "Things", "m2m", link=("sta_thing_locations", "location_id", "thing_id")),
                Nav("HistoricalLocations", "HistoricalLocations", "rev", "location_id"),
            ),
        ),
        EntitySet(
            "HistoricalLocations",
            "HistoricalLocation",
            "sta_hlocations",
            (Field("time", "time", "time", required=True),),
            (Nav("Thing", "Things", "fwd", "thing_id"), Nav("Locations", "Locations", "fwd", "location_id")),
        ),
        EntitySet(
            "Sensors",
            "Sensor",
            "sta_sensors",
            _common(
                Field("encodingType", "encoding_type", required=True),
                Field("metadata", "metadata", "json", required=True),
                Field("properties", "properties", "json"),
            ),
            (Nav("Datastreams", "Datastreams", "rev", "sensor_id"),),
        ),
        EntitySet(
            "ObservedProperties",
            "ObservedProperty",
            "sta_obsprops",
            (
                Field("name", "name", required=True),
                Field("definition", "definition", required=True),
                Field("description", "description", required=True),
                Field("properties", "properties", "json"),
            ),
            (Nav("Datastreams", "Datastreams", "rev", "obsprop_id"),),
        ),
        EntitySet(
            "Datastreams",
            "Datastream",
            "sta_datastreams",
            _common(
                Field("observationType", "observation_type", required=True),
                Field("unitOfMeasurement", "unit", "json", required=True),
                Field("properties", "properties", "json"),
            ),
            (
                Nav("Thing", "Things", "fwd", "thing_id"),
                Nav("Sensor", "Sensors", "fwd", "sensor_id"),
                Nav("ObservedProperty", "ObservedProperties", "fwd", "obsprop_id"),
                Nav("Observations", "Observations", "rev", "ds"),
            ),
        ),
        EntitySet(
            "Observations",
            "Observation",
            "sta_obs",
            (
                Field("phenomenonTime", "t", "time"),
                Field("resultTime", "rt", "time"),
                Field("result", "result", "result", required=True),
            ),
            (
                Nav("Datastream", "Datastreams", "fwd", "ds"),
                Nav("FeatureOfInterest", "FeaturesOfInterest", "fwd", "foi"),
            ),
        ),
        EntitySet(
            "FeaturesOfInterest",
            "FeatureOfInterest",
            "sta_fois",
            _common(
                Field("encodingType", "encoding_type", required=True),
                Field("feature", "feature", "json", required=True),
                Field("properties", "properties", "json"),
            ),
            (Nav("Observations", "Observations", "rev", "foi"),),
        ),
    ]
}

#: observation types whose result must be a number (stored in the numeric column)
NUMERIC_TYPES = {
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation",
}
OBSERVATION_TYPES = NUMERIC_TYPES | {
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation",
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_TruthObservation",
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CategoryObservation",
}
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def entity_set(name: str) -> EntitySet:
    """The entity set called ``name`` ("Things", ...); a 400 naming the path otherwise."""
    from .errors import bad

    s = SETS.get(name)
    if s is None:
        raise bad("path", f"No entity set {name!r}; the sets are {', '.join(SETS)}.")
    return s
