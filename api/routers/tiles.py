"""Meshes and 3D Tiles: one feature as GLB, a 3D Tiles 1.1 tileset per layer, and the viewer.

Tiles are built once per store version (``api.tilecache``) and answered with an ETag (conditional GET
gives 304), Cache-Control (``tileset.json`` revalidates; tiles live under a version prefix and are
immutable) and pre-compressed gzip when the client accepts it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response

from cim.collections import COLLECTIONS
from cim.store import Store
from tiles.feature import feature_glb
from tiles.layers import LAYERS

from ..deps import StoreDep, base_url
from ..media import JSON, ORJSONResponse
from ..tilecache import FORMAT, StaleTile, TileCache
from . import viewer

router = APIRouter(tags=["3D"])
router.include_router(viewer.router)

GLB = "model/gltf-binary"
REVALIDATE = "public, no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
_lock = threading.Lock()

LayerName = Annotated[str, Path(description="Layer: " + ", ".join(LAYERS))]


def tile_cache(request: Request, store: Store) -> TileCache:
    """The app's tile cache, made on first use (settings read then, not at import)."""
    cache = getattr(request.app.state, "tile_cache", None)
    if cache is None or cache.store is not store:
        with _lock:
            cache = getattr(request.app.state, "tile_cache", None)
            if cache is None or cache.store is not store:
                cache = request.app.state.tile_cache = TileCache(store)
    return cache


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def _send(
    request: Request,
    etag: str,
    cache_control: str,
    media_type: str,
    plain: Callable[[], bytes],
    gzipped: Callable[[], bytes] | None = None,
) -> Response:
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if gzipped is not None and "gzip" in request.headers.get("accept-encoding", "").lower():
        return Response(gzipped(), media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(plain(), media_type=media_type, headers=headers)


def _layer(name: str) -> str:
    if name not in LAYERS:
        raise HTTPException(404, f"No 3D Tiles layer {name!r}; the layers are {', '.join(LAYERS)}.")
    return name


_GLB_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {GLB: {}}, "description": "A GLB (binary glTF 2.0)."},
    304: {"description": "Not modified."},
}


@router.get(
    "/collections/{cid}/items/{fid}/mesh.glb",
    summary="One feature as a georeferenced GLB",
    response_class=Response,
    responses=_GLB_RESPONSE,
)
def feature_mesh(
    request: Request,
    store: StoreDep,
    cid: Annotated[str, Path(description="Collection id: " + ", ".join(COLLECTIONS))],
    fid: Annotated[str, Path(description="Feature id")],
) -> Response:
    """The feature's solid as GLB: local metres around the feature (glTF y-up: x east, y up, z -north),
    georeferenced by ``asset.extras.georeference`` (origin in longitude, latitude, height and in city
    coordinates; the ENU-to-ECEF matrix).  Properties in an EXT_structural_metadata table."""
    version = store.read_version()
    etag = '"' + hashlib.sha1(f"{store.url}|{FORMAT}|{version}|{cid}|{fid}".encode()).hexdigest()[:20] + '"'
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": REVALIDATE})
    feature = store.get(cid, fid)
    data = feature_glb(feature, store.city().crs_epsg, store.terrain() if cid == "pipes" else None)
    if data is None:
        raise HTTPException(404, f"Feature {fid!r} of {cid!r} has no solid to mesh (a junction is a point).")
    return Response(data, media_type=GLB, headers={"ETag": etag, "Cache-Control": REVALIDATE})


@router.get("/3dtiles", summary="3D Tiles layers", response_class=ORJSONResponse)
def layers(request: Request) -> ORJSONResponse:
    b = base_url(request)
    return ORJSONResponse(
        {
            "layers": [
                {
                    "id": lay.name,
                    "title": lay.title,
                    "collections": list(lay.collections),
                    "links": [
                        {
                            "href": f"{b}/3dtiles/{lay.name}/tileset.json",
                            "rel": "tileset",
                            "type": JSON,
                            "title": f"{lay.title} (3D Tiles 1.1)",
                        }
                    ],
                }
                for lay in LAYERS.values()
            ],
            "links": [
                {"href": f"{b}/3dtiles", "rel": "self", "type": JSON, "title": "3D Tiles layers"},
                {"href": f"{b}/viewer", "rel": "alternate", "type": "text/html", "title": "3D viewer"},
            ],
        }
    )


@router.get(
    "/3dtiles/{layer}/tileset.json",
    summary="A layer's 3D Tiles 1.1 tileset",
    response_class=Response,
    responses={200: {"content": {JSON: {}}}, 304: {"description": "Not modified."}},
)
def tileset(request: Request, store: StoreDep, layer: LayerName) -> Response:
    """The tileset of ``buildings``, ``pipes`` (with manholes), ``underground-structures`` or ``terrain``,
    built on first request after each change of the store (buildings: the tree from the spatial index at
    once, each tile built when first requested).  Tile URIs carry the store version."""
    built = tile_cache(request, store).get(_layer(layer))
    return _send(
        request,
        built.etag("tileset.json"),
        REVALIDATE,
        JSON,
        lambda: built.tileset,
        lambda: built.read("tileset.json.gz"),
    )


@router.get(
    "/3dtiles/{layer}/{path:path}", summary="A tile (GLB) of a layer", response_class=Response, responses=_GLB_RESPONSE
)
def tile(
    request: Request,
    store: StoreDep,
    layer: LayerName,
    path: Annotated[str, Path(description="A content URI of the layer's tileset.json, e.g. v3/0-1.glb")],
) -> Response:
    built = tile_cache(request, store).get(_layer(layer))
    if path not in built.paths:
        head = path.split("/", 1)[0]
        if head.startswith("v") and head[1:].isdigit() and int(head[1:]) != built.version:
            raise HTTPException(
                404, f"Tiles of store version {head[1:]} are gone (now {built.version}); reload {layer}/tileset.json."
            )
        raise HTTPException(404, f"No tile {path!r} in layer {layer!r}; see {layer}/tileset.json.")
    try:
        return _send(
            request, built.etag(path), IMMUTABLE, GLB, lambda: built.read(path), lambda: built.read(path + ".gz")
        )
    except StaleTile as exc:  # the store changed while this tile was being built
        raise HTTPException(
            404, f"Tiles of store version {exc.version} are gone; reload {layer}/tileset.json."
        ) from None
