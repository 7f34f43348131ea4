"""OGC API - Features: collections, items, item (Parts 1 and 2)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from cim.analysis.params import city_bbox
from cim.collections import COLLECTIONS, get_spec
from cim.crs import CRS84, OutputCRS, check_supported, city_to_lonlat, epsg_uri, normalise, supported_crs
from cim.errors import InvalidParameter
from cim.geojson import encode_features
from cim.io.writers import OutputContext, get_writer
from cim.query.cql2 import parse_filter, parse_sortby
from cim.query.queryables import json_schema
from cim.store import Store

from ..deps import OutputCRSDep, SettingsDep, StoreDep, base_url
from ..media import CITYJSON, CITYJSON_SEQ, CSV, GEOJSON, JSON, SCHEMA_JSON, GeoJSONResponse, ORJSONResponse
from .sensorthings import sensor_things

router = APIRouter(tags=["Data"])

CollectionId = Annotated[str, Path(alias="collectionId", description="Collection id: " + ", ".join(COLLECTIONS))]
Format = Annotated[Literal["json", "geojson"] | None, Query(description="Output format (GeoJSON).")]


def _cached(request: Request, store: Store, key: tuple[str, ...], make: Callable[[], Any]) -> Any:
    """``make()``, made once per store version (and ``key``) and kept on the app: documents that change only
    with the store (collections, queryables) cost one read of the version per request."""
    version = (id(store), store.read_version())
    cache: tuple[tuple[int, int], dict[tuple[str, ...], Any]] | None = getattr(request.app.state, "docs_cache", None)
    if cache is None or cache[0] != version:
        cache = request.app.state.docs_cache = (version, {})
    value = cache[1].get(key)
    if value is None:
        value = cache[1][key] = make()
    return value


def _dumps(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def _json(content: bytes, media_type: str = JSON) -> Response:
    return Response(content, media_type=media_type)


def _extent(store: Store, cid: str) -> dict[str, Any] | None:
    b = store.bounds(cid)
    if b is None:
        return None
    import numpy as np

    epsg = store.city().crs_epsg
    corners = np.array([[b[0], b[1]], [b[3], b[1]], [b[3], b[4]], [b[0], b[4]]])
    ll = city_to_lonlat(corners, epsg)
    lo, hi = ll.min(axis=0), ll.max(axis=0)
    return {
        "spatial": {
            "bbox": [
                [round(lo[0], 7), round(lo[1], 7), round(b[2], 3), round(hi[0], 7), round(hi[1], 7), round(b[5], 3)]
            ],
            "crs": "http://www.opengis.net/def/crs/OGC/0/CRS84h",
        }
    }


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
            {
                "href": f"{b}/collections/{cid}/items",
                "rel": "items",
                "type": GEOJSON,
                "title": f"{spec.title} as GeoJSON",
            },
            {
                "href": f"{b}/collections/{cid}/queryables",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": SCHEMA_JSON,
                "title": "Queryable properties",
            },
            {
                "href": f"{b}/collections/{cid}/queryables",
                "rel": "queryables",
                "type": JSON,
                "title": "Queryable properties (for clients of the Part 3 drafts)",
            },
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
def collections(request: Request, store: StoreDep) -> Response:
    b = base_url(request)

    def make() -> bytes:
        city = store.city()
        return _dumps(
            {
                "links": [{"href": f"{b}/collections", "rel": "self", "type": JSON, "title": "Collections"}],
                "collections": [_collection(request, store, cid) for cid in COLLECTIONS],
                "crs": supported_crs(city.crs_epsg),
            }
        )

    return _json(_cached(request, store, ("collections", b), make))


@router.get("/collections/{collectionId}", summary="One collection", response_class=ORJSONResponse)
def collection(request: Request, cid: CollectionId, store: StoreDep) -> Response:
    get_spec(cid)
    b = base_url(request)
    return _json(_cached(request, store, ("collection", b, cid), lambda: _dumps(_collection(request, store, cid))))


def _is_crs84(crs: str | None) -> bool:
    """Whether a ``crs`` parameter asks for CRS84 (the default)."""
    return crs is None or crs == "" or normalise(crs) == CRS84


def _content_crs(uri: str) -> dict[str, str]:
    return {"Content-Crs": f"<{uri}>"}


FORMATS = {"json": GEOJSON, "geojson": GEOJSON, "csv": CSV, "cityjson": CITYJSON, "cityjsonseq": CITYJSON_SEQ}
_ACCEPT = [(CITYJSON_SEQ, "cityjsonseq"), (CITYJSON, "cityjson"), (CSV, "csv")]


def _format(f: str | None, request: Request) -> str:
    """``f`` wins; else the first of our media types the Accept header names; else GeoJSON."""
    if f is not None:
        return f
    accept = request.headers.get("accept", "")
    for media, name in _ACCEPT:
        if media in accept:
            return name
    return "geojson"


def _properties(text: str | None, cid: str) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = set(get_spec(cid).model.model_fields) - get_spec(cid).geometry_fields - {"id"} | {"lod"}
    bad = [n for n in names if n not in known]
    if bad:
        raise InvalidParameter("properties", f"unknown properties {', '.join(bad)}; known: {', '.join(sorted(known))}.")
    return names


@router.get(
    "/collections/{collectionId}/queryables",
    summary="Queryable properties (JSON Schema)",
    response_class=ORJSONResponse,
)
def queryables_doc(request: Request, cid: CollectionId, store: StoreDep) -> Response:
    accept = request.headers.get("accept", "")
    media = JSON if JSON in accept and SCHEMA_JSON not in accept else SCHEMA_JSON
    get_spec(cid)
    b = base_url(request)
    return _json(_cached(request, store, ("queryables", b, cid), lambda: _dumps(json_schema(cid, b))), media)


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, CSV: {}, CITYJSON: {}, CITYJSON_SEQ: {}}}},
)
async def items(
    request: Request,
    cid: CollectionId,
    store: StoreDep,
    settings: SettingsDep,
    out: OutputCRSDep,
    bbox: Annotated[
        str | None,
        Query(
            description="minx,miny,maxx,maxy or minx,miny,minz,maxx,maxy,maxz "
            "(in bbox-crs axis order; z in metres of the city height datum)",
            examples=["123.41,41.79,123.42,41.80"],
        ),
    ] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox (URI); default CRS84.")] = None,
    filter: Annotated[
        str | None,
        Query(
            description="CQL2 filter (text or JSON), e.g. height > 100 AND use = 'residential' AND year_built < 2000"
        ),
    ] = None,
    filter_lang: Annotated[
        Literal["cql2-text", "cql2-json", "cql-text"] | None,
        Query(
            alias="filter-lang",
            description="cql2-text (default) or cql2-json; cql-text (the Part 3 draft name, "
            "sent by GDAL 3.6) is read as cql2-text.",
        ),
    ] = None,
    filter_crs: Annotated[
        str | None, Query(alias="filter-crs", description="CRS of geometry literals in the filter; default CRS84.")
    ] = None,
    sortby: Annotated[
        str | None, Query(description="Sort keys, comma-separated, - for descending: -height,year_built")
    ] = None,
    properties: Annotated[str | None, Query(description="Only these properties, comma-separated.")] = None,
    skip_geometry: Annotated[bool, Query(alias="skipGeometry", description="Leave geometries out.")] = False,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=10_000_000,
            description="Page size (GeoJSON 1-10000, default 10; CSV and CityJSON default: every match).",
        ),
    ] = None,
    offset: Annotated[int, Query(ge=0, description="Features to skip.")] = 0,
    f: Annotated[
        Literal["json", "geojson", "csv", "cityjson", "cityjsonseq"] | None,
        Query(description="Output format; also chosen by the Accept header."),
    ] = None,
    version: Annotated[int | None, Query(ge=0, description="The collection as it was at this version.")] = None,
    datetime_: Annotated[
        str | None, Query(alias="datetime", description="The collection as it was at this instant (RFC 3339).")
    ] = None,
) -> Response:
    # Pages in CRS84 without filter, sort or projections (an index query and a byte join) run on the event loop
    # where the store's reads are short in-process calls (SQLite): no thread-pool hop.  The rest: thread pool.
    work = partial(
        _items,
        request,
        cid,
        store,
        settings,
        out,
        bbox,
        bbox_crs,
        filter,
        filter_lang,
        filter_crs,
        sortby,
        properties,
        skip_geometry,
        limit,
        offset,
        f,
        version,
        datetime_,
    )
    fast = (
        getattr(store, "inline_reads", False)
        and _is_crs84(out.crs)
        and filter is None
        and sortby is None
        and properties is None
        and not skip_geometry
        and version is None
        and datetime_ is None
        and _format(f, request) in ("json", "geojson")
    )
    return work() if fast else await run_in_threadpool(work)


def _items(
    request,
    cid,
    store,
    settings,
    out,
    bbox,
    bbox_crs,
    filter,
    filter_lang,
    filter_crs,
    sortby,
    properties,
    skip_geometry,
    limit,
    offset,
    f,
    version,
    datetime_,
) -> Response:
    spec = get_spec(cid)
    city = store.city()
    out_uri = out.uri(store, city.crs_epsg)
    fmt = _format(f, request)
    region = city_bbox(city, bbox, bbox_crs)
    if region is not None:
        if settings.max_bbox_km2 is not None and region.polygon.area / 1e6 > settings.max_bbox_km2:
            raise InvalidParameter(
                "bbox",
                f"bbox covers {region.polygon.area / 1e6:,.1f} km², more than the "
                f"{settings.max_bbox_km2:g} km² this service answers at once.",
            )
    lang = "cql2-text" if filter_lang == "cql-text" else filter_lang
    flt = None if filter is None else parse_filter(filter, lang=lang, crs=filter_crs, city_epsg=city.crs_epsg)
    if filter is None and (filter_crs or filter_lang):
        check_supported(filter_crs, city.crs_epsg, "filter-crs")
    order = parse_sortby(sortby, cid)
    names = _properties(properties, cid)
    ocrs = OutputCRS(city.crs_epsg, out_uri)
    if version is not None or datetime_ is not None:  # the city as it was (cim.versions)
        from .versions import items_as_of

        lim = min(limit or settings.default_limit, settings.max_limit)
        bad = {"filter": filter, "sortby": sortby, "f": fmt not in ("json", "geojson")}
        return items_as_of(
            request,
            store,
            cid,
            version=version,
            when=datetime_,
            region=region,
            limit=lim,
            offset=offset,
            ocrs=ocrs,
            names=names,
            skip_geometry=skip_geometry,
            unsupported=bad,
        )
    if fmt in ("csv", "cityjson", "cityjsonseq"):
        return _stream(fmt, store, spec, city, region, flt, order, names, skip_geometry, ocrs, limit, offset)
    if limit is not None and limit > settings.max_limit:
        raise InvalidParameter(
            "limit",
            f"limit must be at most {settings.max_limit} for GeoJSON (use f=csv or f=cityjsonseq to stream more).",
        )
    limit = limit or settings.default_limit
    if out_uri == CRS84 and names is None and not skip_geometry:  # stored bytes, spliced (no models)
        raw = store.query_geojson(cid, region=region, filter=flt, sortby=order, limit=limit, offset=offset)
        if raw is not None:
            links = _page_links(request, spec, cid, limit, offset, len(raw.features), raw.matched)
            return Response(
                _collection_bytes(raw.features, raw.matched, links), media_type=GEOJSON, headers=_content_crs(out_uri)
            )
    page = store.query(cid, region=region, filter=flt, sortby=order, limit=limit, offset=offset)
    feats = encode_features(spec, page.features, ocrs, properties=names, skip_geometry=skip_geometry)
    links = _page_links(request, spec, cid, limit, offset, len(feats), page.matched)
    body = {
        "type": "FeatureCollection",
        "features": feats,
        "numberMatched": page.matched,
        "numberReturned": len(feats),
        "timeStamp": _now(),
        "links": links,
    }
    return GeoJSONResponse(body, headers=_content_crs(out_uri))


_STAMP: list = [0, ""]  # [second, its RFC 3339 text]: strftime once a second, not once a page


def _now() -> str:
    now = time.time()
    if int(now) != _STAMP[0]:
        _STAMP[:] = [int(now), datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
    return _STAMP[1]


def _collection_bytes(features: list[bytes], matched: int, links: list[dict[str, str]]) -> bytes:
    """The FeatureCollection of the slow path's ``body``, byte for byte, around already encoded features."""
    tail = orjson.dumps(
        {"numberMatched": matched, "numberReturned": len(features), "timeStamp": _now(), "links": links}
    )
    return b'{"type":"FeatureCollection","features":[' + b",".join(features) + b"]," + tail[1:]


def _page_links(
    request: Request, spec: Any, cid: str, limit: int, offset: int, returned: int, matched: int
) -> list[dict[str, str]]:
    """The links of an items page: self, collection, the alternates, next and prev."""
    b = base_url(request)
    here = f"{b}/collections/{cid}/items"
    params = dict(request.query_params)

    def link(rel: str, off: int, title: str) -> dict[str, str]:
        q = {**params, "offset": str(off), "limit": str(limit)}
        return {"href": f"{here}?{urlencode(q)}", "rel": rel, "type": GEOJSON, "title": title}

    links = [
        link("self", offset, "This page"),
        {"href": f"{b}/collections/{cid}", "rel": "collection", "type": JSON, "title": spec.title},
    ]
    for media, name in ((CSV, "csv"), (CITYJSON_SEQ, "cityjsonseq")):
        q = {k: v for k, v in params.items() if k not in ("f", "limit", "offset")}
        links.append(
            {
                "href": f"{here}?{urlencode({**q, 'f': name})}",
                "rel": "alternate",
                "type": media,
                "title": f"Every match as {name}",
            }
        )
    if offset + returned < matched:
        links.append(link("next", offset + returned, "Next page"))
    if offset > 0:
        links.append(link("prev", max(0, offset - limit), "Previous page"))
    return links


def _stream(fmt, store, spec, city, region, flt, order, names, skip_geometry, ocrs, limit, offset) -> Response:
    """CSV, CityJSON and CityJSONSeq: every match (or the page asked for), streamed in batches."""

    def features():
        if order or offset or limit is not None:  # ordered or paged: page through the store
            done, k = 0, offset
            while limit is None or done < limit:
                n = 1000 if limit is None else min(1000, limit - done)
                page = store.query(spec.id, region=region, filter=flt, sortby=order, limit=n, offset=k)
                yield from page.features
                done += len(page.features)
                k += len(page.features)
                if len(page.features) < n:
                    return
        else:
            yield from store.iter_features(spec.id, region=region, filter=flt)

    writer = get_writer(fmt)
    chunks = writer.write(OutputContext(city, spec, ocrs, names, skip_geometry), features)
    if fmt == "csv":
        return StreamingResponse(
            chunks,
            media_type=CSV + "; charset=utf-8",
            headers={**_content_crs(ocrs.uri), "Content-Disposition": f'inline; filename="{spec.id}.csv"'},
        )
    return StreamingResponse(chunks, media_type=writer.media_type)


@router.get("/collections/{collectionId}/items/{featureId}", summary="One feature", response_class=GeoJSONResponse)
async def item(
    request: Request,
    cid: CollectionId,
    fid: Annotated[str, Path(alias="featureId", description="Feature id")],
    store: StoreDep,
    out: OutputCRSDep,
    f: Format = None,
) -> Response:
    work = partial(_item, request, cid, fid, store, out, f)
    return work() if getattr(store, "inline_reads", False) and _is_crs84(out.crs) else await run_in_threadpool(work)


def _item(
    request,
    cid,
    fid,
    store,
    out,
    f,
) -> Response:
    spec = get_spec(cid)
    city = store.city()
    out_uri = out.uri(store, city.crs_epsg)
    raw = store.get_geojson(cid, fid) if out_uri == CRS84 else None
    if raw is not None:  # the stored bytes, with the links (and sensors) spliced in after the properties
        extra = {"links": _item_links(request, spec, cid, fid)}
        sensor_things(extra, store, f"{cid}/{fid}", base_url(request))
        body = raw[:-1] + b"," + orjson.dumps(extra)[1:]
        return Response(body, media_type=GEOJSON, headers=_content_crs(out_uri))
    feature = store.get(cid, fid)
    doc = encode_features(spec, [feature], OutputCRS(city.crs_epsg, out_uri))[0]
    doc["links"] = _item_links(request, spec, cid, fid)
    sensor_things(doc, store, f"{cid}/{fid}", base_url(request))
    return GeoJSONResponse(doc, headers=_content_crs(out_uri))


def _item_links(request: Request, spec: Any, cid: str, fid: str) -> list[dict[str, str]]:
    b = base_url(request)
    return [
        {"href": f"{b}/collections/{cid}/items/{fid}", "rel": "self", "type": GEOJSON, "title": "This feature"},
        {"href": f"{b}/collections/{cid}", "rel": "collection", "type": JSON, "title": spec.title},
    ]


__all__ = ["router", "CRS84"]
