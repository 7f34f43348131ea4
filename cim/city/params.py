"""Coordinates in, as notebook users give them (the :class:`~cim.city.CityModel` convention): regions as
shapely geometries, GeoJSON, ``__geo_interface__`` objects or bboxes, always in **x, y order** (longitude,
latitude or easting, northing) whatever the CRS's official axis order; parsed once here for the local and the
remote city.  (The HTTP convention, official axis order, is :mod:`cim.analysis.params`'.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from pydantic import BaseModel

from ..analysis.highrise import Proposal
from ..analysis.regions import region_polygon
from ..crs import CRS84, _northing_first, check_supported, to_city_xy
from ..errors import InvalidParameter
from ..query.bbox import parse_bbox


# -- coordinates in, as users give them -------------------------------------------------------------------------
def _uri(crs: str | None, epsg: int, parameter: str) -> str:
    return check_supported(crs, epsg, parameter)


def official_order(xy: np.ndarray, uri: str) -> np.ndarray:
    """(n, 2) x, y (lon/lat, easting/northing) -> the CRS's official axis order (what the HTTP API reads)."""
    xy = np.asarray(xy, dtype=float)
    return xy[..., ::-1] if uri != CRS84 and _northing_first(uri) else xy


def _geojson(region: Any) -> dict[str, Any]:
    """A region as GeoJSON (Polygon or MultiPolygon), x/y order: shapely, __geo_interface__, mapping or bbox."""
    if (
        isinstance(region, Sequence)
        and not isinstance(region, str)
        and len(region) == 4
        and all(isinstance(v, int | float) for v in region)
    ):
        return shapely.geometry.mapping(shapely.box(*map(float, region)))
    if isinstance(region, shapely.Geometry):
        return shapely.geometry.mapping(region)
    if hasattr(region, "__geo_interface__"):
        region = region.__geo_interface__
    if isinstance(region, Mapping):
        if region.get("type") == "Feature":
            region = region.get("geometry") or {}
        return dict(region)
    raise InvalidParameter(
        "region",
        "region must be a shapely polygon, a GeoJSON Polygon or MultiPolygon, "
        f"or a bbox (minx, miny, maxx, maxy); got {type(region).__name__}.",
    )


def _flip_coords(coords: Any, flip: bool) -> Any:
    if not flip:
        return coords
    if isinstance(coords, list | tuple) and coords and isinstance(coords[0], int | float):
        return [coords[1], coords[0], *coords[2:]]
    return [_flip_coords(c, flip) for c in coords]


def city_polygon(region: Any, crs: str | None, epsg: int, *, parameter: str = "region") -> shapely.Geometry:
    """A region given in ``crs`` (x, y order; default CRS84) as a checked polygon in the city CRS, metres
    (:func:`cim.analysis.regions.region_polygon`, as the HTTP API does it)."""
    uri = _uri(crs, epsg, "crs")
    geo = _geojson(region)
    flip = uri != CRS84 and _northing_first(uri)
    geo = {"type": geo.get("type"), "coordinates": _flip_coords(geo.get("coordinates"), flip)}
    return region_polygon(geo, uri, epsg, parameter=parameter)


def bbox_values(bbox: Sequence[float] | str, bbox_crs: str | None, epsg: int) -> tuple[list[float], str]:
    """A bbox given x, y first (4 or 6 numbers) -> (numbers in ``bbox_crs``'s official axis order, its URI)."""
    uri = _uri(bbox_crs, epsg, "bbox-crs")
    values = parse_bbox(bbox if isinstance(bbox, str) else [float(v) for v in bbox])
    half = len(values) // 2
    if uri != CRS84 and _northing_first(uri):
        values = [values[1], values[0], *values[2:half], values[half + 1], values[half], *values[half + 2 :]]
    return values, uri


def city_xy(xy: Any, crs: str | None, epsg: int, parameter: str = "crs") -> np.ndarray:
    """(n, 2) positions in ``crs`` (x, y order) -> city easting, northing."""
    uri = _uri(crs, epsg, parameter)
    return to_city_xy(official_order(np.asarray(xy, dtype=float).reshape(-1, 2), uri), uri, epsg)


def _rings_xy(footprint: Any, parameter: str) -> list[np.ndarray]:
    """A footprint (shapely polygon, GeoJSON Polygon, or a list of rings) as (n, 2) rings, x/y order."""
    if (
        isinstance(footprint, shapely.Geometry)
        or hasattr(footprint, "__geo_interface__")
        or isinstance(footprint, Mapping)
    ):
        geo = _geojson(footprint)
        if geo.get("type") != "Polygon":
            raise InvalidParameter(parameter, f"{parameter} must be a Polygon, got {geo.get('type')!r}.")
        footprint = geo.get("coordinates")
    try:
        rings = [np.asarray(r, dtype=float)[:, :2] for r in footprint]
    except (TypeError, ValueError, IndexError):
        raise InvalidParameter(parameter, f"{parameter} must be a polygon: rings of [x, y] positions.") from None
    return rings


def proposal_payload(p: Mapping[str, Any] | Proposal, i: int) -> dict[str, Any]:
    """A proposal as the HTTP API's ``ProposalIn`` fields, footprint rings as x/y arrays (not yet moved)."""
    d = p.model_dump() if isinstance(p, BaseModel) else dict(p)
    attrs = d.pop("attributes", None) or {}
    if "kind" not in d and isinstance(attrs.get("kind"), str):
        d["kind"] = attrs["kind"]
    d["footprint"] = _rings_xy(d.get("footprint"), f"proposals.{i}.footprint")
    return {k: v for k, v in d.items() if v is not None}
