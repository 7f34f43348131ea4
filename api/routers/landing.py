"""Landing page, conformance, API description, health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from cim.analysis.processes import CONFORMANCE as PROCESSES_CONFORMANCE

from ..deps import SettingsDep, StoreDep, base_url
from ..media import GEOJSON, JSON, OPENAPI_30, OpenAPIResponse, ORJSONResponse
from ..openapi import to_openapi_30

router = APIRouter(tags=["Capabilities"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    *PROCESSES_CONFORMANCE,
]


@router.get("/", summary="Landing page", response_class=ORJSONResponse)
def landing(request: Request, settings: SettingsDep) -> ORJSONResponse:
    b = base_url(request)
    return ORJSONResponse(
        {
            "title": settings.title,
            "description": settings.description,
            "links": [
                {"href": f"{b}/", "rel": "self", "type": JSON, "title": "This document"},
                {"href": f"{b}/api", "rel": "service-desc", "type": OPENAPI_30, "title": "OpenAPI 3.0 definition"},
                {"href": f"{b}/api.html", "rel": "service-doc", "type": "text/html", "title": "API documentation"},
                {"href": f"{b}/conformance", "rel": "conformance", "type": JSON, "title": "Conformance classes"},
                {"href": f"{b}/collections", "rel": "data", "type": JSON, "title": "Feature collections"},
                {
                    "href": f"{b}/processes",
                    "rel": "http://www.opengis.net/def/rel/ogc/1.0/processes",
                    "type": JSON,
                    "title": "Processes (the analyses)",
                },
                {
                    "href": f"{b}/jobs",
                    "rel": "http://www.opengis.net/def/rel/ogc/1.0/job-list",
                    "type": JSON,
                    "title": "Jobs",
                },
                {"href": f"{b}/health", "rel": "status", "type": JSON, "title": "Health"},
            ],
        }
    )


@router.get("/conformance", summary="Conformance classes", response_class=ORJSONResponse)
def conformance() -> ORJSONResponse:
    return ORJSONResponse({"conformsTo": CONFORMANCE})


@router.get("/api", summary="OpenAPI 3.0 definition", response_class=OpenAPIResponse)
def api(request: Request) -> OpenAPIResponse:
    app = request.app
    if getattr(app.state, "openapi_30", None) is None:
        app.state.openapi_30 = to_openapi_30(app.openapi())
    return OpenAPIResponse(app.state.openapi_30)


@router.get("/api.html", summary="API documentation (Swagger UI)", include_in_schema=False)
def api_html(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=f"{base_url(request)}/api", title="CIM service API")


@router.get("/health", summary="Liveness and store status", response_class=ORJSONResponse)
def health(store: StoreDep) -> ORJSONResponse:
    city = store.city()
    body = {"status": "ok", "city": city.name, "crs": city.crs, "version": store.version(), "counts": store.counts()}
    read_version = getattr(store, "read_version", None)
    if read_version is not None and getattr(store, "read_url", None):
        body["read_version"] = read_version()  # behind "version" while the replica catches up
    return ORJSONResponse(body)


__all__ = ["router", "GEOJSON"]
