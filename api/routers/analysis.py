"""Underground analyses: space use by depth band, excavation conflicts, pipeline rule compliance.

Thin: parse and check the request, call ``cim.analysis``, write coordinates in the response CRS.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cim.analysis.compliance import ComplianceReport, PipelineRules, ViolationProperties, pipe_compliance
from cim.analysis.excavation import Excavation, excavation_conflicts
from cim.analysis.regions import region_polygon, store_extent
from cim.analysis.underground import DEFAULT_BANDS, UndergroundUse, underground_use
from cim.crs import OutputCRS, check_supported
from cim.query import parse_bbox, region_from_bbox

from ..deps import OutputCRSParam, SettingsDep, StoreDep
from ..media import GeoJSONResponse, ORJSONResponse

router = APIRouter(prefix="/analysis", tags=["Analysis"])

CRS_DOC = (
    "CRS of the region's coordinates (URI, as in OGC API - Features Part 2), written in the CRS's "
    "official axis order; default CRS84 (lon, lat)."
)


class PolygonGeometry(BaseModel):
    """A GeoJSON Polygon: exterior ring, then holes; each ring closed, in ``crs``."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["Polygon"]
    coordinates: list[
        Annotated[list[Annotated[list[float], Field(min_length=2, max_length=3)]], Field(min_length=4)]
    ] = Field(min_length=1)


class UndergroundUseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: PolygonGeometry
    crs: str | None = Field(None, description=CRS_DOC)
    bands: list[Annotated[list[float], Field(min_length=2, max_length=2)]] | None = Field(
        None,
        description="Depth bands [top, bottom], metres below the ground, in order and not overlapping. "
        "Default GB/T 51358-2019: 0-15, 15-30, 30-50 and 50-100 m (the deep band, 'below 50 m', "
        "given a 100 m bottom).",
        examples=[[list(b) for b in DEFAULT_BANDS]],
    )
    z_min: float | None = Field(
        None,
        description="Instead of bands: one band between absolute elevations "
        "z_min and z_max (metres, the city's height datum).",
    )
    z_max: float | None = None


class ExcavationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: PolygonGeometry
    crs: str | None = Field(None, description=CRS_DOC + " Also the CRS of the hits' locations.")
    depth: float | None = Field(None, gt=0, le=200, description="Pit depth below the ground, metres.")
    bottom_z: float | None = Field(None, description="Or: the pit's bottom elevation, metres.")
    buffer: float = Field(1.0, ge=0, le=100, description="Report features within this clearance, metres.")


class ViolationFeature(BaseModel):
    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any]
    properties: ViolationProperties


class ComplianceCollection(BaseModel):
    """GeoJSON FeatureCollection of violations; the report's tallies as foreign members."""

    type: Literal["FeatureCollection"]
    features: list[ViolationFeature]
    numberMatched: int
    numberReturned: int
    counts: dict[str, int]
    by_rule: dict[str, int]
    checked: dict[str, int]
    skipped: list[str]


def _content_crs(uri: str) -> dict[str, str]:
    return {"Content-Crs": f"<{uri}>"}


@router.post(
    "/underground-use",
    summary="Underground space use by depth band",
    response_model=UndergroundUse,
    response_class=ORJSONResponse,
)
def underground(body: UndergroundUseRequest, store: StoreDep, settings: SettingsDep) -> ORJSONResponse:
    """Soil volume, occupied volume and their ratio in each depth band under a region, by category
    (utility types, basement, tunnel, utility_tunnel, station, civil_defence, manhole) and by feature.
    Pipes and tunnels are integrated along their centrelines in pieces of at most 0.5 m; the part of a
    feature inside the region and the band counts."""
    epsg = store.city().crs_epsg
    poly = region_polygon(
        body.region.model_dump(),
        body.crs,
        epsg,
        max_area_km2=settings.max_analysis_area_km2,
        extent=store_extent(store),
    )
    result = underground_use(store, poly, bands=body.bands, z_min=body.z_min, z_max=body.z_max)
    return ORJSONResponse(result.model_dump(mode="json"))


@router.post("/excavation", summary="Excavation conflicts", response_model=Excavation, response_class=ORJSONResponse)
def excavation(body: ExcavationRequest, store: StoreDep, settings: SettingsDep) -> ORJSONResponse:
    """Every pipe, chamber, underground structure and building that a pit (the region, from the ground
    down to ``depth`` or ``bottom_z``) cuts into or comes within ``buffer`` metres of: the least 3-D
    clearance, the elevation and depth of the closest point, and a severity (critical: gas, power, heat,
    utility and metro tunnels hit; see the library's documentation)."""
    epsg = store.city().crs_epsg
    uri = check_supported(body.crs, epsg, "crs")
    poly = region_polygon(
        body.region.model_dump(),
        body.crs,
        epsg,
        max_area_km2=settings.max_analysis_area_km2,
        extent=store_extent(store),
    )
    result = excavation_conflicts(store, poly, depth=body.depth, bottom_z=body.bottom_z, buffer=body.buffer)
    out = OutputCRS(epsg, uri)
    if result.hits:
        import numpy as np

        xy = out.xy(np.array([h.location for h in result.hits], dtype=float))
        for h, p in zip(result.hits, xy.tolist(), strict=True):
            h.location = p
    return ORJSONResponse(result.model_dump(mode="json"), headers=_content_crs(uri))


def _rules(request: Request, settings) -> PipelineRules:
    rules = getattr(request.app.state, "pipeline_rules", None)
    if rules is None:
        rules = request.app.state.pipeline_rules = PipelineRules.load(settings.pipeline_rules)
    return rules


@router.get(
    "/pipe-compliance",
    summary="Pipeline rule compliance",
    response_model=ComplianceCollection,
    response_class=GeoJSONResponse,
)
def compliance(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    out: Annotated[OutputCRSParam, Depends()],
    bbox: Annotated[
        str | None,
        Query(
            description="minx,miny,maxx,maxy in bbox-crs axis order; default: the whole city",
            examples=["123.41,41.79,123.42,41.80"],
        ),
    ] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox (URI); default CRS84.")] = None,
) -> GeoJSONResponse:
    """Violations of GB 50289-2016 (cover by utility and lane with the frost depth, horizontal clearances
    between pipes and from buildings, vertical clearance and order at crossings) and GB 50838-2015
    (utility tunnel compartments) by pipes in the box, as GeoJSON features with the rule, its clause and
    confidence mark, measured and required values and the features involved."""
    city = store.city()
    out_uri = out.uri(store)
    polygon = None
    if bbox is not None:
        values = parse_bbox(bbox)
        polygon = region_from_bbox(
            values[:2] + values[len(values) // 2 : len(values) // 2 + 2],
            check_supported(bbox_crs, city.crs_epsg, "bbox-crs"),
            city.crs_epsg,
        ).polygon
    elif bbox_crs is not None:
        check_supported(bbox_crs, city.crs_epsg, "bbox-crs")
    report: ComplianceReport = pipe_compliance(
        store, polygon, rules=_rules(request, settings), max_area_km2=settings.max_analysis_area_km2
    )
    return GeoJSONResponse(report.feature_collection(OutputCRS(city.crs_epsg, out_uri)), headers=_content_crs(out_uri))
