"""OGC API - Features: collections, items, item (Parts 1 and 2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request

from cim.collections import COLLECTIONS, get_spec
from cim.crs import CRS84, OutputCRS, check_supported, city_to_lonlat, epsg_uri, supported_crs
from cim.geojson import encode_features
from cim.query import parse_bbox, region_from_bbox
from cim.store import Store

from ..deps import OutputCRSParam, SettingsDep, StoreDep, base_url
from ..media import GEOJSON, JSON, GeoJSONResponse, ORJSONResponse

router = APIRouter(tags=["Data"])

CollectionId = Annotated[str, Path(description="Collection id: " + ", ".join(COLLECTIONS))]
Format = Annotated[Literal["json", "geojson"] | None, Query(description="Output format (GeoJSON).")]


def _extent(store: Store, cid: str) -> dict[str, Any] | None:
    b = store.bounds(cid)
    if b is None:
        return None
    import numpy as np

    epsg = store.city().crs_epsg
    corners = np.array([[b[0], b[1]], [b[3], b[1]], [b[3], b[4]], [b[0], b[4]]])
    ll = city_to_lonlat(corners, epsg)
    lo, hi = ll.min(axis=0), ll.max(axis=0)
    return {"spatial": {"bbox": [[round(lo[0], 7), round(lo[1], 7), round(b[2], 3),
                                  round(hi[0], 7), round(hi[1], 7), round(b[5], 3)]],
                        "crs": "http://www.opengis.net/def/crs/OGC/0/CRS84h"}}


def _collection(request: Request, store: Store, cid: str) -> dict[str, Any]:
    spec = get_spec(cid)
    b = base_url(request)
    city = store.city()
    doc: dict[str, Any] = {
        "id": cid,
        "title": spec.title,
        "description": spec.description,
        "itemType": "feature",
        "crs": supported_crs(city.crs_epsg),
        "storageCrs": epsg_uri(city.crs_epsg),
        "links": [
            {"href": f"{b}/collections/{cid}", "rel": "self", "type": JSON, "title": spec.title},
            {"href": f"{b}/collections/{cid}/items", "rel": "items", "type": GEOJSON,
             "title": f"{spec.title} as GeoJSON"},
        ],
        "geometryType": spec.geometry_type,
        "verticalDatum": city.vertical_datum,
        "numberOfFeatures": store.counts()[cid],
    }
    extent = _extent(store, cid)
    if extent:
        doc["extent"] = extent
    return doc


@router.get("/collections", summary="Feature collections", response_class=ORJSONResponse)
def collections(request: Request, store: StoreDep) -> ORJSONResponse:
    b = base_url(request)
    city = store.city()
    return ORJSONResponse({
        "links": [{"href": f"{b}/collections", "rel": "self", "type": JSON, "title": "Collections"}],
        "collections": [_collection(request, store, cid) for cid in COLLECTIONS],
        "crs": supported_crs(city.crs_epsg),
    })


@router.get("/collections/{cid}", summary="One collection", response_class=ORJSONResponse)
def collection(request: Request, cid: CollectionId, store: StoreDep) -> ORJSONResponse:
    return ORJSONResponse(_collection(request, store, cid))


def _content_crs(uri: str) -> dict[str, str]:
    return {"Content-Crs": f"<{uri}>"}


@router.get("/collections/{cid}/items", summary="Features of a collection",
            response_class=GeoJSONResponse)
def items(
    request: Request,
    cid: CollectionId,
    store: StoreDep,
    settings: SettingsDep,
    out: Annotated[OutputCRSParam, Depends()],
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy or minx,miny,minz,maxx,maxy,maxz "
                                      "(in bbox-crs axis order; z in metres of the city height datum)",
                                      examples=["123.41,41.79,123.42,41.80"])] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox (URI); default CRS84.")] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="Page size (1-10000, default 10).")] = None,
    offset: Annotated[int, Query(ge=0, description="Features to skip.")] = 0,
    f: Format = None,
) -> GeoJSONResponse:
    spec = get_spec(cid)
    city = store.city()
    out_uri = out.uri(store)
    limit = min(limit or settings.default_limit, settings.max_limit)
    region = None
    if bbox is not None:
        region = region_from_bbox(parse_bbox(bbox), check_supported(bbox_crs, city.crs_epsg, "bbox-crs"),
                                  city.crs_epsg)
    elif bbox_crs is not None:
        check_supported(bbox_crs, city.crs_epsg, "bbox-crs")
    page = store.query(cid, region=region, limit=limit, offset=offset)
    feats = encode_features(spec, page.features, OutputCRS(city.crs_epsg, out_uri))
    b = base_url(request)
    here = f"{b}/collections/{cid}/items"
    params = dict(request.query_params)

    def link(rel: str, off: int, title: str) -> dict[str, str]:
        q = {**params, "offset": str(off), "limit": str(limit)}
        return {"href": f"{here}?{urlencode(q)}", "rel": rel, "type": GEOJSON, "title": title}

    links = [link("self", offset, "This page"),
             {"href": f"{b}/collections/{cid}", "rel": "collection", "type": JSON, "title": spec.title}]
    if offset + len(feats) < page.matched:
        links.append(link("next", offset + len(feats), "Next page"))
    if offset > 0:
        links.append(link("prev", max(0, offset - limit), "Previous page"))
    body = {
        "type": "FeatureCollection",
        "features": feats,
        "numberMatched": page.matched,
        "numberReturned": len(feats),
        "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    }
    return GeoJSONResponse(body, headers=_content_crs(out_uri))


@router.get("/collections/{cid}/items/{fid}", summary="One feature", response_class=GeoJSONResponse)
def item(
    request: Request,
    cid: CollectionId,
    fid: Annotated[str, Path(description="Feature id")],
    store: StoreDep,
    out: Annotated[OutputCRSParam, Depends()],
    f: Format = None,
) -> GeoJSONResponse:
    spec = get_spec(cid)
    city = store.city()
    out_uri = out.uri(store)
    feature = store.get(cid, fid)
    doc = encode_features(spec, [feature], OutputCRS(city.crs_epsg, out_uri))[0]
    b = base_url(request)
    doc["links"] = [
        {"href": f"{b}/collections/{cid}/items/{fid}", "rel": "self", "type": GEOJSON, "title": "This feature"},
        {"href": f"{b}/collections/{cid}", "rel": "collection", "type": JSON, "title": spec.title},
    ]
    return GeoJSONResponse(doc, headers=_content_crs(out_uri))


__all__ = ["router", "CRS84"]
