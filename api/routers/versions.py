"""Versions of the city (cim.versions): the list, one version's changes, a diff, a deletion as a version, and
the items of a collection as they were (``?version=`` / ``?datetime=`` on ``/collections/{cid}/items``)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request

from cim import versions as V
from cim.collections import get_spec
from cim.crs import OutputCRS
from cim.errors import InvalidParameter
from cim.geojson import encode_features
from cim.store import Region

from ..deps import StoreDep, WriterDep, base_url
from ..media import GEOJSON, JSON, GeoJSONResponse, ORJSONResponse

router = APIRouter(tags=["Versions"])


def author_of(request: Request) -> str | None:
    """Who writes: the bearer token, named by the first 8 hex digits of its SHA-256 (never the token itself)."""
    auth = request.headers.get("authorization", "")
    token = auth.partition(" ")[2].strip()
    return f"token:{hashlib.sha256(token.encode()).hexdigest()[:8]}" if token else None


@router.get("/versions", summary="Versions of the city", response_class=ORJSONResponse)
def list_versions(request: Request, store: StoreDep) -> ORJSONResponse:
    vs = V.versions(store)
    b = base_url(request)
    return ORJSONResponse(
        {
            "latest": vs[-1].n if vs else 0,
            "versions": [
                {
                    **v.model_dump(mode="json", exclude={"changes"}),
                    "counts": {cid: {k: len(x) for k, x in ch.model_dump().items()} for cid, ch in v.changes.items()},
                    "links": [{"href": f"{b}/versions/{v.n}/changes", "rel": "changes", "type": JSON}],
                }
                for v in vs
            ],
        }
    )


@router.get(
    "/versions/{n}/changes", summary="What one version added, changed and removed", response_class=ORJSONResponse
)
def version_changes(n: Annotated[int, Path(ge=1)], store: StoreDep) -> ORJSONResponse:
    return ORJSONResponse(V.get_version(store, n).model_dump(mode="json"))


@router.get("/versions/diff", summary="Changes between two versions", response_class=ORJSONResponse)
def version_diff(
    store: StoreDep,
    a: Annotated[int, Query(alias="from", ge=0, description="Earlier version (0: before the first).")],
    b: Annotated[int, Query(alias="to", ge=0, description="Later version.")],
) -> ORJSONResponse:
    return ORJSONResponse({"from": a, "to": b, "changes": {k: v.model_dump() for k, v in V.diff(store, a, b).items()}})


@router.delete(
    "/collections/{collectionId}/items/{featureId}",
    summary="Delete a feature (a new version)",
    response_class=ORJSONResponse,
    dependencies=[WriterDep],
)
def delete_item(
    request: Request,
    store: StoreDep,
    cid: Annotated[str, Path(alias="collectionId")],
    fid: Annotated[str, Path(alias="featureId")],
    note: Annotated[str | None, Query(description="Why (kept with the version).")] = None,
) -> ORJSONResponse:
    v = V.delete(store, cid, [fid], author=author_of(request), note=note)
    return ORJSONResponse({"version": v.n, "changes": {k: c.model_dump() for k, c in v.changes.items()}})


def items_as_of(
    request: Request,
    store: Any,
    cid: str,
    *,
    version: int | None,
    when: str | None,
    region: Region | None,
    limit: int,
    offset: int,
    ocrs: OutputCRS,
    names: list[str] | None,
    skip_geometry: bool,
    unsupported: dict[str, Any],
) -> GeoJSONResponse:
    """``/collections/{cid}/items?version=N`` or ``?datetime=T``: the collection as it was, in id order (GeoJSON;
    bbox, limit, offset, crs, properties and skipGeometry apply; filter and sortby do not)."""
    if version is not None and when is not None:
        raise InvalidParameter("version", "give version or datetime, not both.")
    for name, value in unsupported.items():
        if value:
            raise InvalidParameter(name, f"{name} cannot be combined with version or datetime (GeoJSON pages only).")
    if when is not None and "/" in when:
        raise InvalidParameter(
            "datetime", "datetime must be one instant here (the city as it was then), not an interval."
        )
    n = version if version is not None else V.version_at(store, when)  # type: ignore[arg-type]
    spec = get_spec(cid)
    feats = sorted(V.state_at(store, cid, n).values(), key=lambda f: f.id)  # type: ignore[attr-defined]
    if region is not None:
        import shapely

        poly = region.polygon
        keep = shapely.intersects(poly, [spec.shape(f) for f in feats]) if feats else []
        feats = [f for f, k in zip(feats, keep, strict=True) if k]
        if region.zmin is not None or region.zmax is not None:
            lo = -float("inf") if region.zmin is None else region.zmin
            hi = float("inf") if region.zmax is None else region.zmax
            feats = [f for f in feats if spec.bounds(f)[5] >= lo and spec.bounds(f)[2] <= hi]
    page = feats[offset : offset + limit]
    out = encode_features(spec, page, ocrs, properties=names, skip_geometry=skip_geometry)
    here = f"{base_url(request)}/collections/{cid}/items"
    params = dict(request.query_params)
    links = [
        {"href": f"{here}?{urlencode({**params, 'offset': offset, 'limit': limit})}", "rel": "self", "type": GEOJSON}
    ]
    if offset + len(page) < len(feats):
        q = {**params, "offset": offset + len(page), "limit": limit}
        links.append({"href": f"{here}?{urlencode(q)}", "rel": "next", "type": GEOJSON})
    body = {
        "type": "FeatureCollection",
        "features": out,
        "numberMatched": len(feats),
        "numberReturned": len(out),
        "version": n,
        "links": links,
    }
    return GeoJSONResponse(body)
