"""OGC API - Processes - Part 1: Core, the library's half: process descriptions made from the registry's
pydantic models, and jobs (asynchronous executions) kept in the store.

Every registered analysis (:mod:`cim.analysis.registry`) is a process with the analysis's id.  Its inputs are
the request model's fields (one input each, its JSON Schema inlined); its one output, ``result``, is the
result model.  A job is a status document in the store (``store.put_job``), of ``type`` ``"process"``; its
result is a second document, ``"<jobID>/results"`` (``type`` ``"process-results"``), so that any worker of
the service answers ``/jobs/{jobId}`` and ``/jobs/{jobId}/results`` whichever worker ran it.

Jobs run in a background thread of the process that accepted them: at most ``threads`` at once (more wait
as ``accepted``), each under ``timeout_s`` seconds of running time; past it the job is ``failed`` with a
message naming the limit.  Python cannot stop a running thread: the late analysis finishes in its thread
and its result is dropped, and its slot stays taken until then.  ``DELETE /jobs/{jobId}`` dismisses a job
(:meth:`JobRunner.dismiss`).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..errors import CIMError, InvalidParameter
from .registry import Analysis

if TYPE_CHECKING:
    from ..city import LocalCity

BASE = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
#: The Part 1 conformance classes this implementation meets (OGC 18-062r2, section 7.4).
CONFORMANCE = [BASE + c for c in ("core", "ogc-process-description", "json", "oas30", "job-list", "dismiss")]
EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
OUTPUT = "result"
JOB_TYPE = "process"
RESULTS_TYPE = "process-results"
STATUSES = ("accepted", "running", "successful", "failed", "dismissed")


def now() -> str:
    """UTC now, as the job documents write it (RFC 3339, seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- descriptions --------------------------------------------------------------------------------------------------
def _inline(node: Any, defs: Mapping[str, Any], depth: int = 0) -> Any:
    """The schema with every local ``$ref`` replaced by its definition (recursive models stop at depth 32)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and depth < 32:
            target = _inline(defs.get(ref.rsplit("/", 1)[1], {}), defs, depth + 1)
            rest = {k: _inline(v, defs, depth) for k, v in node.items() if k != "$ref"}
            return {**target, **rest}
        return {k: _inline(v, defs, depth) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs, depth) for v in node]
    return node


def model_schema(model: type[BaseModel], mode: str = "validation") -> dict[str, Any]:
    """The model's JSON Schema (by alias) with its definitions inlined: self-contained, as a process
    description's ``schema`` must be."""
    schema = model.model_json_schema(by_alias=True, mode=mode)  # type: ignore[arg-type]
    return _inline(schema, schema.get("$defs", {}))


def inputs(analysis: Analysis) -> dict[str, Any]:
    """The process inputs: one per request field (its alias when it has one), schema inlined."""
    schema = model_schema(analysis.request)
    required = set(schema.get("required", []))
    out = {}
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        title = prop.pop("title", name)
        description = prop.pop("description", None)
        entry: dict[str, Any] = {"title": title}
        if description:
            entry["description"] = description
        entry.update(minOccurs=1 if name in required else 0, maxOccurs=1, schema=prop)
        out[name] = entry
    return out


def outputs(analysis: Analysis) -> dict[str, Any]:
    """The one process output, ``result``: the result model (JSON), other formats listed in the schema's
    ``oneOf`` by media type."""
    schema = model_schema(analysis.result, "serialization")
    json_schema = {**schema, "contentMediaType": "application/json"}
    alternatives = [
        {"type": "string", "contentMediaType": analysis.media_types.get(f, "application/octet-stream")}
        for f in analysis.writers
    ]
    out_schema = {"oneOf": [json_schema, *alternatives]} if alternatives else json_schema
    return {
        OUTPUT: {
            "title": schema.get("title", analysis.result.__name__),
            "description": (analysis.result.__doc__ or "The analysis's result.").strip().splitlines()[0],
            "schema": out_schema,
        }
    }


def summary(analysis: Analysis) -> dict[str, Any]:
    """The process summary (``/processes``)."""
    return {
        "id": analysis.id,
        "title": analysis.title,
        "description": analysis.description,
        "version": analysis.version,
        "keywords": list(analysis.keywords),
        "jobControlOptions": ["sync-execute", "async-execute"],
        "outputTransmission": ["value"],
    }


def description(analysis: Analysis) -> dict[str, Any]:
    """The process description (``/processes/{id}``): the summary with its inputs and outputs."""
    return {**summary(analysis), "inputs": inputs(analysis), "outputs": outputs(analysis)}


def output_format(analysis: Analysis, outputs_request: Mapping[str, Any] | None) -> str:
    """The format name (``json`` or one of the analysis's writers) that an execute request's ``outputs``
    asks for (``{"result": {"format": {"mediaType": "text/csv"}}}``); ``json`` when it asks for none."""
    wanted = ((outputs_request or {}).get(OUTPUT) or {}).get("format") or {}
    media = wanted.get("mediaType") if isinstance(wanted, Mapping) else None
    if not media or media.split(";")[0].strip() == "application/json":
        return "json"
    for fmt, mt in analysis.media_types.items():
        if mt.split(";")[0].strip() == media.split(";")[0].strip():
            return fmt
    offered = ["application/json", *(analysis.media_types.get(f, f) for f in analysis.writers)]
    raise InvalidParameter(
        "outputs.result.format.mediaType", f"{analysis.id} writes {', '.join(offered)}; not {media!r}."
    )


# -- jobs ----------------------------------------------------------------------------------------------------------
def _error_doc(exc: BaseException, status: int) -> dict[str, Any]:
    if isinstance(exc, CIMError):
        return {"title": exc.title, "detail": exc.message, "error": type(exc).__name__, "status": status, **exc.where}
    return {
        "title": "Analysis failed",
        "detail": f"{type(exc).__name__}: {exc}",
        "error": type(exc).__name__,
        "status": status,
    }


class JobRunner:
    """Asynchronous executions of registered analyses on a city, their state kept in the city's store.

    ``threads``: most jobs running at once in this process; ``timeout_s``: running time allowed per job;
    ``status_of``: the HTTP status an analysis's exception stands for (kept in a failed job's ``exception``).
    """

    def __init__(
        self,
        city: LocalCity,
        *,
        threads: int = 4,
        timeout_s: float = 60.0,
        status_of: Callable[[BaseException], int] | None = None,
    ) -> None:
        self.status_of = status_of or (lambda exc: 400 if isinstance(exc, CIMError) else 500)
        self.city = city
        self.store = city.store
        self.timeout_s = float(timeout_s)
        self.threads = max(1, int(threads))
        self._slots = threading.BoundedSemaphore(self.threads)

    def _put(self, job: dict[str, Any], **changes: Any) -> None:
        job.update(changes, updated=now())
        self.store.put_job(job["jobID"], job)

    def _update(self, job: dict[str, Any], **changes: Any) -> bool:
        """Record a change of a stored job; False when the job was dismissed meanwhile (nothing recorded)."""
        job.update(changes, updated=now())
        return self.store.update_job(job["jobID"], job)

    def submit(self, analysis: Analysis, request: Any, *, fmt: str = "json") -> dict[str, Any]:
        """Validate the request now (bad input fails the call, not the job), store an ``accepted`` job and
        start it; returns the job's status document."""
        parsed = analysis.parse(request)
        if fmt not in analysis.formats():
            raise InvalidParameter("f", f"{analysis.id} writes {', '.join(analysis.formats())}; not {fmt!r}.")
        job_id = uuid.uuid4().hex
        job: dict[str, Any] = {
            "type": JOB_TYPE,
            "jobID": job_id,
            "processID": analysis.id,
            "status": "accepted",
            "message": f"Waiting for a free worker thread (at most {self.threads} at once).",
            "created": now(),
            "progress": 0,
            "format": fmt,
            "worker": {"host": socket.gethostname(), "pid": os.getpid()},
        }
        self._put(job)
        threading.Thread(target=self._run, args=(analysis, parsed, job), name=f"job-{job_id}", daemon=True).start()
        return dict(job)

    def _run(self, analysis: Analysis, request: BaseModel, job: dict[str, Any]) -> None:
        self._slots.acquire()
        box: dict[str, Any] = {}
        if self.store.get_job(job["jobID"]) is None:  # dismissed while it waited: never started
            self._slots.release()
            return

        def work() -> None:
            try:
                result = analysis.run(self.city, request)
                fmt = job.get("format", "json")
                value = result.model_dump(mode="json") if fmt == "json" else analysis.write(fmt, result, request)
                if isinstance(value, bytes):
                    value = value.decode("utf-8", errors="replace")
                box["value"] = value
            except BaseException as exc:  # noqa: BLE001 - a job ends in a state, whatever happened
                box["error"] = exc
            finally:
                self._slots.release()

        try:
            if not self._update(job, status="running", message="Running.", started=now(), progress=0):
                self._slots.release()  # dismissed just now
                return
            t = threading.Thread(target=work, name=f"{threading.current_thread().name}-run", daemon=True)
            t.start()
            t.join(self.timeout_s)
            if t.is_alive():
                self._update(
                    job,
                    status="failed",
                    finished=now(),
                    message=f"The analysis took longer than {self.timeout_s:g} s (CIM_ANALYSIS_TIMEOUT_S); try a "
                    "smaller region or ask the operator for a longer limit.",
                    exception={
                        "title": "Analysis time limit",
                        "detail": f"Stopped waiting after {self.timeout_s:g} s.",
                        "error": "TimeLimit",
                        "status": 503,
                    },
                )
                return
            if "error" in box:
                err = _error_doc(box["error"], self.status_of(box["error"]))
                self._update(job, status="failed", finished=now(), message=err["detail"], exception=err)
                return
            results = f"{job['jobID']}/results"
            self.store.put_job(results, {"type": RESULTS_TYPE, "value": box["value"]})
            if not self._update(job, status="successful", finished=now(), progress=100, message="Done."):
                self.store.delete_job(results)  # dismissed while it ran: its result is not kept
        except BaseException as exc:  # noqa: BLE001 - e.g. the store went away: record it if we still can
            try:
                err = _error_doc(exc, 500)
                self._update(job, status="failed", finished=now(), message=err["detail"], exception=err)
            except Exception:  # noqa: BLE001
                pass

    def status(self, job_id: str) -> dict[str, Any] | None:
        """The job's status document, or None; a job whose process died on this host is marked failed."""
        job = self.store.get_job(job_id)
        if job is None or job.get("type") != JOB_TYPE:
            return None
        if job["status"] in ("accepted", "running") and orphaned(job):
            self._update(
                job,
                status="failed",
                finished=now(),
                message="The service process running this job stopped before it ended; run it again.",
                exception={
                    "title": "Job orphaned",
                    "detail": "The worker process is gone.",
                    "error": "Orphaned",
                    "status": 500,
                },
            )
        return job

    def dismiss(self, job_id: str) -> dict[str, Any] | None:
        """Dismiss a job (OGC API - Processes, "dismiss"): its status document and results are removed, so it
        is no longer listed or readable.  A job still waiting never starts; a running one is cancelled as far
        as Python allows: its analysis thread runs on to its end (a thread cannot be stopped) but nothing it
        returns is recorded (the runner's writes only update a job that is still stored, and a result written
        just before is removed again).  Returns the job's last status marked ``dismissed``, or None for an
        unknown job."""
        job = self.status(job_id)
        if job is None:
            return None
        was = job["status"]
        self.store.delete_job(job_id)  # first: from here on the runner records nothing
        self.store.delete_job(f"{job_id}/results")
        message = {
            "accepted": "Dismissed before it started.",
            "running": "Dismissed while running: its result will not be recorded.",
        }.get(was, f"Dismissed ({was}): its record and results are removed.")
        return {**job, "status": "dismissed", "message": message, "updated": now()}

    def result(self, job_id: str) -> Any:
        """The stored result of a successful job (JSON value or text), or None."""
        doc = self.store.get_job(f"{job_id}/results")
        return None if doc is None else doc.get("value")

    def jobs(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Process jobs, newest first."""
        return self.store.list_jobs(type=JOB_TYPE, limit=limit, offset=offset)


def orphaned(job: Mapping[str, Any]) -> bool:
    """True when the process that runs a job (import or process job) is gone: its ``worker`` names this host
    and a pid that no longer exists (other hosts cannot be checked)."""
    w = job.get("worker") or {}
    if w.get("host") != socket.gethostname() or not w.get("pid"):
        return False
    try:
        os.kill(int(w["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
