"""Analysis regions: a GeoJSON polygon in a client's CRS -> a checked polygon in the city CRS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely

from ..crs import check_supported, epsg_uri, to_city_xy
from ..errors import InvalidParameter
from ..store.memo import per_version

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
    extent: tuple[float, float, float, float] | None = None,
) -> shapely.Geometry:
    """A GeoJSON ``Polygon`` or ``MultiPolygon`` given in ``crs`` (a URI; default CRS84, lon/lat; other CRSs
    in their official axis order) as a valid polygon in the city CRS, metres.

    Raises InvalidParameter naming ``parameter`` when the geometry is malformed, empty, not valid (e.g.
    self-intersecting: the reason and where are given) or larger than ``max_area_km2``; UnsupportedCRS
    naming ``crs_parameter`` for a CRS the service does not offer.  With ``extent`` (the city's data, city
    CRS: :func:`store_extent`) a region that does not intersect it is an InvalidParameter naming the region,
    the CRS and its axis order (a region in the wrong axis order lands far away and would give zeros).
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
    if extent is not None:
        check_inside(poly, src, uri, city_epsg, extent, parameter, crs)
    check_area(poly, max_area_km2, parameter)
    return poly


def store_extent(store: Any) -> tuple[float, float, float, float] | None:
    """(minx, miny, maxx, maxy) of everything in a store (features and terrain), city CRS metres; None if empty.

    Kept per store until its version changes (every analysis request checks its region against it)."""
    return per_version(store, "extent", lambda: _store_extent(store))


def _store_extent(store: Any) -> tuple[float, float, float, float] | None:
    boxes = []
    try:
        for cid, n in store.counts().items():
            b = store.bounds(cid) if n else None
            if b:
                boxes.append((b[0], b[1], b[3], b[4]))
        t = store.terrain()
    except Exception:  # noqa: BLE001 - a store that cannot say: no check
        return None
    if t is not None:
        x0, y0, _, x1, y1, _ = t.bounds
        boxes.append((x0, y0, x1, y1))
    if not boxes:
        return None
    a = np.asarray(boxes, dtype=float)
    return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max())


def check_inside(
    poly: shapely.Geometry,
    src: shapely.Geometry,
    uri: str,
    city_epsg: int,
    extent: tuple[float, float, float, float],
    parameter: str,
    crs: str | None,
) -> None:
    """InvalidParameter when the city-CRS region ``poly`` misses the city's ``extent`` (see region_polygon)."""
    box = shapely.box(*extent)
    if shapely.intersects(poly, box):
        return
    from ..crs import CRS84, pyproj_crs

    name = crs or "CRS84"
    axes = pyproj_crs(uri).axis_info[:2]
    order = (
        "longitude, latitude" if uri == CRS84 else ", ".join(ax.name.lower().replace("geodetic ", "") for ax in axes)
    )
    hint = ""
    try:
        swapped = shapely.transform(src, lambda xy: to_city_xy(xy[:, ::-1], uri, city_epsg))
        if np.isfinite(shapely.get_coordinates(swapped)).all() and shapely.intersects(swapped, box):
            hint = " With the axes swapped it would lie in the city: write the coordinates in that order."
    except Exception:  # noqa: BLE001 - a hint only
        pass
    x0, y0, x1, y1 = extent
    raise InvalidParameter(
        parameter,
        f"{parameter} lies outside the city: its coordinates are read in {name}, whose axis order is "
        f"({order}), and then it does not meet the city's data (x {x0:.0f} to {x1:.0f}, y {y0:.0f} to {y1:.0f} "
        f"in EPSG:{city_epsg}).{hint}",
        crs=name,
        axis_order=order,
    )


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
