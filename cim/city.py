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

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field

from .analysis.compliance import ComplianceReport, PipelineRules, Violation, pipe_compliance
from .analysis.excavation import Excavation, excavation_conflicts
from .analysis.highrise import Proposal, Screener, ScreeningResult
from .analysis.regions import region_polygon
from .analysis.underground import UndergroundUse, underground_use
from .collections import COLLECTIONS, get_spec
from .crs import CRS84, _northing_first, check_supported, city_to_lonlat, epsg_uri, to_city_xy
from .errors import InvalidParameter
from .model import Building, City, PipeNode, PipeSegment, UndergroundStructure
from .query.bbox import parse_bbox, region_from_bbox
from .query.cql2 import parse_filter, parse_sortby
from .store import Store, open_store
from .store.base import Region

if TYPE_CHECKING:
    from .mesh import Mesh
    from .terrain import Terrain

Feature = Building | PipeSegment | PipeNode | UndergroundStructure


# -- result types ----------------------------------------------------------------------------------------------
class CityInfo(BaseModel):
    """What a city is: name, reference systems, contents and extent (``City.info()``)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    crs_epsg: int = Field(description="Projected CRS of every planar coordinate (EPSG code).")
    vertical_datum: str = Field(description="Height datum, e.g. EPSG:5737 (1985 national heights).")
    counts: dict[str, int] = Field(description="Features per collection.")
    extent: list[float] | None = Field(
        None,
        description="CRS84 [min lon, min lat, min z, max lon, max lat, max z] "
        "of every collection's solids (z metres, city datum).",
    )
    version: int = Field(description="Store version: grows with every write.")


class Features(list):
    """A list of feature models (one collection), with ``matched``: how many matched in all (before ``limit``).

    ``to_frame()`` gives a pandas (GeoPandas when installed) DataFrame, one row per feature.
    """

    def __init__(
        self, items: Iterable[Any] = (), *, collection: str, matched: int | None = None, crs_epsg: int | None = None
    ) -> None:
        super().__init__(items)
        self.collection = collection
        self.matched = len(self) if matched is None else matched
        self.crs_epsg = crs_epsg

    def to_frame(self, geometry: bool = True):
        return frame(self, geometry=geometry)

    def ids(self) -> list[str]:
        return [f.id for f in self]

    def __repr__(self) -> str:
        return f"Features({self.collection!r}, {len(self)} of {self.matched} matched)"


class Limits(BaseModel):
    """Limits on analysis input (the service sets them from its settings; a notebook may too)."""

    model_config = ConfigDict(extra="forbid")
    max_area_km2: float | None = Field(None, gt=0, description="Largest analysis region, km² (None: no limit).")


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


# -- the interface -------------------------------------------------------------------------------------------------
class CityModel(ABC):
    """The queries and analyses of the HTTP API, as methods; :class:`LocalCity` and
    :class:`~cim.remote.RemoteCity` implement them with identical answers (see the module docstring for the
    coordinate conventions).  Use as a context manager, or call :meth:`close`."""

    source: str

    # the city
    @property
    @abstractmethod
    def crs_epsg(self) -> int:
        """The city's projected CRS (EPSG code)."""

    @abstractmethod
    def info(self) -> CityInfo:
        """Name, CRS, datum, counts per collection, CRS84 extent, store version."""

    # features (OGC API - Features: /collections/{collection}/items and /items/{id})
    @abstractmethod
    def features(
        self,
        collection: str,
        *,
        bbox: Sequence[float] | str | None = None,
        bbox_crs: str | None = None,
        filter: str | dict | None = None,
        filter_crs: str | None = None,
        sortby: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Features:
        """Features of ``collection`` whose geometry meets ``bbox`` (4 or 6 numbers, x/y first, in ``bbox_crs``,
        default CRS84; z metres of the city datum) and the CQL2 ``filter`` (text or JSON; geometry literals
        in ``filter_crs``), ordered by ``sortby`` ("-height,year_built"), at most ``limit`` (None: every match)
        after skipping ``offset``.  ``Features.matched`` counts every match."""

    @abstractmethod
    def get(self, collection: str, id: str) -> Feature:
        """One feature by id; FeatureNotFound when there is none."""

    # analyses (/analysis/...)
    @abstractmethod
    def underground_use(
        self,
        region: Any,
        *,
        crs: str | None = None,
        bands: Sequence[Sequence[float]] | None = None,
        z_min: float | None = None,
        z_max: float | None = None,
    ) -> UndergroundUse:
        """Underground space use by depth band under ``region`` (``POST /analysis/underground-use``):
        ``bands`` [top, bottom] metres below ground (default GB/T 51358-2019), or one band of absolute
        elevations ``z_min``..``z_max``."""

    @abstractmethod
    def excavation(
        self,
        region: Any,
        *,
        crs: str | None = None,
        depth: float | None = None,
        bottom_z: float | None = None,
        buffer: float = 1.0,
    ) -> Excavation:
        """What a pit (``region``, from the ground down ``depth`` metres or to ``bottom_z``) cuts into or comes
        within ``buffer`` metres of (``POST /analysis/excavation``); hit locations in the city CRS."""

    @abstractmethod
    def pipe_compliance(
        self, bbox: Sequence[float] | str | None = None, *, bbox_crs: str | None = None
    ) -> ComplianceReport:
        """Violations of the pipeline rules by pipes in ``bbox`` (default the whole city;
        ``GET /analysis/pipe-compliance``); violation locations in the city CRS."""

    @abstractmethod
    def screen_high_rise(
        self,
        *,
        bbox: Sequence[float] | str | None = None,
        bbox_crs: str | None = None,
        verdict: str | Sequence[str] | None = None,
        min_height: float | None = None,
        profile: str | None = None,
    ) -> list[ScreeningResult]:
        """The city's buildings screened under the high-rise rules (``GET /analysis/high-rise``), in store
        order, optionally only those in ``bbox``, with one of the ``verdict`` values, or at least
        ``min_height`` metres tall; ``profile`` a shipped city profile instead of the city's own."""

    @abstractmethod
    def analyse(self, analysis_id: str, request: Mapping[str, Any] | BaseModel | None = None, /, **fields: Any) -> Any:
        """Run a registered analysis (:mod:`cim.analysis.registry`) and return its result model.

        ``request`` (or keyword fields) is the analysis's request as the HTTP body takes it: coordinates in
        ``crs`` (default CRS84), in that CRS's official axis order.  ``cim.analysis.registry.analyses()``
        lists them; ``POST /analysis/{id}`` and ``/processes/{id}/execution`` run the same.
        """

    @abstractmethod
    def screen_proposals(
        self, proposals: Sequence[Mapping[str, Any] | Proposal], *, crs: str | None = None, profile: str | None = None
    ) -> list[ScreeningResult]:
        """Screen proposed buildings (``POST /analysis/high-rise``).  Each proposal is a mapping with ``id``,
        ``footprint`` (shapely polygon, GeoJSON Polygon or rings, x/y in ``crs``, default CRS84), ``height``
        (m) or ``floors`` (x ``storey_height``, 3 m), ``use``, optional ``name``, ``new``, ``kind``."""

    # meshes for 3-D views (cim.viz)
    @abstractmethod
    def meshes(self, features: Features) -> Mesh:
        """Triangle meshes of ``features`` in city coordinates (:mod:`cim.mesh`); a remote city fetches the
        GLB of buildings with LOD2 surfaces from the service."""

    @abstractmethod
    def terrain_mesh(self, bounds: tuple[float, float, float, float] | None = None) -> Mesh | None:
        """The terrain as a TIN in city coordinates, clipped to ``bounds`` (city minx, miny, maxx, maxy), or
        None when the city has none."""

    def close(self) -> None:  # noqa: B027 - optional for implementations
        """Release the store or the HTTP connection."""

    def __enter__(self) -> CityModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"

    # shared helpers
    def region(self, region: Any, crs: str | None = None) -> shapely.Geometry:
        """A region (as the analyses take it) as a polygon in the city CRS, metres."""
        return city_polygon(region, crs, self.crs_epsg)

    def bbox_polygon(self, bbox: Sequence[float] | str, bbox_crs: str | None = None) -> shapely.Geometry:
        """A bbox (as ``features`` takes it) as a polygon in the city CRS, metres."""
        values, uri = bbox_values(bbox, bbox_crs, self.crs_epsg)
        return region_from_bbox(values, uri, self.crs_epsg).polygon


def extent_of(bounds: Iterable[tuple[float, ...] | None], epsg: int) -> list[float] | None:
    """The CRS84 extent of 3-D city boxes, as the HTTP API writes each collection's (corners, rounded)."""
    out = None
    for b in bounds:
        if b is None:
            continue
        corners = np.array([[b[0], b[1]], [b[3], b[1]], [b[3], b[4]], [b[0], b[4]]])
        ll = city_to_lonlat(corners, epsg)
        lo, hi = ll.min(axis=0), ll.max(axis=0)
        e = [round(lo[0], 7), round(lo[1], 7), round(b[2], 3), round(hi[0], 7), round(hi[1], 7), round(b[5], 3)]
        out = e if out is None else [min(out[i], e[i]) for i in range(3)] + [max(out[i], e[i]) for i in range(3, 6)]
    return [float(v) for v in out] if out is not None else None


def _verdicts(verdict: str | Sequence[str] | None) -> set[str] | None:
    if verdict is None:
        return None
    vs = [verdict] if isinstance(verdict, str) else list(verdict)
    return {str(getattr(v, "value", v)) for v in vs} or None


# -- the local city -------------------------------------------------------------------------------------------------
class LocalCity(CityModel):
    """A city over a store (the library, no server).  The store's own API stays available: ``city.store``,
    and ``query``, ``iter_features``, ``terrain``, ``building_points``, ``counts``, ``bounds``, ``city``,
    ``version`` (any other attribute too) are the store's, so code written for ``cim.open`` returning a
    Store keeps working.

    ``pipeline_rules``: overrides of the pipeline rules (a TOML/JSON file or a mapping), as the service's
    ``CIM_PIPELINE_RULES``.  ``limits``: the service's limits on analysis input (:class:`Limits`).
    """

    def __init__(self, store: Store | str | Path, *, pipeline_rules: Any = None, limits: Limits | None = None) -> None:
        self.store: Store = store if isinstance(store, Store) else open_store(store)
        self.source = str(self.store.url)
        self.pipeline_rules = PipelineRules.load(pipeline_rules)
        self.limits = limits or Limits()
        self._city: City | None = None
        self._screened: dict[str | None, tuple[int, list[Building], list[ScreeningResult], np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    # the Store's API, for callers of the former ``cim.open`` -> Store
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "store":
            raise AttributeError(name)
        return getattr(self.store, name)

    def query(self, collection: str, **kw: Any) -> Any:
        return self.store.query(collection, **kw)

    def observations(self, feature_or_datastream: int | str, start: Any = None, end: Any = None) -> Any:
        """Sensor observations in [start, end) as a pandas DataFrame (time UTC, datastream, name, unit,
        result): a datastream id, or a feature ``"collection/fid"`` (every datastream of its Things)."""
        from .sensors import observations_frame

        return observations_frame(self.store, feature_or_datastream, start, end)

    def iter_features(self, collection: str, **kw: Any) -> Any:
        return self.store.iter_features(collection, **kw)

    def terrain(self) -> Terrain | None:
        return self.store.terrain()

    def building_points(self) -> np.ndarray | None:
        return self.store.building_points()

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def bounds(self, collection: str) -> Any:
        return self.store.bounds(collection)

    def city(self) -> City:
        return self.store.city()

    def version(self) -> int:
        return self.store.version()

    def close(self) -> None:
        self.store.close()

    # CityModel
    @property
    def crs_epsg(self) -> int:
        if self._city is None:
            self._city = self.store.city()
        return self._city.crs_epsg

    def info(self) -> CityInfo:
        city = self.store.city()
        return CityInfo(
            name=city.name,
            crs_epsg=city.crs_epsg,
            vertical_datum=city.vertical_datum,
            counts=self.store.counts(),
            version=self.store.version(),
            extent=extent_of((self.store.bounds(c) for c in COLLECTIONS), city.crs_epsg),
        )

    def features(
        self,
        collection: str,
        *,
        bbox: Sequence[float] | str | None = None,
        bbox_crs: str | None = None,
        filter: str | dict | None = None,
        filter_crs: str | None = None,
        sortby: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Features:
        get_spec(collection)
        epsg = self.crs_epsg
        region = None
        if bbox is not None:
            values, uri = bbox_values(bbox, bbox_crs, epsg)
            region = region_from_bbox(values, uri, epsg)
        elif bbox_crs is not None:
            _uri(bbox_crs, epsg, "bbox-crs")
        flt = None if filter is None else parse_filter(filter, crs=filter_crs, city_epsg=epsg)
        order = parse_sortby(list(sortby) if isinstance(sortby, list | tuple) else sortby, collection)
        if limit is not None and limit < 1:
            raise InvalidParameter("limit", "limit must be at least 1 (None: every match).")
        if offset < 0:
            raise InvalidParameter("offset", "offset must be at least 0.")
        page = self.store.query(collection, region=region, filter=flt, sortby=order, limit=limit, offset=offset)
        return Features(page.features, collection=collection, matched=page.matched, crs_epsg=epsg)

    def get(self, collection: str, id: str) -> Feature:
        return self.store.get(collection, id)  # type: ignore[return-value]

    def underground_use(
        self,
        region: Any,
        *,
        crs: str | None = None,
        bands: Sequence[Sequence[float]] | None = None,
        z_min: float | None = None,
        z_max: float | None = None,
    ) -> UndergroundUse:
        return underground_use(self.store, self.region(region, crs), bands=bands, z_min=z_min, z_max=z_max)

    def excavation(
        self,
        region: Any,
        *,
        crs: str | None = None,
        depth: float | None = None,
        bottom_z: float | None = None,
        buffer: float = 1.0,
    ) -> Excavation:
        _uri(crs, self.crs_epsg, "crs")
        return excavation_conflicts(self.store, self.region(region, crs), depth=depth, bottom_z=bottom_z, buffer=buffer)

    def pipe_compliance(
        self, bbox: Sequence[float] | str | None = None, *, bbox_crs: str | None = None
    ) -> ComplianceReport:
        polygon = None
        if bbox is not None:
            values, uri = bbox_values(bbox, bbox_crs, self.crs_epsg)
            half = len(values) // 2
            polygon = region_from_bbox(values[:2] + values[half : half + 2], uri, self.crs_epsg).polygon
        elif bbox_crs is not None:
            _uri(bbox_crs, self.crs_epsg, "bbox-crs")
        return pipe_compliance(self.store, polygon, rules=self.pipeline_rules)

    def _screen_all(
        self, profile: str | None
    ) -> tuple[int, list[Building], list[ScreeningResult], np.ndarray, np.ndarray]:
        """Every building screened, cached per store version and profile (as the service does)."""
        version = self.store.version()
        hit = self._screened.get(profile)
        if hit is not None and hit[0] == version:
            return hit
        with self._lock:
            screener = Screener(self.store.city(), profile)
            buildings: list[Building] = list(self.store.iter_features("buildings"))  # type: ignore[arg-type]
            results = screener.screen_buildings(
                buildings, terrain=self.store.terrain(), points=self.store.building_points()
            )
            shapes = np.array([shapely.Polygon(b.footprint[0], b.footprint[1:]) for b in buildings], dtype=object)
            z = np.array([sorted((b.ground_elevation, b.roof_elevation)) for b in buildings], dtype=float).reshape(
                -1, 2
            )
            entry = (version, buildings, results, shapes, z)
            self._screened = {k: v for k, v in self._screened.items() if v[0] == version}
            self._screened[profile] = entry
            return entry

    def screen_high_rise(
        self,
        *,
        bbox: Sequence[float] | str | None = None,
        bbox_crs: str | None = None,
        verdict: str | Sequence[str] | None = None,
        min_height: float | None = None,
        profile: str | None = None,
    ) -> list[ScreeningResult]:
        region: Region | None = None
        if bbox is not None:
            values, uri = bbox_values(bbox, bbox_crs, self.crs_epsg)
            region = region_from_bbox(values, uri, self.crs_epsg)
        elif bbox_crs is not None:
            _uri(bbox_crs, self.crs_epsg, "bbox-crs")
        if min_height is not None and min_height < 0:
            raise InvalidParameter("min_height", "min_height must be at least 0.")
        _, _, results, shapes, z = self._screen_all(profile)
        mask = np.ones(len(results), dtype=bool)
        if region is not None and len(results):
            mask &= shapely.intersects(region.polygon, shapes)
            if region.zmin is not None:
                mask &= (z[:, 1] >= region.zmin) & (z[:, 0] <= region.zmax)
        wanted = _verdicts(verdict)
        if wanted:
            mask &= np.array([r.verdict.value in wanted for r in results], dtype=bool)
        if min_height is not None:
            mask &= np.array([r.height >= min_height for r in results], dtype=bool)
        return [results[i] for i in np.flatnonzero(mask)]

    def analyse(self, analysis_id: str, request: Mapping[str, Any] | BaseModel | None = None, /, **fields: Any) -> Any:
        from .analysis.registry import get

        return get(analysis_id).execute(self, request, **fields)

    def screen_proposals(
        self, proposals: Sequence[Mapping[str, Any] | Proposal], *, crs: str | None = None, profile: str | None = None
    ) -> list[ScreeningResult]:
        epsg = self.crs_epsg
        uri = _uri(crs, epsg, "crs")
        checked = []
        for i, p in enumerate(proposals):
            d = proposal_payload(p, i)
            where = f"proposals.{i}"
            if d.get("height") is None and d.get("floors") is None:
                raise InvalidParameter(f"{where}.height", f"{where} needs height (metres) or floors.")
            rings = []
            for k, xy in enumerate(d["footprint"]):
                if len(xy) > 1 and np.array_equal(xy[0], xy[-1]):
                    xy = xy[:-1]
                if len(xy) < 3:
                    raise InvalidParameter(
                        f"{where}.footprint", f"{where}.footprint ring {k} needs at least 3 distinct positions."
                    )
                if not np.isfinite(xy).all():
                    raise InvalidParameter(
                        f"{where}.footprint", f"{where}.footprint has coordinates that are not finite."
                    )
                rings.append([tuple(map(float, q)) for q in to_city_xy(official_order(xy, uri), uri, epsg)])
            kind = d.get("kind")
            try:
                checked.append(
                    Proposal(
                        id=d.get("id"),
                        name=d.get("name"),
                        footprint=rings,
                        height=d.get("height"),
                        floors=d.get("floors"),
                        storey_height=d.get("storey_height", 3.0),
                        use=d.get("use"),
                        new=d.get("new", True),
                        attributes={"kind": kind} if kind else {},
                    )
                )
            except ValueError as exc:  # pydantic's ValidationError
                err = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
                loc = ".".join(str(x) for x in err["loc"]) or "height"
                raise InvalidParameter(f"{where}.{loc}", f"{where}.{loc}: {err['msg']}") from None
        return Screener(self.store.city(), profile).screen_proposals(checked)

    def meshes(self, features: Features | Sequence[Any]) -> Mesh:
        from .mesh import feature_meshes

        return feature_meshes(list(features))

    def terrain_mesh(
        self, bounds: tuple[float, float, float, float] | None = None, *, max_cells: int = 100_000
    ) -> Mesh | None:
        from .mesh import terrain_mesh

        t = self.store.terrain()
        if t is None:
            return None
        ny, nx = t.shape
        window = None
        if bounds is not None:
            i0 = int(np.clip(np.floor((bounds[0] - t.x0) / t.cell), 0, nx - 1))
            j0 = int(np.clip(np.floor((bounds[1] - t.y0) / t.cell), 0, ny - 1))
            i1 = int(np.clip(np.ceil((bounds[2] - t.x0) / t.cell), 0, nx - 1))
            j1 = int(np.clip(np.ceil((bounds[3] - t.y0) / t.cell), 0, ny - 1))
            if i1 <= i0 or j1 <= j0:
                return None
            window = (i0, j0, i1, j1)
        cells = (window[2] - window[0]) * (window[3] - window[1]) if window else nx * ny
        step = max(1, int(np.ceil(np.sqrt(cells / max_cells))))
        zr = (float(np.nanmin(t.z)), float(np.nanmax(t.z)))
        return terrain_mesh(t, step, window, zr)


# -- tables -----------------------------------------------------------------------------------------------------
def _shape(spec: Any, f: BaseModel) -> shapely.Geometry:
    gtype, parts = spec.geometry(f)
    if gtype == "Polygon":
        return shapely.Polygon(parts[0], parts[1:])
    if gtype == "LineString":
        return shapely.LineString(parts[0])
    return shapely.Point(parts[0][0])


def _table(rows: list[dict[str, Any]], geoms: list[Any] | None, crs_epsg: int | None, index: str | None = "id"):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("cim.frame needs pandas: pip install 'cim-service[notebook]' (or pandas)") from None
    df = pd.DataFrame(rows)
    if index and index in df.columns:
        df = df.set_index(index)
    if geoms is None:
        return df
    try:
        import geopandas as gpd
    except ImportError:
        df["geometry"] = geoms
        return df
    return gpd.GeoDataFrame(df, geometry=list(geoms), crs=f"EPSG:{crs_epsg}" if crs_epsg else None)


def frame(obj: Any, *, geometry: bool = True):
    """A pandas DataFrame of a result (a GeoDataFrame in the city CRS when GeoPandas is installed):

    * features (a :class:`Features` list or any list of feature models): one row per feature, indexed by id,
      the columns of the GeoJSON properties, ``geometry`` shapely (city CRS; pipes and nodes 3-D);
    * a list of :class:`~cim.analysis.ScreeningResult`: one row per building, heights flattened
      (``height_attribute``, ``height_lidar`` ...), ``rules`` the ids of the rules met at the verdict's level;
    * :class:`~cim.analysis.UndergroundUse`: one row per band, occupied volume by category as columns;
    * :class:`~cim.analysis.Excavation`: one row per hit (``x``, ``y`` city CRS);
    * :class:`~cim.analysis.ComplianceReport`: one row per violation (``features`` ids comma-separated).
    """
    epsg = getattr(obj, "crs_epsg", None)
    if isinstance(obj, UndergroundUse):
        rows = []
        for b in obj.bands:
            row = b.model_dump(exclude={"features", "by_category"})
            row.update({f"volume_{k}": v for k, v in sorted(b.by_category.items())})
            row["features"] = len(b.features)
            rows.append(row)
        return _table(rows, None, None, index=None)
    if isinstance(obj, Excavation):
        rows = []
        for h in obj.hits:
            row = h.model_dump(exclude={"location"})
            row["x"], row["y"] = h.location[0], h.location[1]
            rows.append(row)
        geoms = [shapely.Point(h.location[0], h.location[1]) for h in obj.hits] if geometry else None
        return _table(rows, geoms, epsg)
    if isinstance(obj, ComplianceReport):
        obj = obj.violations
    items = list(obj)
    if not items:
        return _table([], None, None)
    first = items[0]
    if isinstance(first, Violation):
        rows = []
        for v in items:
            row = v.model_dump(mode="json", exclude={"location", "features", "also", "notes"})
            row["features"] = ",".join(r.id for r in v.features)
            row["also"] = ",".join(v.also)
            rows.append(row)
        geoms = [shapely.geometry.shape(v.location) for v in items] if geometry else None
        return _table(rows, geoms, epsg)
    if isinstance(first, ScreeningResult):
        rows = []
        for r in items:
            row = r.model_dump(mode="json", exclude={"reasons", "heights"})
            row.update({f"height_{k}": v for k, v in r.heights.model_dump(mode="json").items() if k != "used"})
            row["rules"] = ",".join(x.rule for x in r.reasons if x.verdict == r.verdict)
            rows.append(row)
        return _table(rows, None, None)
    for spec in COLLECTIONS.values():
        if isinstance(first, spec.model):
            hidden = spec.geometry_fields | spec.hidden_fields
            rows = [{"id": f.id, **f.model_dump(mode="json", exclude=hidden | {"id"})} for f in items]
            geoms = [_shape(spec, f) for f in items] if geometry else None
            return _table(rows, geoms, epsg)
    if isinstance(first, BaseModel):
        return _table(
            [x.model_dump(mode="json") for x in items], None, None, index="id" if hasattr(first, "id") else None
        )
    raise TypeError(f"cim.frame does not know {type(first).__name__}")


def open_city(source: str | Path | Store, **kw: Any) -> CityModel:
    """``cim.open``: a store path or URL (SQLite file, ``sqlite:///``, ``postgresql://``) or a Store ->
    :class:`LocalCity`; an ``http(s)://`` service URL -> :class:`~cim.remote.RemoteCity` (as ``cim.connect``)."""
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        from .remote import RemoteCity

        return RemoteCity(source, **kw)
    return LocalCity(source, **kw)


__all__ = ["CityInfo", "CityModel", "Features", "LocalCity", "frame", "open_city", "Feature", "epsg_uri"]
