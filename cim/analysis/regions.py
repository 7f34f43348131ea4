"""Analysis regions: a GeoJSON polygon in a client's CRS -> a checked polygon in the city CRS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely

from ..crs import check_supported, epsg_uri, to_city_xy
from ..errors import InvalidParameter

_DENSIFY = 32  # vertices per edge when a polygon is transformed between CRSs (sub-millimetre at district scale)


def _rings(coords: Any, parameter: str) -> list[np.ndarray]:
    if not isinstance(coords, list | tuple) or not coords:
        raise InvalidParameter(parameter, f"{parameter} has no coordinates: a Polygon needs at least one ring.")
    rings = []
    for k, ring in enumerate(coords):
        try:
            arr = np.asarray(ring, dtype=float)
        except (TypeError, ValueError):
            raise InvalidParameter(parameter, f"{parameter} ring {k} is not a list of positions.") from None
        if arr.ndim != 2 or arr.shape[1] not in (2, 3):
            raise InvalidParameter(parameter, f"{parameter} ring {k} must be a list of [x, y] or [x, y, z] positions.")
        if not np.isfinite(arr).all() or np.abs(arr).max(initial=0.0) > 1e8:
            raise InvalidParameter(parameter, f"{parameter} ring {k} has non-finite or out-of-range coordinates.")
        arr = arr[:, :2]
        if len(arr) and not np.array_equal(arr[0], arr[-1]):
            arr = np.vstack([arr, arr[:1]])
        if len(arr) < 4:
            raise InvalidParameter(
                parameter, f"{parameter} ring {k} needs at least 3 distinct positions (4 with the closing one)."
            )
        rings.append(arr)
    return rings


def region_polygon(
    geometry: Mapping[str, Any],
    crs: str | None,
    city_epsg: int,
    *,
    parameter: str = "region",
    crs_parameter: str = "crs",
    max_area_km2: float | None = None,
) -> shapely.Geometry:
    """A GeoJSON ``Polygon`` or ``MultiPolygon`` given in ``crs`` (a URI; default CRS84, lon/lat; other CRSs
    in their official axis order) as a valid polygon in the city CRS, metres.

    Raises InvalidParameter naming ``parameter`` when the geometry is malformed, empty, not valid (e.g.
    self-intersecting: the reason and where are given) or larger than ``max_area_km2``; UnsupportedCRS
    naming ``crs_parameter`` for a CRS the service does not offer.
    """
    uri = check_supported(crs, city_epsg, crs_parameter)
    if not isinstance(geometry, Mapping):
        raise InvalidParameter(parameter, f"{parameter} must be a GeoJSON Polygon or MultiPolygon object.")
    gtype = geometry.get("type")
    coords = geometry.get("coordinates")
    if gtype == "Polygon":
        polys = [_rings(coords, parameter)]
    elif gtype == "MultiPolygon":
        if not isinstance(coords, list | tuple) or not coords:
            raise InvalidParameter(parameter, f"{parameter} has no polygons.")
        polys = [_rings(p, parameter) for p in coords]
    else:
        raise InvalidParameter(parameter, f"{parameter} must be a GeoJSON Polygon or MultiPolygon, got {gtype!r}.")
    src = (
        shapely.MultiPolygon([shapely.Polygon(p[0], p[1:]) for p in polys])
        if gtype == "MultiPolygon"
        else shapely.Polygon(polys[0][0], polys[0][1:])
    )
    if not shapely.is_valid(src):
        raise InvalidParameter(
            parameter,
            f"{parameter} is not a valid polygon ({shapely.is_valid_reason(src)}, "
            "in the request's coordinates): rings must not cross themselves or "
            "each other, and holes must lie inside the exterior.",
        )
    if src.area == 0:
        raise InvalidParameter(parameter, f"{parameter} is empty (zero area).")
    if uri != epsg_uri(city_epsg):
        x0, y0, x1, y1 = src.bounds
        src = shapely.segmentize(src, max(x1 - x0, y1 - y0) / _DENSIFY)
    poly = shapely.transform(src, lambda xy: to_city_xy(xy, uri, city_epsg))
    if not np.isfinite(shapely.get_coordinates(poly)).all():
        raise InvalidParameter(
            parameter, f"{parameter} lies outside the area where {crs or 'CRS84'} can be transformed to the city's CRS."
        )
    if not poly.is_valid:  # a valid polygon that a projection bends into an invalid one (rare)
        poly = shapely.make_valid(poly)
    check_area(poly, max_area_km2, parameter)
    return poly


def check_area(polygon: shapely.Geometry, max_area_km2: float | None, parameter: str = "region") -> None:
    """InvalidParameter when a city-CRS polygon is empty or larger than ``max_area_km2``."""
    if polygon.is_empty or polygon.area <= 0:
        raise InvalidParameter(parameter, f"{parameter} is empty (zero area).")
    if max_area_km2 is not None and polygon.area / 1e6 > max_area_km2:
        raise InvalidParameter(
            parameter,
            f"{parameter} covers {polygon.area / 1e6:.3f} km², more than the "
            f"{max_area_km2:g} km² analysed at once; split it into smaller regions.",
        )
