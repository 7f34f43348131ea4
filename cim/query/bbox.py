"""Bounding boxes as given by clients (OGC API ``bbox`` and ``bbox-crs``) -> store regions."""

from __future__ import annotations

import math

import numpy as np
import shapely

from ..crs import CRS84, CRS84H, pyproj_crs, to_city_xy
from ..errors import InvalidParameter
from ..store.base import Region

_DENSIFY = 64  # vertices per edge when a box is transformed (error << 1 mm at district scale)


def parse_bbox(text: str | list[float], parameter: str = "bbox") -> list[float]:
    """``"minx,miny,maxx,maxy"`` or with z (6 numbers) -> floats, checked; InvalidParameter otherwise."""
    if isinstance(text, str):
        parts = [p.strip() for p in text.split(",")]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InvalidParameter(
                parameter, f"{parameter} must be 4 or 6 comma-separated numbers, got {text!r}."
            ) from None
    else:
        values = [float(v) for v in text]
    if len(values) not in (4, 6):
        raise InvalidParameter(
            parameter,
            f"{parameter} needs 4 numbers (minx,miny,maxx,maxy) or 6 "
            f"(minx,miny,minz,maxx,maxy,maxz), got {len(values)}.",
        )
    if not all(math.isfinite(v) for v in values):
        raise InvalidParameter(parameter, f"{parameter} values must be finite numbers.")
    half = len(values) // 2
    for axis, (lo, hi) in enumerate(zip(values[:half], values[half:], strict=True)):
        if lo > hi:
            raise InvalidParameter(
                parameter,
                f"{parameter} lower corner exceeds upper corner on axis "
                f"{axis + 1} ({lo} > {hi}); boxes across the antimeridian "
                "are not supported.",
            )
    return values


def region_from_bbox(values: list[float], crs_uri: str, city_epsg: int, parameter: str = "bbox") -> Region:
    """A box given in ``crs_uri`` (its official axis order; CRS84 is lon, lat) as a city-CRS region.

    The box's edges are densified before transformation, so the region is the true image of the box
    in the city CRS, not its envelope.  z limits (metres, city height datum) pass through.
    """
    half = len(values) // 2
    x0, y0, x1, y1 = values[0], values[1], values[half], values[half + 1]
    zmin, zmax = (values[2], values[5]) if half == 3 else (None, None)
    if crs_uri in (CRS84, CRS84H) or pyproj_crs(crs_uri).is_geographic:
        lat = (y0, y1) if crs_uri in (CRS84, CRS84H) else None
        if lat is None:
            axes = pyproj_crs(crs_uri).axis_info
            lat = (x0, x1) if axes[0].direction.lower() in ("north", "south") else (y0, y1)
        if min(lat) < -90 or max(lat) > 90:
            raise InvalidParameter(parameter, f"{parameter} latitude out of range [-90, 90].")
    ring = shapely.segmentize(shapely.box(x0, y0, x1, y1), max((x1 - x0), (y1 - y0), 1e-9) / _DENSIFY)
    xy = np.asarray(ring.exterior.coords)
    city = to_city_xy(xy, crs_uri, city_epsg)
    if not np.all(np.isfinite(city)):
        raise InvalidParameter(
            parameter, f"{parameter} lies outside the area where the CRS can be transformed to the city's."
        )
    poly = shapely.Polygon(city)
    if x0 == x1 or y0 == y1:  # a degenerate box (a line or point) still selects what it touches
        poly = shapely.LineString(city) if (x0, y0) != (x1, y1) else shapely.Point(city[0])
    return Region(poly if poly.is_valid else poly.buffer(0), zmin, zmax)
