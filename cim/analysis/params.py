"""Request parameters shared by analyses, parsed once here (the HTTP layer, the CLI and notebooks use them).

Coordinates follow the HTTP convention of :mod:`cim.analysis.registry`: in the request's ``crs`` (default
CRS84) and in that CRS's official axis order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field

from ..crs import OutputCRS, check_supported, to_city_xy
from ..query.bbox import parse_bbox, region_from_bbox
from ..store.base import Region as StoreRegion
from .regions import region_polygon, store_extent

if TYPE_CHECKING:
    from ..city import LocalCity

CRS_DOC = (
    "CRS of the request's coordinates (URI as in OGC API - Features Part 2, or EPSG:n), written in the CRS's "
    "official axis order; default CRS84 (lon, lat).  Also the CRS of coordinates in the result."
)

Position = Annotated[list[float], Field(min_length=2, max_length=3)]


class Polygon(BaseModel):
    """A GeoJSON Polygon: exterior ring, then holes; each ring closed, in the request's ``crs``."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["Polygon"]
    coordinates: list[Annotated[list[Position], Field(min_length=4)]] = Field(min_length=1)


class MultiPolygon(BaseModel):
    """A GeoJSON MultiPolygon in the request's ``crs``."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["MultiPolygon"]
    coordinates: list[list[Annotated[list[Position], Field(min_length=4)]]] = Field(min_length=1)


Region = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]


def city_region(city: LocalCity, region: Any, crs: str | None, *, parameter: str = "region") -> shapely.Geometry:
    """A request's region (GeoJSON model or mapping, official axis order of ``crs``) as a checked polygon in
    the city CRS, metres, within the service's analysis-area limit and meeting the city's extent (a region
    outside it is a 400 naming the region, the CRS and its axis order)."""
    geo = region.model_dump() if isinstance(region, BaseModel) else region
    store = getattr(city, "store", None)
    return region_polygon(
        geo,
        crs,
        city.crs_epsg,
        parameter=parameter,
        max_area_km2=city.limits.max_area_km2,
        extent=store_extent(store) if store is not None else None,
    )


def city_points(city: LocalCity, xy: Any, crs: str | None, *, parameter: str = "crs") -> np.ndarray:
    """(n, 2) positions in ``crs`` (official axis order) -> (n, 2) city easting, northing, metres."""
    uri = check_supported(crs, city.crs_epsg, parameter)
    return to_city_xy(np.asarray(xy, dtype=float).reshape(-1, 2), uri, city.crs_epsg)


def output_crs(city: LocalCity, crs: str | None) -> OutputCRS:
    """Writer of city-CRS positions in the request's CRS and axis order (``.xy((n, 2)) -> (n, 2)``)."""
    return OutputCRS(city.crs_epsg, check_supported(crs, city.crs_epsg, "crs"))


def city_bbox(
    city: LocalCity, bbox: str | list[float] | None, bbox_crs: str | None, *, flat: bool = False
) -> StoreRegion | None:
    """A request's ``bbox`` (4 or 6 numbers, or their comma-separated text, in ``bbox_crs``'s official axis
    order; default CRS84) as a store region in the city CRS, or None without a bbox (``bbox_crs`` is still
    checked).  ``flat`` drops the z range of a 6-number box."""
    uri = check_supported(bbox_crs, city.crs_epsg, "bbox-crs")
    if bbox is None:
        return None
    values = parse_bbox(bbox)
    if flat and len(values) == 6:
        values = values[:2] + values[3:5]
    return region_from_bbox(values, uri, city.crs_epsg)
