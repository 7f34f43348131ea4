"""OGC SensorThings API 1.1 (Sensing) at ``/sta/v1.1`` and the alarms at ``GET /alarms``.

Reads are open like the rest of the service; writes (POST, PATCH, DELETE, ``/CreateObservations``) need a
write token.  The library (:mod:`cim.sensors`) does the work; errors are problem+json naming the field or
query option at fault.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from cim.errors import InvalidParameter
from cim.sensors import Sensors, feature_sensors

from ..deps import StoreDep, WriterDep, base_url
from ..media import GeoJSONResponse, ORJSONResponse

ROOT = "/sta/v1.1"
router = APIRouter(tags=["SensorThings"])


def _sensors(request: Request, store: Any) -> Sensors:
    s = getattr(request.app.state, "sensors", None)
    if s is None or s.store is not store:
        s = request.app.state.sensors = Sensors(store)
    return s


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise InvalidParameter("body", "The request has no JSON body.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter("body", f"The body is not JSON: {exc}.") from None


@router.get(ROOT, response_class=ORJSONResponse, summary="SensorThings service root")
async def sta_root(request: Request, store: StoreDep) -> Any:
    return _sensors(request, store).root(base_url(request) + ROOT)


@router.post(ROOT + "/CreateObservations", status_code=201, dependencies=[WriterDep], summary="DataArray ingest")
async def create_observations(request: Request, store: StoreDep) -> ORJSONResponse:
    body = await _body(request)
    links = await run_in_threadpool(_sensors(request, store).create_observations, body, base_url(request) + ROOT)
    return ORJSONResponse(links, status_code=201)


@router.get(ROOT + "/{path:path}", response_class=ORJSONResponse, summary="Read entities")
async def sta_get(path: str, request: Request, store: StoreDep) -> Any:
    result = await run_in_threadpool(
        _sensors(request, store).get, path, dict(request.query_params), base_url(request) + ROOT
    )
    if path.endswith("/$value"):
        return Response(str(result) if result is not None else "", media_type="text/plain")
    return ORJSONResponse(result)


@router.post(ROOT + "/{path:path}", status_code=201, dependencies=[WriterDep], summary="Create entities")
async def sta_post(path: str, request: Request, store: StoreDep) -> ORJSONResponse:
    body = await _body(request)
    url, entity = await run_in_threadpool(_sensors(request, store).create, path, body, base_url(request) + ROOT)
    return ORJSONResponse(entity, status_code=201, headers={"Location": url})


@router.patch(ROOT + "/{path:path}", dependencies=[WriterDep], summary="Update an entity")
async def sta_patch(path: str, request: Request, store: StoreDep) -> ORJSONResponse:
    body = await _body(request)
    s = _sensors(request, store)
    await run_in_threadpool(s.update, path, body)
    return ORJSONResponse(await run_in_threadpool(s.get, path, {}, base_url(request) + ROOT))


@router.delete(ROOT + "/{path:path}", dependencies=[WriterDep], summary="Delete an entity")
async def sta_delete(path: str, request: Request, store: StoreDep) -> Response:
    await run_in_threadpool(_sensors(request, store).delete, path)
    return Response(status_code=200)


def sensor_things(doc: dict[str, Any], store: Any, feature: str, base: str) -> None:
    """Tie a feature's GeoJSON to its sensors: a ``related`` link per Thing watching it and, as the foreign
    member ``sensors``, each Datastream's latest reading and active alarm severity (nothing when none)."""
    things = feature_sensors(store, feature)
    if not things:
        return
    for th in things:
        doc["links"].append(
            {
                "href": f"{base}{ROOT}/Things({th['id']})",
                "rel": "related",
                "type": "application/json",
                "title": f"Sensor: {th['name']}",
            }
        )
    doc["sensors"] = things


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        v = [float(x) for x in text.split(",")]
    except ValueError:
        v = []
    if len(v) != 4 or not (v[0] <= v[2] and v[1] <= v[3]):
        raise InvalidParameter("bbox", "bbox is min lon, min lat, max lon, max lat (CRS84 degrees).")
    return v[0], v[1], v[2], v[3]


@router.get("/alarms", response_class=GeoJSONResponse, summary="Alarms from sensor thresholds")
async def alarms(
    request: Request,
    store: StoreDep,
    active: Annotated[bool | None, Query(description="true: open alarms only; false: closed ones only")] = None,
    bbox: Annotated[
        str | None, Query(description="min lon, min lat, max lon, max lat (CRS84): alarms located there")
    ] = None,
    severity: Annotated[str | None, Query(description="info, warning, alarm or critical")] = None,
    datastream: Annotated[int | None, Query(description="a Datastream id")] = None,
    feature: Annotated[str | None, Query(description="a city feature, collection/fid")] = None,
) -> GeoJSONResponse:
    box = _bbox(bbox) if bbox is not None else None
    found = await run_in_threadpool(
        lambda: _sensors(request, store).alarms(
            active=active, severity=severity, datastream=datastream, feature=feature
        )
    )
    feats = []
    for a in found:
        geom = a.pop("geometry")
        if box is not None:
            if geom is None or geom.get("type") != "Point":
                continue
            x, y = geom["coordinates"][:2]
            if not (box[0] <= x <= box[2] and box[1] <= y <= box[3]):
                continue
        feats.append({"type": "Feature", "id": a["id"], "geometry": geom, "properties": a})
    return GeoJSONResponse({"type": "FeatureCollection", "numberReturned": len(feats), "features": feats})
