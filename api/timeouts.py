"""A time limit on analyses: past it the client gets 503 problem+json at once, and the worker is free.

A pure ASGI middleware.  The analysis runs in a task; when the limit passes first, the answer is a 503
with ``Retry-After`` and anything the late task sends afterwards is dropped.  Python cannot stop a
running thread, so the analysis finishes in its worker thread and its result is discarded (the
thread-pool cap, ``CIM_THREADS``, bounds how many can pile up).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson


class TimeLimit:
    def __init__(self, app: Any, seconds: float, prefix: str | tuple[str, ...] = "/analysis") -> None:
        self.app = app
        self.seconds = seconds
        self.prefix = prefix

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        state = {"started": False, "late": False}

        async def guarded(message: dict) -> None:
            if state["late"]:
                return
            state["started"] = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded))
        done, _ = await asyncio.wait({task}, timeout=self.seconds)
        if done:
            task.result()
            return
        if state["started"]:  # the answer is already streaming: let it finish
            await task
            return
        state["late"] = True
        body = orjson.dumps(
            {
                "type": "urn:cim:problem:analysis-time-limit",
                "title": "Analysis time limit",
                "status": 503,
                "detail": f"The analysis took longer than {self.seconds:g} s (CIM_ANALYSIS_TIMEOUT_S); try a smaller "
                "region or retry later.",
                "instance": scope["path"],
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"retry-after", b"30"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
