"""Media types and fast JSON responses."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

GEOJSON = "application/geo+json"
JSON = "application/json"
PROBLEM = "application/problem+json"
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
CSV = "text/csv"
CITYJSON = "application/city+json"
CITYJSON_SEQ = "application/city+json-seq"
SCHEMA_JSON = "application/schema+json"


class ORJSONResponse(JSONResponse):
    """JSON encoded with orjson (numpy arrays included); a JSONResponse, so OpenAPI documents it as JSON."""

    media_type = JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class GeoJSONResponse(ORJSONResponse):
    media_type = GEOJSON


class ProblemResponse(ORJSONResponse):
    media_type = PROBLEM


class OpenAPIResponse(ORJSONResponse):
    media_type = OPENAPI_30
