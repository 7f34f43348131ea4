"""High-rise screening: ``GET /analysis/high-rise`` (the city's buildings) and ``POST`` (proposals).

The library does the work (:mod:`cim.analysis.highrise`); this module parses the request and formats the
answer.  The screening of the whole city is cached per store version (every write bumps it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import numpy as np
import shapely
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cim.analysis.highrise import MAX_HEIGHT, Proposal, Screener, ScreeningResult, Verdict, summary
from cim.analysis.highrise_report import to_csv
from cim.collections import get_spec
from cim.crs import OutputCRS, check_supported, to_city_xy
from cim.errors import InvalidParameter
from cim.geojson import encode_features
from cim.model import Building, BuildingUse
from cim.query import parse_bbox, region_from_bbox
from cim.rules import shipped_profiles
from cim.store import Store

from ..deps import OutputCRSParam, SettingsDep, StoreDep, base_url
from ..media import GEOJSON, GeoJSONResponse, ORJSONResponse

router = APIRouter(tags=["Analysis"])

PATH = "/analysis/high-rise"
ProfileName = Literal[tuple(shipped_profiles())]  # type: ignore[valid-type]


# -- models (OpenAPI) ---------------------------------------------------------------------------------------


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


# -- the cached screening of the whole city -----------------------------------------------------------------


@dataclass
class _Screened:
    version: int
    profile: str | None
    screener: Screener
    buildings: list[Building]
    results: list[ScreeningResult]
    shapes: np.ndarray
    zrange: np.ndarray  # (n, 2) ground and roof elevation


_lock = threading.Lock()


def _screened(request: Request, store: Store, profile: str | None) -> _Screened:
    version = store.version()
    cache: dict[str | None, _Screened] = request.app.state.__dict__.setdefault("highrise_cache", {})
    hit = cache.get(profile)
    if hit is not None and hit.version == version:
        return hit
    with _lock:
        hit = cache.get(profile)
        if hit is not None and hit.version == version:
            return hit
        screener = Screener(store.city(), profile)
        buildings: list[Building] = list(store.iter_features("buildings"))  # type: ignore[arg-type]
        results = screener.screen_buildings(buildings, terrain=store.terrain(), points=store.building_points())
        shapes = np.array([shapely.Polygon(b.footprint[0], b.footprint[1:]) for b in buildings], dtype=object)
        z = np.array([sorted((b.ground_elevation, b.roof_elevation)) for b in buildings], dtype=float).reshape(-1, 2)
        entry = _Screened(version, profile, screener, buildings, results, shapes, z)
        if any(e.version != version for e in cache.values()):
            cache.clear()
        cache[profile] = entry
        return entry


def _city(screener: Screener) -> dict[str, Any]:
    p = screener.profile
    return {
        "name": p.name,
        "population_class": screener.population_class,
        "population_known": screener.population_known,
        "urban_population": p.urban_population,
        "note": screener.population_note(),
    }


# -- routes ---------------------------------------------------------------------------------------------------


@router.get(
    PATH,
    summary="High-rise screening of the city's buildings",
    response_model=ScreenedCollection,
    responses={200: {"content": {GEOJSON: {}, "text/csv": {}}}},
)
def screen_city(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    out: Annotated[OutputCRSParam, Depends()],
    bbox: Annotated[
        str | None,
        Query(
            description="minx,miny,maxx,maxy or minx,miny,minz,maxx,maxy,maxz in bbox-crs (as for features)",
            examples=["123.41,41.79,123.42,41.80"],
        ),
    ] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox (URI); default CRS84.")] = None,
    verdict: Annotated[
        list[Verdict] | None, Query(description="Only these verdicts (repeat the parameter for several).")
    ] = None,
    min_height: Annotated[float | None, Query(ge=0, description="Only buildings at least this tall, metres.")] = None,
    profile: Annotated[
        ProfileName | None, Query(description="Screen with a shipped city profile instead of the city's own.")
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=10_000, description="Page size (default 10; CSV: all, up to the service's maximum).")
    ] = None,
    offset: Annotated[int, Query(ge=0, description="Buildings to skip.")] = 0,
    f: Annotated[Literal["json", "geojson", "csv"] | None, Query(description="GeoJSON (default) or CSV.")] = None,
) -> Response:
    city = store.city()
    out_uri = out.uri(store)
    region = None
    if bbox is not None:
        region = region_from_bbox(parse_bbox(bbox), check_supported(bbox_crs, city.crs_epsg, "bbox-crs"), city.crs_epsg)
    elif bbox_crs is not None:
        check_supported(bbox_crs, city.crs_epsg, "bbox-crs")
    s = _screened(request, store, profile)
    n = len(s.results)
    mask = np.ones(n, dtype=bool)
    if region is not None and n:
        mask &= shapely.intersects(region.polygon, s.shapes)
        if region.zmin is not None:
            mask &= (s.zrange[:, 1] >= region.zmin) & (s.zrange[:, 0] <= region.zmax)
    if verdict:
        wanted = set(verdict)
        mask &= np.array([r.verdict in wanted for r in s.results], dtype=bool)
    if min_height is not None:
        mask &= np.array([r.height >= min_height for r in s.results], dtype=bool)
    idx = np.flatnonzero(mask)
    default = settings.max_limit if f == "csv" else settings.default_limit
    limit = min(limit or default, settings.max_limit)
    page = idx[offset : offset + limit]
    results = [s.results[i] for i in page]
    buildings = [s.buildings[i] for i in page]
    b = base_url(request)

    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit", "f")]

    def href(off: int, fmt: str | None = f) -> str:
        q = [*kept, *([("f", fmt)] if fmt else []), ("offset", str(off)), ("limit", str(limit))]
        return f"{b}{PATH}?{urlencode(q)}"

    has_next = offset + len(page) < len(idx)
    if f == "csv":
        xy = None
        if buildings:
            c = shapely.get_coordinates(shapely.centroid(s.shapes[page]))
            xy = OutputCRS(city.crs_epsg, out_uri).xy(c)
        headers = {"Content-Disposition": 'attachment; filename="high-rise.csv"', "Content-Crs": f"<{out_uri}>"}
        if has_next:
            headers["Link"] = f'<{href(offset + len(page))}>; rel="next"'
        return Response(to_csv(results, xy), media_type="text/csv; charset=utf-8", headers=headers)
    feats = encode_features(get_spec("buildings"), buildings, OutputCRS(city.crs_epsg, out_uri))
    for feat, r in zip(feats, results, strict=True):
        feat["properties"] = r.model_dump(mode="json", exclude={"id"})
    links = [
        {"href": href(offset), "rel": "self", "type": GEOJSON, "title": "This page"},
        {"href": href(offset, "csv"), "rel": "alternate", "type": "text/csv", "title": "This screening as CSV"},
    ]
    if has_next:
        links.append({"href": href(offset + len(page)), "rel": "next", "type": GEOJSON, "title": "Next page"})
    if offset > 0:
        links.append({"href": href(max(0, offset - limit)), "rel": "prev", "type": GEOJSON, "title": "Previous page"})
    body = {
        "type": "FeatureCollection",
        "features": feats,
        "numberMatched": int(len(idx)),
        "numberReturned": len(feats),
        "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "city": _city(s.screener),
        "summary": summary(s.results[i] for i in idx),
        "links": links,
    }
    return GeoJSONResponse(body, headers={"Content-Crs": f"<{out_uri}>"})


def _proposal(i: int, p: ProposalIn, crs_uri: str, epsg: int) -> Proposal:
    where = f"proposals.{i}"
    if p.height is None and p.floors is None:
        raise InvalidParameter(f"{where}.height", f"{where} needs height (metres) or floors.")
    if p.height is None and p.floors * p.storey_height > MAX_HEIGHT:  # type: ignore[operator]
        raise InvalidParameter(
            f"{where}.floors",
            f"{where}: floors x storey_height = {p.floors * p.storey_height:g} m is over {MAX_HEIGHT:g} m.",
        )
    rings = []
    for k, ring in enumerate(p.footprint.coordinates):
        if any(len(pos) not in (2, 3) for pos in ring):
            raise InvalidParameter(f"{where}.footprint", f"{where}.footprint ring {k}: positions need 2 or 3 numbers.")
        xy = np.asarray([pos[:2] for pos in ring], dtype=float)
        if len(xy) > 1 and np.array_equal(xy[0], xy[-1]):
            xy = xy[:-1]
        if len(xy) < 3:
            raise InvalidParameter(
                f"{where}.footprint", f"{where}.footprint ring {k} needs at least 3 distinct positions."
            )
        rings.append(xy)
    if not all(np.isfinite(r).all() for r in rings):
        raise InvalidParameter(f"{where}.footprint", f"{where}.footprint has coordinates that are not finite.")
    city_rings = [[tuple(map(float, q)) for q in to_city_xy(r, crs_uri, epsg)] for r in rings]
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


@router.post(
    PATH,
    summary="High-rise screening of proposed buildings",
    response_model=HighRiseResponse,
    response_class=ORJSONResponse,
)
def screen_proposals(body: HighRiseRequest, store: StoreDep) -> ORJSONResponse:
    city = store.city()
    crs_uri = check_supported(body.crs, city.crs_epsg, "crs")
    proposals = [_proposal(i, p, crs_uri, city.crs_epsg) for i, p in enumerate(body.proposals)]
    screener = Screener(city, body.profile)
    results = screener.screen_proposals(proposals)
    return ORJSONResponse({"city": _city(screener), "results": [r.model_dump(mode="json") for r in results]})


__all__ = ["router"]
