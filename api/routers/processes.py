"""OGC API - Processes - Part 1: Core: every registered analysis as a process.

``/processes`` lists them, ``/processes/{id}`` describes one (inputs and outputs from its pydantic models),
``POST /processes/{id}/execution`` runs one: synchronously (the result, as ``POST /analysis/{id}`` gives it)
or, with ``Prefer: respond-async``, as a job (201, ``Location: /jobs/{jobId}``).  ``/jobs``,
``/jobs/{jobId}`` and ``/jobs/{jobId}/results`` read the jobs from the store, so any worker answers;
``DELETE /jobs/{jobId}`` dismisses a job (cancels it, removes its record and results; a write token).  The
library does the work (:mod:`cim.analysis.processes`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from cim.analysis import processes as P
from cim.analysis.registry import analyses, get
from cim.errors import CIMError, UnknownAnalysis

from ..deps import CityDep, WriterDep, base_url
from ..errors import status_of
from ..media import JSON, ORJSONResponse, ProblemResponse

router = APIRouter(tags=["Processes"])

REL = "http://www.opengis.net/def/rel/ogc/1.0/"


class Execute(BaseModel):
    """An execute request (OGC API - Processes 1.0 ``execute.yaml``)."""

    model_config = ConfigDict(extra="allow")
    inputs: dict[str, Any] = Field(default_factory=dict, description="The analysis's request fields by name.")
    outputs: dict[str, Any] | None = Field(
        None, description='Output formats, e.g. {"result": {"format": {"mediaType": "text/csv"}}}.'
    )
    response: Literal["raw", "document"] = Field(
        "raw", description='raw: the result itself; document: {"result": <the result>}.'
    )


def _runner(request: Request) -> P.JobRunner:
    runner = getattr(request.app.state, "job_runner", None)
    if runner is None:
        settings = request.app.state.settings
        runner = request.app.state.job_runner = P.JobRunner(
            request.app.state.city,
            threads=settings.threads,
            timeout_s=settings.analysis_timeout_s,
            status_of=lambda exc: status_of(exc) if isinstance(exc, CIMError) else 500,
        )
    return runner


def _process_links(b: str, pid: str) -> list[dict[str, str]]:
    return [
        {"href": f"{b}/processes/{pid}", "rel": "self", "type": JSON, "title": "Process description"},
        {"href": f"{b}/processes/{pid}/execution", "rel": REL + "execute", "title": "Execute"},
        {"href": f"{b}/analysis/{pid}", "rel": "alternate", "title": "The analysis's own route"},
    ]


@router.get("/processes", summary="The processes (every registered analysis)", response_class=ORJSONResponse)
def list_processes(request: Request) -> ORJSONResponse:
    b = base_url(request)
    procs = []
    for a in analyses().values():
        procs.append({**P.summary(a), "links": _process_links(b, a.id)[:1]})
    return ORJSONResponse(
        {"processes": procs, "links": [{"href": f"{b}/processes", "rel": "self", "type": JSON, "title": "Processes"}]}
    )


@router.get("/processes/{process_id}", summary="A process description", response_class=ORJSONResponse)
def describe_process(request: Request, process_id: str) -> Response:
    try:
        a = get(process_id)
    except UnknownAnalysis as exc:
        return _exception(request, 404, "no-such-process", "No such process", exc.message)
    return ORJSONResponse({**P.description(a), "links": _process_links(base_url(request), a.id)})


def _exception(request: Request, status: int, kind: str, title: str, detail: str, **extra: Any) -> Response:
    """An OGC API - Processes exception (RFC 9457 problem+json with the standard's type URI)."""
    body: dict[str, Any] = {"type": P.EXCEPTIONS + kind, "title": title, "status": status, "detail": detail}
    body["instance"] = request.url.path
    body.update({k: v for k, v in extra.items() if v is not None})
    return ProblemResponse(body, status_code=status)


def _status_info(b: str, job: dict[str, Any]) -> dict[str, Any]:
    keep = ("type", "jobID", "processID", "status", "message", "created", "started", "finished", "updated", "progress")
    info = {k: job[k] for k in keep if k in job}
    links = [{"href": f"{b}/jobs/{job['jobID']}", "rel": "self", "type": JSON, "title": "Job status"}]
    if job.get("status") == "successful":
        links.append({"href": f"{b}/jobs/{job['jobID']}/results", "rel": REL + "results", "title": "Results"})
    info["links"] = links
    return info


@router.post(
    "/processes/{process_id}/execution",
    summary="Execute a process (Prefer: respond-async for a job)",
    response_class=ORJSONResponse,
    responses={201: {"description": "Job created (asynchronous execution)"}},
)
def execute(
    request: Request,
    process_id: str,
    body: Execute,
    city: CityDep,
    prefer: Annotated[str | None, Header(description="respond-async: run as a job (201 + Location).")] = None,
) -> Response:
    try:
        a = get(process_id)
    except UnknownAnalysis as exc:
        return _exception(request, 404, "no-such-process", "No such process", exc.message)
    fmt = P.output_format(a, body.outputs)
    b = base_url(request)
    if prefer and "respond-async" in prefer.lower():
        job = _runner(request).submit(a, body.inputs, fmt=fmt)
        url = f"{b}/jobs/{job['jobID']}"
        return ORJSONResponse(
            _status_info(b, job), status_code=201, headers={"Location": url, "Preference-Applied": "respond-async"}
        )
    req = a.parse(body.inputs)
    result = a.run(city, req)
    headers = {"Preference-Applied": "respond-sync"} if prefer and "respond-sync" in prefer.lower() else {}
    if fmt != "json":
        out = a.write(fmt, result, req)
        if body.response == "document":
            text = out.decode("utf-8", errors="replace") if isinstance(out, bytes) else out
            return ORJSONResponse({P.OUTPUT: text}, headers=headers)
        return Response(out, media_type=a.media_types.get(fmt, "application/octet-stream"), headers=headers)
    value = result.model_dump(mode="json")
    return ORJSONResponse({P.OUTPUT: value} if body.response == "document" else value, headers=headers)


@router.get("/jobs", summary="The jobs (newest first)", response_class=ORJSONResponse)
def list_jobs(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000, description="Jobs per page.")] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62, description="Jobs to skip.")] = 0,
) -> ORJSONResponse:
    b = base_url(request)
    jobs = [_status_info(b, j) for j in _runner(request).jobs(limit=limit, offset=offset)]
    links = [{"href": f"{b}/jobs?limit={limit}&offset={offset}", "rel": "self", "type": JSON, "title": "Jobs"}]
    if len(jobs) == limit:
        links.append({"href": f"{b}/jobs?limit={limit}&offset={offset + limit}", "rel": "next", "type": JSON})
    return ORJSONResponse({"jobs": jobs, "links": links})


@router.get("/jobs/{job_id}", summary="A job's status", response_class=ORJSONResponse)
def job_status(request: Request, job_id: str) -> Response:
    job = _runner(request).status(job_id)
    if job is None:
        return _exception(request, 404, "no-such-job", "No such job", f"No job {job_id!r}.")
    return ORJSONResponse(_status_info(base_url(request), job))


@router.delete(
    "/jobs/{job_id}",
    summary="Dismiss a job: cancel it if it waits or runs, remove its record and results (a write token)",
    response_class=ORJSONResponse,
    dependencies=[WriterDep],
)
def dismiss_job(request: Request, job_id: str) -> Response:
    """Every job id is listed at ``/jobs``, so dismissing one, like any write, needs a write token."""
    job = _runner(request).dismiss(job_id)
    if job is None:
        return _exception(request, 404, "no-such-job", "No such job", f"No job {job_id!r}.")
    info = _status_info(base_url(request), job)
    info["links"] = [{"href": f"{base_url(request)}/jobs", "rel": "up", "type": JSON, "title": "The jobs"}]
    return ORJSONResponse(info)


@router.get("/jobs/{job_id}/results", summary="A job's results", response_class=ORJSONResponse)
def job_results(request: Request, job_id: str) -> Response:
    runner = _runner(request)
    job = runner.status(job_id)
    if job is None:
        return _exception(request, 404, "no-such-job", "No such job", f"No job {job_id!r}.")
    if job["status"] == "failed":
        err = dict(job.get("exception") or {})
        title = str(err.pop("title", "Job failed"))
        detail = str(err.pop("detail", job.get("message", "")))
        status = int(err.pop("status", 500))
        err.pop("error", None)
        return _exception(request, status, "job-failed", title, detail, **err)
    if job["status"] != "successful":
        return _exception(
            request, 404, "result-not-ready", "Result not ready", f"Job {job_id!r} is {job['status']}; try later."
        )
    value = runner.result(job_id)
    fmt = job.get("format", "json")
    if fmt != "json":
        a = get(job["processID"])
        return Response(value, media_type=a.media_types.get(fmt, "application/octet-stream"))
    return ORJSONResponse({P.OUTPUT: value})


__all__ = ["router"]
