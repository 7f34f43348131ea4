"""``/analysis/{id}`` for every analysis in the registry (:mod:`cim.analysis.registry`).

One typed route per analysis, made when the app is built: POST takes the request model as the JSON body,
GET as query parameters; ``f`` picks an output format the analysis writes (``json`` by default).  Routes
that ``api.routers.analysis`` and ``api.routers.highrise`` already serve keep theirs.
"""

# No ``from __future__ import annotations``: FastAPI reads the request model from the live annotations.

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.routing import APIRoute

from cim.analysis.registry import Analysis, analyses

from ..deps import CityDep
from ..media import ORJSONResponse

#: Analyses with hand-written routes elsewhere (kept for their bodies and query parameters).
SERVED_ELSEWHERE = frozenset({"underground-use", "excavation", "pipe-compliance", "high-rise"})
# (high-rise-buildings gets its generated GET route: the whole screening, unpaged; GET /analysis/high-rise pages it)

FormatQuery = Annotated[str | None, Query(description="Output format: json (default) or one the analysis writes.")]


def answer(analysis: Analysis, city: Any, request: Any, fmt: str | None) -> Response:
    """Run the analysis and write its result in ``fmt``."""
    result = analysis.run(city, request)
    fmt = (fmt or "json").lower()
    if fmt == "json":
        return ORJSONResponse(result.model_dump(mode="json"))
    body = analysis.write(fmt, result, request)
    return Response(body, media_type=analysis.media_types.get(fmt, "application/octet-stream"))


def _route(analysis: Analysis) -> APIRoute:
    model = analysis.request

    def get_endpoint(city: CityDep, params: Annotated[model, Query()], f: FormatQuery = None) -> Response:  # type: ignore[valid-type]
        return answer(analysis, city, params, f)

    def post_endpoint(body: model, city: CityDep, f: FormatQuery = None) -> Response:  # type: ignore[valid-type]
        return answer(analysis, city, body, f)

    endpoint = get_endpoint if analysis.method == "GET" else post_endpoint
    endpoint.__name__ = "analysis_" + analysis.id.replace("-", "_")
    return APIRoute(
        f"/analysis/{analysis.id}",
        endpoint,
        methods=[analysis.method],
        summary=analysis.title,
        description=analysis.description,
        response_model=analysis.result,
        response_class=ORJSONResponse,
        tags=["Analysis"],
    )


def _get_route(analysis: Analysis) -> APIRoute:
    """GET beside the POST route of an analysis with a ``get_request`` model (query parameters)."""
    model = analysis.get_request

    def endpoint(city: CityDep, params: Annotated[model, Query()], f: FormatQuery = None) -> Response:  # type: ignore[valid-type]
        return answer(analysis, city, analysis.parse(params.model_dump(exclude_none=True)), f)  # type: ignore[attr-defined]

    endpoint.__name__ = "analysis_get_" + analysis.id.replace("-", "_")
    return APIRoute(
        f"/analysis/{analysis.id}",
        endpoint,
        methods=["GET"],
        summary=analysis.title,
        description=analysis.description,
        response_model=analysis.result,
        response_class=ORJSONResponse,
        tags=["Analysis"],
    )


def router() -> APIRouter:
    """A router with one route per registered analysis (those registered when the app is built)."""
    r = APIRouter()
    for analysis in analyses().values():
        if analysis.id not in SERVED_ELSEWHERE:
            r.routes.append(_route(analysis))
            if analysis.get_request is not None and analysis.method == "POST":
                r.routes.append(_get_route(analysis))
    return r
