"""High-rise screening as a service: the request and result models of ``/analysis/high-rise``, proposals
parsed into the city CRS, and the screening of the whole city cached per store version and profile.

The rules live in :mod:`cim.analysis.highrise`; this module is what the HTTP routes, the command line,
:class:`cim.city.LocalCity` and OGC API - Processes share (the registered analysis ``high-rise`` screens
proposals, as ``POST /analysis/high-rise`` does).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field

from ..crs import check_supported, to_city_xy
from ..errors import InvalidParameter
from ..model import Building, BuildingUse
from ..rules import shipped_profiles
from ..store.base import Region, Store
from .highrise import MAX_HEIGHT, Proposal, Screener, ScreeningResult, Verdict
from .registry import Analysis

if TYPE_CHECKING:
    from ..city import LocalCity

ProfileName = Literal[tuple(shipped_profiles())]  # type: ignore[valid-type]


class GeoJSONPolygon(BaseModel):
    """A GeoJSON Polygon: rings of [x, y] (or [x, y, z]) positions in the request's CRS and axis order."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["Polygon"]
    coordinates: list[list[list[float]]] = Field(min_length=1, description="Exterior ring, then holes.")


class ProposalIn(BaseModel):
    """A proposed building."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(None, max_length=500)
    footprint: GeoJSONPolygon
    height: float | None = Field(None, gt=0, le=MAX_HEIGHT, description="Height above ground, metres.")
    floors: int | None = Field(None, ge=1, le=250, description="Floors above ground; height = floors x storey_height.")
    storey_height: float = Field(3.0, gt=0, le=20, description="Storey height with `floors`, metres.")
    use: BuildingUse = Field(
        description="residential, public, commercial, industrial or mixed (mixed counts as "
        "residential for the residential rules)."
    )
    new: bool = Field(True, description="A new building (true) or an existing one (false).")
    kind: str | None = Field(None, max_length=100, description="Special use for GB 50016, e.g. hospital.")


class HighRiseRequest(BaseModel):
    """Proposals to screen."""

    model_config = ConfigDict(extra="forbid")
    crs: str | None = Field(None, description="CRS of the footprints (URI); default CRS84 (lon, lat).")
    profile: ProfileName | None = Field(None, description="A shipped city profile instead of the city's own.")
    proposals: list[ProposalIn] = Field(min_length=1, max_length=1000)


class HighRiseResponse(BaseModel):
    """The screening of each proposal, in the order given."""

    city: dict[str, Any] = Field(description="The city profile used: name, population class.")
    results: list[ScreeningResult]


class ScreenedProperties(BaseModel):
    """Properties of a screened building (GeoJSON Feature)."""

    name: str | None = None
    use: BuildingUse
    height: float
    height_class: str
    fire_class: str | None = None
    verdict: Verdict
    reasons: list[dict[str, Any]]
    heights: dict[str, Any]


class ScreenedFeature(BaseModel):
    """A screened building as a GeoJSON Feature."""

    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any]
    properties: ScreenedProperties


class ScreenedCollection(BaseModel):
    """The screened buildings as a GeoJSON FeatureCollection, paged."""

    type: Literal["FeatureCollection"]
    features: list[ScreenedFeature]
    numberMatched: int
    numberReturned: int
    timeStamp: str
    city: dict[str, Any]
    summary: dict[str, dict[str, int]] = Field(description="Matched buildings by height class and verdict.")
    links: list[dict[str, str]]


def city_profile(screener: Screener) -> dict[str, Any]:
    """The profile a screening used, as the answers write it (name, population class and its note)."""
    p = screener.profile
    return {
        "name": p.name,
        "population_class": screener.population_class,
        "population_known": screener.population_known,
        "urban_population": p.urban_population,
        "note": screener.population_note(),
    }


def _rings(where: str, p: ProposalIn) -> list[np.ndarray]:
    rings = []
    for k, ring in enumerate(p.footprint.coordinates):
        if any(len(pos) not in (2, 3) for pos in ring):
            raise InvalidParameter(f"{where}.footprint", f"{where}.footprint ring {k}: positions need 2 or 3 numbers.")
        xy = np.asarray([pos[:2] for pos in ring], dtype=float).reshape(-1, 2)
        if len(xy) > 1 and np.array_equal(xy[0], xy[-1]):
            xy = xy[:-1]
        if len(xy) < 3:
            raise InvalidParameter(
                f"{where}.footprint", f"{where}.footprint ring {k} needs at least 3 distinct positions."
            )
        rings.append(xy)
    if not all(np.isfinite(r).all() for r in rings):
        raise InvalidParameter(f"{where}.footprint", f"{where}.footprint has coordinates that are not finite.")
    return rings


def city_proposal(i: int, p: ProposalIn, crs_uri: str, epsg: int) -> Proposal:
    """Proposal ``i`` of a request, footprint moved from ``crs_uri`` (official axis order) to the city CRS;
    InvalidParameter names ``proposals.{i}.<field>``."""
    where = f"proposals.{i}"
    if p.height is None and p.floors is None:
        raise InvalidParameter(f"{where}.height", f"{where} needs height (metres) or floors.")
    if p.height is None and p.floors is not None and p.floors * p.storey_height > MAX_HEIGHT:
        raise InvalidParameter(
            f"{where}.floors",
            f"{where}: floors x storey_height = {p.floors * p.storey_height:g} m is over {MAX_HEIGHT:g} m.",
        )
    city_rings = [[(float(q[0]), float(q[1])) for q in to_city_xy(r, crs_uri, epsg)] for r in _rings(where, p)]
    return Proposal(
        id=p.id,
        name=p.name,
        footprint=city_rings,
        height=p.height,
        floors=p.floors,
        storey_height=p.storey_height,
        use=p.use,
        new=p.new,
        attributes={"kind": p.kind} if p.kind else {},
    )


def run(city: LocalCity, req: HighRiseRequest) -> HighRiseResponse:
    """The registered analysis: screen the request's proposals under the city's (or a shipped) profile."""
    epsg = city.crs_epsg
    crs_uri = check_supported(req.crs, epsg, "crs")
    proposals = [city_proposal(i, p, crs_uri, epsg) for i, p in enumerate(req.proposals)]
    screener = Screener(city.store.city(), req.profile)
    return HighRiseResponse(city=city_profile(screener), results=screener.screen_proposals(proposals))


# -- the whole city, screened once per store version and profile --------------------------------------------------
@dataclass
class Screened:
    """Every building of a city screened under one profile (store order)."""

    version: int
    profile: str | None
    screener: Screener
    buildings: list[Building]
    results: list[ScreeningResult]
    shapes: np.ndarray  # (n,) shapely footprints, city CRS
    zrange: np.ndarray  # (n, 2) ground and roof elevation, metres

    def select(
        self, region: Region | None = None, verdicts: set[str] | None = None, min_height: float | None = None
    ) -> np.ndarray:
        """Indices of the buildings meeting ``region`` (2-D, and its z range), with one of ``verdicts``
        and at least ``min_height`` metres tall, in store order."""
        n = len(self.results)
        mask = np.ones(n, dtype=bool)
        if region is not None and n:
            mask &= shapely.intersects(region.polygon, self.shapes)
            if region.zmin is not None:
                mask &= (self.zrange[:, 1] >= region.zmin) & (self.zrange[:, 0] <= region.zmax)
        if verdicts:
            mask &= np.array([str(r.verdict.value) in verdicts for r in self.results], dtype=bool)
        if min_height is not None:
            mask &= np.array([r.height >= min_height for r in self.results], dtype=bool)
        return np.flatnonzero(mask)


class ScreeningCache:
    """The whole city's screening per profile, recomputed when the store's version changes."""

    def __init__(self) -> None:
        self._entries: dict[str | None, Screened] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, profile: str | None = None) -> Screened:
        """The screening of ``store`` under ``profile`` (cached; one computation at a time)."""
        version = store.version()
        hit = self._entries.get(profile)
        if hit is not None and hit.version == version:
            return hit
        with self._lock:
            hit = self._entries.get(profile)
            if hit is not None and hit.version == version:
                return hit
            screener = Screener(store.city(), profile)
            buildings: list[Building] = list(store.iter_features("buildings"))  # type: ignore[arg-type]
            results = screener.screen_buildings(buildings, terrain=store.terrain(), points=store.building_points())
            shapes = np.array([shapely.Polygon(b.footprint[0], b.footprint[1:]) for b in buildings], dtype=object)
            z = np.array([sorted((b.ground_elevation, b.roof_elevation)) for b in buildings], dtype=float)
            entry = Screened(version, profile, screener, buildings, results, shapes, z.reshape(-1, 2))
            self._entries = {k: v for k, v in self._entries.items() if v.version == version}
            self._entries[profile] = entry
            return entry


ANALYSIS = Analysis(
    id="high-rise",
    title="High-rise screening of proposed buildings",
    description="Screens proposed buildings (footprint, height or floors, use) under GB 50352 height classes, "
    "GB 50016 fire classes and the city profile's siting rules: a verdict (ok, consult-fire-rescue, "
    "exceeds-new-build-limit, restricted, not-allowed) with its reasons and clauses for each; a proposal with "
    '"new": false (an existing building) gets exceeds-new-build-limit, not restricted or not-allowed, from a rule '
    "on new construction.",
    request=HighRiseRequest,
    result=HighRiseResponse,
    run=run,
    keywords=("high-rise", "GB 50352", "GB 50016", "screening"),
)
