"""``GET /viewer``: a CesiumJS page for the city's 3D Tiles, with CesiumJS served from this app.

CesiumJS comes from npm (``viewer/package.json`` pins it; ``make install`` runs ``npm ci`` in
``viewer/``) and is served at ``/viewer/cesium/`` from ``viewer/node_modules/cesium/Build/Cesium``.
Without it, ``/viewer`` answers 503 with a problem that says how to install it.  The page needs no
internet access and no Cesium ion token.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from ..errors import problem

VIEWER_DIR = Path(__file__).resolve().parents[2] / "viewer"
CESIUM_DIR = VIEWER_DIR / "node_modules" / "cesium" / "Build" / "Cesium"
INSTALL_HINT = (
    "CesiumJS is not installed: run `make install` (or `npm ci` in viewer/) on the server; "
    "the viewer serves it from viewer/node_modules/cesium/Build/Cesium."
)

router = APIRouter(tags=["3D"])


def cesium_available() -> bool:
    return (CESIUM_DIR / "Cesium.js").is_file()


class _CesiumFiles:
    """StaticFiles over the CesiumJS build, or a 503 problem while it is not installed."""

    def __init__(self) -> None:
        self._files: StaticFiles | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not cesium_available():
            resp = problem(503, "Service Unavailable", INSTALL_HINT, Request(scope))
            await resp(scope, receive, send)
            return
        if self._files is None:
            self._files = StaticFiles(directory=CESIUM_DIR)
        await self._files(scope, receive, send)


router.mount("/viewer/cesium", _CesiumFiles(), name="cesium")

_ASSETS = {"app.js": "text/javascript", "app.css": "text/css", "workspace.js": "text/javascript"}


@router.get(
    "/viewer",
    summary="3D viewer (CesiumJS)",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, 503: {"description": "CesiumJS not installed."}},
)
def viewer_page(request: Request) -> Response:
    """Buildings, pipes, underground structures and terrain from this service's 3D Tiles; click a feature
    to see its properties; an underground mode makes the ground translucent."""
    if not cesium_available():
        return problem(503, "Service Unavailable", INSTALL_HINT, request)
    root = request.scope.get("root_path", "").rstrip("/") + "/"
    html = (VIEWER_DIR / "index.html").read_text(encoding="utf-8").replace("__ROOT__", root)
    return HTMLResponse(html, headers={"Cache-Control": "public, no-cache"})


@router.get("/viewer/{asset}", include_in_schema=False)
def viewer_asset(asset: str) -> Response:
    """The viewer's own scripts and styles (``_ASSETS``); nothing else under /viewer is a file."""
    media = _ASSETS.get(asset)
    if media is None:
        return problem(404, "Not Found", f"No viewer file {asset!r}.")
    return FileResponse(VIEWER_DIR / asset, media_type=media, headers={"Cache-Control": "public, no-cache"})
