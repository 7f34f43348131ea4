"""``GET /indicators``: the city indicator board (:mod:`cim.indicators`) as JSON, CSV or a printable HTML page."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse

from cim.indicators import Indicator, board, to_csv, to_html

from ..deps import CityDep
from ..media import ORJSONResponse

router = APIRouter(tags=["Indicators"])


@router.get(
    "/indicators",
    summary="City indicator board",
    description="The city's measurable targets, each with value, target, rule and source: ultra-high-rise "
    "buildings by class and verdict, underground space use by depth band, living-circle coverage by facility "
    "kind, complete-community share, shelter area per person, green-building share.  f=csv for a table, "
    "f=html for a page with charts (inline SVG) that prints.",
    response_model=list[Indicator],
    responses={200: {"content": {"text/csv": {}, "text/html": {}}}},
)
def indicators(
    city: CityDep, f: Annotated[Literal["json", "csv", "html"], Query(description="Output format.")] = "json"
) -> Response:
    rows = board(city)
    if f == "csv":
        return Response(to_csv(rows), media_type="text/csv; charset=utf-8")
    if f == "html":
        return HTMLResponse(to_html(rows, city.store.city().name))
    return ORJSONResponse([r.model_dump(mode="json") for r in rows])
