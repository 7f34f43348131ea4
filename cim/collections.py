"""The feature collections: their types, geometry and bounds.

One :class:`CollectionSpec` per collection says how a feature of that type becomes a GeoJSON
geometry (city CRS), a 2-D shapely geometry (for exact spatial tests) and a 3-D bounding box of
its solid (for the store's index).  Stores, encoders and the HTTP layer iterate over
``COLLECTIONS`` rather than naming types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pydantic import BaseModel

from .encoded import Encoded
from .errors import UnknownCollection
from .layers import Community, Facility, Street
from .model import Building, PipeNode, PipeSegment, UndergroundStructure
from .typed import Bounds3
from .water.district import WaterDistrict

# A geometry in city coordinates: (GeoJSON type, parts).  Point: [(1, d)]; LineString: [(n, d)];
# Polygon: [ring (n, 2), ...].  d is 2 or 3.
Geometry = tuple[str, list[np.ndarray]]


def _polygon(rings: list[list[tuple[float, float]]]) -> Geometry:
    return "Polygon", [np.asarray(r + [r[0]], dtype=float) for r in rings]


def _building_geometry(b: Building) -> Geometry:
    return _polygon(b.footprint)


def _building_bounds(b: Building) -> Bounds3:
    xy = b.exterior()
    lo, hi = sorted((b.ground_elevation, b.roof_elevation))  # type: ignore[type-var]  # set by the validator
    return (*xy.min(axis=0), lo, *xy.max(axis=0), hi)  # type: ignore[return-value]


def _pipe_geometry(p: PipeSegment) -> Geometry:
    return "LineString", [p.coords()]


def _pipe_bounds(p: PipeSegment) -> Bounds3:
    c = p.coords()
    half_w = (p.diameter or p.width or 0.0) / 2
    half_h = p.outer_height / 2
    lo, hi = c.min(axis=0), c.max(axis=0)
    return (lo[0] - half_w, lo[1] - half_w, lo[2] - half_h, hi[0] + half_w, hi[1] + half_w, hi[2] + half_h)


def _node_geometry(n: PipeNode) -> Geometry:
    return "Point", [np.asarray([n.position], dtype=float)]


def _node_bounds(n: PipeNode) -> Bounds3:
    x, y, z = n.position
    r = (n.diameter or 0.0) / 2
    return (x - r, y - r, z - (n.depth or 0.0), x + r, y + r, z)


def _structure_geometry(s: UndergroundStructure) -> Geometry:
    if s.footprint is not None:
        return _polygon(s.footprint)
    return "LineString", [np.asarray(s.centreline, dtype=float)]


def _structure_bounds(s: UndergroundStructure) -> Bounds3:
    if s.footprint is not None:
        xy = np.asarray(s.footprint[0], dtype=float)
        return (*xy.min(axis=0), s.bottom_elevation, *xy.max(axis=0), s.top_elevation)  # type: ignore[return-value]
    c = np.asarray(s.centreline, dtype=float)
    half_w = (s.width or 0.0) / 2
    half_h = (s.section_height if s.section == "box" else s.width) / 2  # type: ignore[operator]
    lo, hi = c.min(axis=0), c.max(axis=0)
    return (lo[0] - half_w, lo[1] - half_w, lo[2] - half_h, hi[0] + half_w, hi[1] + half_w, hi[2] + half_h)


def _district_geometry(d: WaterDistrict) -> Geometry:
    return _polygon(d.area)


def _district_bounds(d: WaterDistrict) -> Bounds3:
    xy = np.asarray(d.area[0], dtype=float)
    return (*xy.min(axis=0), 0.0, *xy.max(axis=0), 0.0)  # type: ignore[return-value]


def _street_geometry(s: Street) -> Geometry:
    return "LineString", [s.coords()]


def _flat_bounds(f: Any) -> Bounds3:
    gtype, parts = get_spec(collection_of(f)).geometry(f)
    xy = parts[0][:, :2]
    return (*xy.min(axis=0), 0.0, *xy.max(axis=0), 0.0)  # type: ignore[return-value]


def _facility_geometry(f: Facility) -> Geometry:
    if f.footprint is not None:
        return _polygon(f.footprint)
    return "Point", [np.asarray([f.position], dtype=float)]


def _community_geometry(c: Community) -> Geometry:
    return _polygon(c.footprint)


def best_lod(lods: list[Any] | None, surfaces: list[Any] | None) -> float:
    """The highest level of detail a building carries (1 for a plain prism), from its ``lods`` (each with a
    ``lod``: models or their JSON documents) and ``surfaces``."""
    if lods:
        return max(float(g["lod"] if isinstance(g, dict) else g.lod) for g in lods)
    return 2.0 if surfaces else 1.0


def _best_lod(b: Building) -> float:
    return best_lod(b.lods, b.surfaces)


@dataclass(frozen=True)
class CollectionSpec:
    """What the library knows about one collection."""

    id: str
    title: str
    description: str
    model: type[BaseModel]
    geometry_type: str  # GeoJSON type(s) for documentation, e.g. "Polygon" or "LineString Z"
    geometry: Callable[[Any], Geometry]
    bounds: Callable[[Any], Bounds3]
    geometry_fields: frozenset[str]
    hidden_fields: frozenset[str] = frozenset()

    def properties(self, feature: BaseModel) -> dict[str, Any]:
        """GeoJSON properties: every model field but the id and geometry, JSON-ready."""
        props = feature.model_dump(mode="json", exclude=set(self.geometry_fields | self.hidden_fields | {"id"}))
        if self.id == "buildings":
            props["lod"] = _best_lod(feature)  # type: ignore[arg-type]  # buildings hold Building models
        return props

    def shape(self, feature: BaseModel) -> shapely.Geometry:
        """The feature's geometry projected on the plane, as shapely (city CRS)."""
        gtype, parts = self.geometry(feature)
        if gtype == "Polygon":
            return shapely.Polygon(parts[0][:, :2], [p[:, :2] for p in parts[1:]])
        if gtype == "LineString":
            return shapely.LineString(parts[0][:, :2])
        return shapely.Point(parts[0][0, :2])


COLLECTIONS: dict[str, CollectionSpec] = {
    spec.id: spec
    for spec in (
        CollectionSpec(
            "buildings",
            "Buildings",
            "Building footprints (EPSG city CRS) with ground and roof elevations in metres, use, "
            "year built, floors and structure; LOD2 surfaces where available.",
            Building,
            "Polygon",
            _building_geometry,
            _building_bounds,
            frozenset({"footprint"}),
            frozenset({"surfaces", "lods"}),
        ),
        CollectionSpec(
            "pipes",
            "Pipe segments",
            "Underground pipe segments of the eight utility types as 3-D centrelines (z = axis "
            "elevation, metres) with diameters or box sections.",
            PipeSegment,
            "LineString Z",
            _pipe_geometry,
            _pipe_bounds,
            frozenset({"centreline"}),
        ),
        CollectionSpec(
            "pipe-nodes",
            "Pipe nodes",
            "Manholes, valves and junctions (z = cover elevation, metres; depth below cover).",
            PipeNode,
            "Point Z",
            _node_geometry,
            _node_bounds,
            frozenset({"position"}),
        ),
        CollectionSpec(
            "underground-structures",
            "Underground structures",
            "Basements and civil-defence spaces (footprints between bottom and top elevation), "
            "tunnels and utility tunnels (3-D centrelines with sections and compartments).",
            UndergroundStructure,
            "Polygon or LineString Z",
            _structure_geometry,
            _structure_bounds,
            frozenset({"footprint", "centreline"}),
        ),
        CollectionSpec(
            "water-districts",
            "Water districts",
            "District metered areas (计量分区) of the water network: polygons with the datastream ids of "
            "their inlet and outlet flow meters (water balance, minimum night flow).",
            WaterDistrict,
            "Polygon",
            _district_geometry,
            _district_bounds,
            frozenset({"area"}),
        ),
        # city-service layers (cim.layers): 2-D, their boxes flat at z = 0
        CollectionSpec(
            "streets",
            "Streets",
            "Street centrelines with class, name and whether they are walkable and drivable.",
            Street,
            "LineString",
            _street_geometry,
            _flat_bounds,
            frozenset({"centreline"}),
        ),
        CollectionSpec(
            "facilities",
            "Facilities",
            "Public-service facilities (kindergartens, clinics, shelters ...) as points or site polygons, "
            "with floor and site areas (m²), capacity and, for shelters, class and effective area.",
            Facility,
            "Point or Polygon",
            _facility_geometry,
            _flat_bounds,
            frozenset({"position", "footprint"}),
        ),
        CollectionSpec(
            "communities",
            "Communities",
            "Communities (社区) and residential quarters (居住街坊) with their population.",
            Community,
            "Polygon",
            _community_geometry,
            _flat_bounds,
            frozenset({"footprint"}),
        ),
    )
}

MODEL_COLLECTION: dict[type[BaseModel], str] = {spec.model: cid for cid, spec in COLLECTIONS.items()}


def get_spec(collection: str) -> CollectionSpec:
    """The collection's spec, or UnknownCollection naming the known ones."""
    try:
        return COLLECTIONS[collection]
    except KeyError:
        raise UnknownCollection(collection, list(COLLECTIONS)) from None


def collection_of(feature: BaseModel) -> str:
    """The id of the collection a feature model (or :class:`cim.encoded.Encoded`) belongs to (KeyError for others)."""
    if isinstance(feature, Encoded):
        return feature.collection
    return MODEL_COLLECTION[type(feature)]
