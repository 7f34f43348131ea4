"""A city as one object: the HTTP API's queries and analyses, over a local store or a running service.

``cim.open(path_or_store_url)`` gives a :class:`LocalCity` (the library on a store: SQLite file or PostGIS);
``cim.connect("http://host:8000")`` gives a :class:`~cim.remote.RemoteCity` (HTTP only: OGC API - Features,
the ``/analysis`` routes, GLB and 3D Tiles; no database access).  Both implement :class:`CityModel`, and the
same call gives the same answer on both::

    import cim
    city = cim.open("data/sample.cim.sqlite")            # or cim.connect("http://127.0.0.1:8000")
    towers = city.features("buildings", filter="height > 100", sortby="-height")
    cim.frame(towers)                                    # pandas (GeoPandas when installed) DataFrame
    pit = city.excavation((123.4094, 41.78887, 123.4099, 41.78908), depth=5, buffer=0.5)

Conventions of this interface:

* **Input coordinates** (``bbox``, ``region``, proposal footprints) are in CRS84 (longitude, latitude) unless
  ``crs`` / ``bbox_crs`` names another CRS the service offers (``"EPSG:4550"``, an OGC URI ...), and always in
  **x, y order** (longitude/latitude, easting/northing), whatever the CRS's official axis order; the remote
  city reorders them for the HTTP API, which speaks the official order.  CQL2 geometry literals in ``filter``
  are passed through as the HTTP API reads them (``filter_crs``, official axis order).
* **Results** are the library's pydantic models, coordinates in the city CRS (easting, northing, metres) and
  heights in the city datum: features are :class:`~cim.model.Building`, :class:`~cim.model.PipeSegment` ...
  (in a :class:`Features` list), analyses :class:`~cim.analysis.UndergroundUse`,
  :class:`~cim.analysis.Excavation`, :class:`~cim.analysis.ComplianceReport`, lists of
  :class:`~cim.analysis.ScreeningResult`.  :func:`frame` turns any of them into a table.
* A remote city's coordinates went through the service's GeoJSON, rounded to the millimetre; its buildings
  carry no LOD2 ``surfaces``/``lods`` (GeoJSON has no place for them: 3-D views fetch those buildings' GLB).
  Everything else is identical, field for field (``tests/test_city.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..crs import epsg_uri
from ..store import Store
from .base import CityInfo, CityModel, Feature, Features, Limits, extent_of
from .frames import frame
from .local import LocalCity
from .params import bbox_values, city_polygon, city_xy, official_order, proposal_payload


def open_city(source: str | Path | Store, **kw: Any) -> CityModel:
    """``cim.open``: a store path or URL (SQLite file, ``sqlite:///``, ``postgresql://``) or a Store ->
    :class:`LocalCity`; an ``http(s)://`` service URL -> :class:`~cim.remote.RemoteCity` (as ``cim.connect``)."""
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        from .remote import RemoteCity

        return RemoteCity(source, **kw)
    return LocalCity(source, **kw)


def __getattr__(name: str) -> Any:
    if name in ("RemoteCity", "RemoteError", "connect"):  # the remote city, on first use (it needs httpx)
        from . import remote

        return getattr(remote, name)
    raise AttributeError(name)


__all__ = [
    "CityInfo",
    "CityModel",
    "Features",
    "Limits",
    "LocalCity",
    "frame",
    "open_city",
    "Feature",
    "epsg_uri",
    "extent_of",
    "bbox_values",
    "city_polygon",
    "city_xy",
    "official_order",
    "proposal_payload",
]
