"""The :class:`CityModel` interface that the local and the remote city implement, and its result types."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field

from ..analysis.compliance import ComplianceReport
from ..analysis.excavation import Excavation
from ..analysis.highrise import Proposal, ScreeningResult
from ..analysis.underground import UndergroundUse
from ..crs import city_to_lonlat
from ..model import Building, PipeNode, PipeSegment, UndergroundStructure
from ..query.bbox import region_from_bbox
from .params import bbox_values, city_polygon

if TYPE_CHECKING:
    from ..mesh import Mesh

Feature = Building | PipeSegment | PipeNode | UndergroundStructure


# -- result types ----------------------------------------------------------------------------------------------
class CityInfo(BaseModel):
    """What a city is: name, reference systems, contents and extent (``City.info()``)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    crs_epsg: int = Field(description="Projected CRS of every planar coordinate (EPSG code).")
    vertical_datum: str | None = Field(
        description="Height datum, e.g. EPSG:5737 (1985 national heights); None: unknown."
    )
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
        """The features as a table (:func:`cim.city.frame`)."""
        from .frames import frame

        return frame(self, geometry=geometry)

    def ids(self) -> list[str]:
        return [f.id for f in self]

    def __repr__(self) -> str:
        return f"Features({self.collection!r}, {len(self)} of {self.matched} matched)"


class Limits(BaseModel):
    """Limits on analysis input (the service sets them from its settings; a notebook may too)."""

    model_config = ConfigDict(extra="forbid")
    max_area_km2: float | None = Field(None, gt=0, description="Largest analysis region, km² (None: no limit).")


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

    def __enter__(self) -> Self:
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
