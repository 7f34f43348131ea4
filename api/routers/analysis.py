"""Underground analyses: space use by depth band, excavation conflicts, pipeline rule compliance.

Thin: the request models, their parsing and the work are the library's registered analyses
(:mod:`cim.analysis.underground`, :mod:`cim.analysis.excavation`, :mod:`cim.analysis.compliance`); these
routes keep their paths, bodies and query parameters and add the ``Content-Crs`` header.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from cim.analysis import compliance
from cim.analysis import excavation as excavation_mod
from cim.analysis import underground as underground_mod
from cim.analysis.compliance import ComplianceCollection, PipeComplianceRequest
from cim.analysis.excavation import Excavation, ExcavationRequest
from cim.analysis.underground import UndergroundUse, UndergroundUseRequest
from cim.crs import check_supported

from ..deps import CityDep
from ..media import JSON, GeoJSONResponse, ORJSONResponse

router = APIRouter(prefix="/analysis", tags=["Analysis"])


def _content_crs(uri: str) -> dict[str, str]:
    return {"Content-Crs": f"<{uri}>"}


@router.post(
    "/underground-use",
    summary="Underground space use by depth band",
    response_model=UndergroundUse,
    response_class=ORJSONResponse,
)
def underground(body: UndergroundUseRequest, request: Request) -> Response:
    """Soil volume, occupied volume and their ratio in each depth band under a region, by category
    (utility types, basement, tunnel, utility_tunnel, station, civil_defence, manhole) and by feature.
    Pipes and tunnels are integrated along their centrelines in pieces of at most 0.5 m; the part of a
    feature inside the region and the band counts."""
    # the city straight from the app (a plain ``def`` dependency would cost a second thread-pool hop), the
    # answer serialised by pydantic-core in one step (no intermediate dicts)
    result = underground_mod.ANALYSIS.run(request.app.state.city, body)
    return Response(result.__pydantic_serializer__.to_json(result), media_type=JSON)


@router.post("/excavation", summary="Excavation conflicts", response_model=Excavation, response_class=ORJSONResponse)
def excavation(body: ExcavationRequest, city: CityDep) -> ORJSONResponse:
    """Every pipe, chamber, underground structure and building that a pit (the region, from the ground
    down to ``depth`` or ``bottom_z``) cuts into or comes within ``buffer`` metres of: the least 3-D
    clearance, the elevation and depth of the closest point, and a severity (critical: gas, power, heat,
    utility and metro tunnels hit; see the library's documentation)."""
    result = excavation_mod.ANALYSIS.run(city, body)
    uri = check_supported(body.crs, city.crs_epsg, "crs")
    return ORJSONResponse(result.model_dump(mode="json"), headers=_content_crs(uri))


@router.get(
    "/pipe-compliance",
    summary="Pipeline rule compliance",
    response_model=ComplianceCollection,
    response_class=GeoJSONResponse,
)
def pipe_compliance(params: Annotated[PipeComplianceRequest, Query()], city: CityDep) -> GeoJSONResponse:
    """Violations of GB 50289-2016 (cover by utility and lane with the frost depth, horizontal clearances
    between pipes and from buildings, vertical clearance and order at crossings) and GB 50838-2015
    (utility tunnel compartments) by pipes in the box, as GeoJSON features with the rule, its clause and
    confidence mark, measured and required values and the features involved."""
    result = compliance.ANALYSIS.run(city, params)
    uri = check_supported(params.crs, city.crs_epsg, "crs")
    return GeoJSONResponse(result.model_dump(mode="json"), headers=_content_crs(uri))
