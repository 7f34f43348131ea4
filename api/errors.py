"""The one place where errors become HTTP answers: RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cim import errors as E

from .media import ProblemResponse

log = logging.getLogger("cim.api")

#: domain error class -> HTTP status (the most specific class listed wins)
STATUS: dict[type[E.CIMError], int] = {
    E.InvalidParameter: 400,
    E.UnsupportedCRS: 400,
    E.UnknownCollection: 404,
    E.FeatureNotFound: 404,
    E.UnknownAnalysis: 404,
    E.DuplicateFeature: 409,
    E.InvalidFeature: 422,
    E.StoreError: 503,
    E.CIMError: 400,
}


def _slug(title: str) -> str:
    return "urn:cim:problem:" + "-".join(title.lower().split())


def problem(status: int, title: str, detail: str, request: Request | None = None, **extra: Any) -> ProblemResponse:
    body: dict[str, Any] = {"type": _slug(title), "title": title, "status": status, "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
    body.update({k: v for k, v in extra.items() if v is not None})
    return ProblemResponse(body, status_code=status)


def status_of(exc: E.CIMError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400  # pragma: no cover


async def _cim_error(request: Request, exc: E.CIMError) -> ProblemResponse:
    return problem(status_of(exc), exc.title, exc.message, request, **exc.where)


def _param_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc[1:]) if len(loc) > 1 else str(loc[0])


async def _validation_error(request: Request, exc: RequestValidationError) -> ProblemResponse:
    errors = [
        {
            "parameter": _param_name(tuple(e.get("loc", ()))),
            "in": (e.get("loc") or ["?"])[0],
            "message": e.get("msg", ""),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"parameter": "?", "message": "invalid request"}
    detail = "; ".join(f"{e['parameter']}: {e['message']}" for e in errors)
    return problem(400, "Invalid parameter", detail, request, parameter=first["parameter"], errors=errors)


async def _http_error(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
    title = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}; see / for the links this service offers."
    resp = problem(exc.status_code, title, detail, request)
    if exc.headers:
        resp.headers.update(exc.headers)
    return resp


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unhandled error on %s", request.url.path)
    return problem(500, "Internal Server Error", "The server failed to answer; the error is logged.", request)


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(E.CIMError, _cim_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
