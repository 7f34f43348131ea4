"""Imports: ``POST /imports`` (multipart upload, bearer token) and ``GET /imports/{id}``.

Uploads are saved under generated names (only a known extension is kept), imported in a worker
thread in one store transaction, and removed afterwards.  The job's status lives in the store, so any
API worker can answer ``GET /imports/{id}``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile

from cim.analysis.processes import orphaned
from cim.errors import CIMError
from cim.io import READERS, import_files
from cim.store import Store

from ..deps import SettingsDep, StoreDep, WriterDep, base_url
from ..errors import status_of
from ..media import ORJSONResponse
from .versions import author_of

router = APIRouter(tags=["Imports"])
_SUFFIX = re.compile(r"(\.[a-z0-9]{1,8}){1,2}$")
_CHUNK = 1 << 20


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _safe_suffix(name: str) -> str:
    """The file's extension(s) if they are plain (``.city.json``, ``.laz``), else nothing."""
    m = _SUFFIX.search(Path(name).name.lower())
    return m.group(0) if m else ""


def _run(
    store: Store,
    job: dict[str, Any],
    paths: list[Path],
    names: list[str],
    crs: str | None,
    fmt: str | None,
    utility: str | None,
    workdir: Path,
    limits: dict[str, Any],
    options: dict[str, Any] | None = None,
) -> None:
    def progress(stage: str, fraction: float) -> None:
        job.update(status="running", stage=stage, progress=round(fraction, 3), updated=_now())
        store.put_job(job["id"], job)

    try:
        report = import_files(
            store, paths, crs=crs, fmt=fmt, names=names, progress=progress, utility=utility, **limits, **(options or {})
        )
        job.update(
            status="succeeded",
            progress=1.0,
            stage="done",
            counts=report.counts,
            files=report.files,
            terrain=report.terrain,
            skipped=report.skipped,
            updated=_now(),
            **({"clashes": report.clashes.model_dump(mode="json")} if report.clashes is not None else {}),
        )
    except CIMError as exc:
        job.update(
            status="failed",
            updated=_now(),
            error={"title": exc.title, "status": status_of(exc), "detail": exc.message, **exc.where},
            **({"clashes": exc.report.model_dump(mode="json")} if hasattr(exc, "report") else {}),
        )
    except Exception as exc:  # noqa: BLE001 - a job must end in a state, whatever happened
        job.update(
            status="failed",
            updated=_now(),
            error={"title": "Import failed", "status": 500, "detail": f"unexpected error: {type(exc).__name__}"},
        )
    finally:
        store.put_job(job["id"], job)
        shutil.rmtree(workdir, ignore_errors=True)


@router.post(
    "/imports",
    summary="Import files (CityJSON, CityGML, GeoJSON, LAS/LAZ, EPANET, SWMM)",
    status_code=202,
    response_class=ORJSONResponse,
    dependencies=[WriterDep],
)
def create_import(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    files: Annotated[list[UploadFile], File(description="One or more files; all land or none.")],
    crs: Annotated[str | None, Form(description="CRS for files that declare none, e.g. EPSG:7415.")] = None,
    format: Annotated[
        str | None,
        Form(
            description="Force a reader: "
            + ", ".join(["cityjson", "citygml", "geojson", "las", "epanet", "swmm", "ifc"])
        ),
    ] = None,
    utility: Annotated[str | None, Form(description="Utility of pipe files that name none, e.g. sewer.")] = None,
    wait: Annotated[bool, Form(description="Answer only when the import has ended.")] = False,
    origin: Annotated[
        str | None, Form(description="IFC without georeference: E,N[,H[,angle]] of the model origin in crs.")
    ] = None,
    check: Annotated[list[str] | None, Form(description="Checks before writing: clashes.")] = None,
    reject_on_clash: Annotated[bool, Form(description="Refuse the import when it clashes.")] = False,
    source_crs: Annotated[
        str | None, Form(description="CRS overriding the one files declare (wrong headers), e.g. EPSG:28992+5709.")
    ] = None,
    axis_order: Annotated[
        Literal["auto", "en", "ne"], Form(description="Coordinate order of files in northing-first CRSs (GML).")
    ] = "auto",
    force: Annotated[bool, Form(description="Import data lying outside the city CRS's area of use.")] = False,
    default_height: Annotated[
        float | None, Form(gt=0, le=1000, description="Height (m) of buildings with no other height source.")
    ] = None,
    storey_height: Annotated[float, Form(gt=0, le=20, description="Metres per floor (heights from floors).")] = 3.0,
    skip_invalid: Annotated[
        bool, Form(description="Skip invalid features (listed in the job's `skipped`) instead of failing.")
    ] = False,
    cell: Annotated[float | None, Form(gt=0, le=1000, description="Terrain DEM cell, metres.")] = None,
    replace_terrain: Annotated[bool, Form(description="Replace the terrain instead of adding to it.")] = False,
) -> ORJSONResponse:
    if format is not None:
        from cim.io.registry import _load_builtin

        _load_builtin()
        if format not in READERS:
            raise HTTPException(400, f"Unknown format {format!r}; known: {', '.join(sorted(READERS))}.")
    job_id = uuid.uuid4().hex
    root = Path(settings.upload_dir) if settings.upload_dir else Path(tempfile.gettempdir()) / "cim-uploads"
    root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"{job_id}-", dir=root))
    limit, total = int(settings.max_upload_mb * (1 << 20)), 0
    paths, names = [], []
    try:
        for k, up in enumerate(files):
            name = Path(up.filename or f"file{k}").name
            dest = workdir / f"{k:04d}{_safe_suffix(name)}"
            with open(dest, "wb") as out:
                while chunk := up.file.read(_CHUNK):
                    total += len(chunk)
                    if total > limit:
                        raise HTTPException(
                            413,
                            f"Upload larger than {settings.max_upload_mb:g} MiB "
                            f"(CIM_MAX_UPLOAD_MB); stopped at {name}.",
                        )
                    out.write(chunk)
            paths.append(dest)
            names.append(name)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    job: dict[str, Any] = {
        "id": job_id,
        "status": "queued",
        "progress": 0.0,
        "created": _now(),
        "files": [{"file": n} for n in names],
        "crs": crs,
        "worker": {"host": socket.gethostname(), "pid": os.getpid()},
    }
    store.put_job(job_id, job)
    thread = threading.Thread(
        target=_run,
        args=(
            store,
            job,
            paths,
            names,
            crs,
            format,
            utility,
            workdir,
            {
                "max_features": settings.max_features_per_import,
                "max_points": settings.max_points_per_file,
                "origin": origin,
                "check": check or (),
                "reject_on_clash": reject_on_clash,
                "author": author_of(request),
            },
            {
                "source_crs": source_crs,
                "axis_order": axis_order,
                "force": force,
                "default_height": default_height,
                "storey_height": storey_height,
                "skip_invalid": skip_invalid,
                "cell": cell,
                "replace_terrain": replace_terrain,
            },
        ),
        name=f"import-{job_id}",
        daemon=True,
    )
    thread.start()
    if wait:
        thread.join()
    url = f"{base_url(request)}/imports/{job_id}"
    body = {**(store.get_job(job_id) or job), "links": [{"href": url, "rel": "monitor", "type": "application/json"}]}
    return ORJSONResponse(body, status_code=202, headers={"Location": url})


@router.get("/imports/{job_id}", summary="Status of an import", response_class=ORJSONResponse)
def get_import(request: Request, job_id: str, store: StoreDep) -> ORJSONResponse:
    job = store.get_job(job_id)
    if job is None:
        raise HTTPException(404, f"No import {job_id!r}.")
    if job["status"] in ("queued", "running") and orphaned(job):
        job.update(
            status="failed",
            updated=_now(),
            error={
                "title": "Import interrupted",
                "status": 500,
                "detail": "The server process stopped during this import; its transaction was rolled back and "
                "nothing of it was written. Upload the files again.",
            },
        )
        store.put_job(job_id, job)
    return ORJSONResponse(
        {**job, "links": [{"href": f"{base_url(request)}/imports/{job_id}", "rel": "self", "type": "application/json"}]}
    )
