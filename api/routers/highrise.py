"""High-rise screening: ``GET /analysis/high-rise`` (the city's buildings) and ``POST`` (proposals).

The library does the work (:mod:`cim.analysis.screening`: the request models, the proposals' parsing, the
whole city's screening cached per store version); this module pages and formats the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

import shapely
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from cim.analysis import screening
from cim.analysis.highrise import Verdict, summary
from cim.analysis.highrise_report import to_csv
from cim.analysis.params import city_bbox
from cim.analysis.screening import HighRiseRequest, HighRiseResponse, ProfileName, ScreenedCollection
from cim.collections import get_spec
from cim.crs import OutputCRS
from cim.geojson import encode_features

from ..deps import CityDep, OutputCRSParam, SettingsDep, base_url
from ..media import GEOJSON, GeoJSONResponse, ORJSONResponse

router = APIRouter(tags=["Analysis"])

PATH = "/analysis/high-rise"


# -- routes ---------------------------------------------------------------------------------------------------


@router.get(
    PATH,
    summary="High-rise screening of the city's buildings",
    response_model=ScreenedCollection,
    responses={200: {"content": {GEOJSON: {}, "text/csv": {}}}},
)
def screen_city(
    request: Request,
    city: CityDep,
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
    out_uri = out.uri(city.store)
    region = city_bbox(city, bbox, bbox_crs)
    s = city.screened(profile)
    idx = s.select(region, {str(v.value) for v in verdict} if verdict else None, min_height)
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
        "city": screening.city_profile(s.screener),
        "summary": summary(s.results[i] for i in idx),
        "links": links,
    }
    return GeoJSONResponse(body, headers={"Content-Crs": f"<{out_uri}>"})


@router.post(
    PATH,
    summary="High-rise screening of proposed buildings",
    response_model=HighRiseResponse,
    response_class=ORJSONResponse,
)
def screen_proposals(body: HighRiseRequest, city: CityDep) -> ORJSONResponse:
    return ORJSONResponse(screening.ANALYSIS.run(city, body).model_dump(mode="json"))


__all__ = ["router"]
