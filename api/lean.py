"""A lean path for ``POST /analysis/underground-use``: the framework's per-request machinery left out.

A pure ASGI middleware, innermost (inside the time limit and CORS): for a JSON body it validates the request in one
pydantic-core call (``model_validate_json``: parse and validation at once), runs the analysis, and writes the answer
with orjson from plain values (:func:`cim.analysis.underground.run_json`), with no routing, dependency solving or
model building.  Regions of at most :data:`INLINE_M2` on a store whose reads are in-process calls (SQLite) run on the
event loop, which saves the two thread hand-overs; others go to the thread pool as the route does.

Anything else (another content type, reads behind a token, a body the model refuses, an error in the analysis)
goes to the framework's route with the body replayed, so every error answer (problem+json) is the route's own; the
route also keeps the OpenAPI entry.  ``CIM_LEAN_ROUTES=false`` turns the lean path off.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from pydantic import ValidationError

from cim.analysis.underground import UndergroundUseRequest, region_of, run_json

PATH = "/analysis/underground-use"
INLINE_M2 = 250_000.0  # regions up to 500 m x 500 m run on the event loop (SQLite stores)
MAX_BODY = 1 << 20  # larger bodies go to the framework (its limits and errors)


class LeanUnderground:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        app = scope["app"]
        settings = app.state.settings
        if not settings.lean_routes or settings.protect_reads or not _json(scope["headers"]):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":  # the client went away
                return
            chunk = msg.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = msg.get("more_body", False)
            if size > MAX_BODY:
                break
        body = b"".join(chunks)
        try:
            out = None if more else await _answer(app, body)
        except Exception:  # the route answers it (its problem+json)
            out = None
        if out is None:
            await self.app(scope, _replay(body, more, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(out)).encode()), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": out})


async def _answer(app: Any, body: bytes) -> bytes | None:
    """The answer's body, or None for a request the route must answer."""
    try:
        req = UndergroundUseRequest.model_validate_json(body)
    except ValidationError:
        return None
    city = app.state.city
    if getattr(city.store, "inline_reads", False):
        poly = region_of(city, req)
        if poly.area <= INLINE_M2:
            return run_json(city, req, poly)
        return await anyio.to_thread.run_sync(run_json, city, req, poly)
    return await anyio.to_thread.run_sync(run_json, city, req)


def _json(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request's content type is plain ``application/json``."""
    for k, v in headers:
        if k == b"content-type":
            return v.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


def _replay(body: bytes, more: bool, receive: Any) -> Any:
    """``receive`` giving the body read so far, then (when it was cut short) the rest from the client."""
    sent = False

    async def again() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return again
