"""The analysis registry: an analysis is one module and one registration line.

An :class:`Analysis` is an id, a title and description, a pydantic request model, a pydantic result model
and ``run(city, request) -> result``.  Registering it makes it appear wherever analyses are offered: the
HTTP route ``/analysis/{id}`` (POST with the request as the JSON body, or GET with it as query
parameters), OGC API - Processes (``/processes/{id}``), the command line (``cim analyse <id>``) and
``CityModel.analyse(id, **request)`` on local and remote cities.

Conventions for a request model (the HTTP body, also what ``city.analyse`` takes):

* coordinates are in the request's ``crs`` (a URI or ``EPSG:n``; default CRS84) written in that CRS's
  **official axis order**, as in OGC API - Features Part 2 (EPSG:4550 is northing, easting);
* regions are GeoJSON Polygons or MultiPolygons (:class:`cim.analysis.params.Region`);
* lengths and heights in metres, durations as the field name says (``duration_h``, ``step_min``).

``run`` receives a :class:`cim.city.LocalCity` (``city.store``, ``city.crs_epsg``, ``city.limits``) and a
validated request, and returns the result model; it raises :class:`cim.errors.CIMError` subclasses with a
user message for bad input (the HTTP layer turns them into 4xx problem+json).  Heavy third-party
imports (wntr, pyswmm, pvlib ...) belong inside functions, so that listing the analyses stays fast.

Built-in analyses are listed in :data:`BUILTIN` (``"module:attribute"``, imported on first use); others
register with :func:`register`, or from outside the package through ``CIM_ANALYSES="module:attr,..."`` or a
``cim.analyses`` entry point (:func:`plugins`): then the service, ``cim analyse`` and OGC API - Processes of
every process started with it offer them.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from ..errors import InvalidParameter, UnknownAnalysis

if TYPE_CHECKING:
    from ..city import LocalCity

#: Built-in analyses, one line each: ``"module:attribute"`` of an :class:`Analysis`.
BUILTIN: tuple[str, ...] = (
    "cim.analysis.underground:ANALYSIS",
    "cim.analysis.excavation:ANALYSIS",
    "cim.analysis.compliance:ANALYSIS",
    "cim.analysis.screening:ANALYSIS",
    "cim.analysis.screening:BUILDINGS",
    "cim.analysis.clashes:ANALYSIS",
    "cim.analysis.ponding:ANALYSIS",
    "cim.analysis.drainage:ANALYSIS",
    "cim.analysis.living_circles:ANALYSIS",
    "cim.analysis.shelters:ANALYSIS",
    "cim.analysis.green_buildings:ANALYSIS",
    "cim.analysis.sunlight:ANALYSIS",
    "cim.analysis.water_isolation:ANALYSIS",
    "cim.analysis.water_hydraulics:ANALYSIS",
    "cim.analysis.water_balance:ANALYSIS",
    "cim.analysis.water_criticality:ANALYSIS",
    "cim.analysis.water_burst:ANALYSIS",
)

Writer = Callable[[Any, Any], str | bytes]  # (result model, request model) -> body text or bytes


@dataclass(frozen=True)
class Analysis:
    """One analysis: what it is, what it takes and gives, and how it runs.

    ``method`` is the HTTP method of ``/analysis/{id}`` (GET: the request's fields are query parameters, so
    keep them scalar).  ``writers`` maps an output format name (``"csv"``, ``"geojson"``) to a function
    writing the result in it, with its media type in ``media_types``; JSON of the result model is always
    offered.  ``heavy`` analyses run under the service's time limit and may be run as asynchronous jobs.
    """

    id: str
    title: str
    description: str
    request: type[BaseModel]
    result: type[BaseModel]
    run: Callable[[LocalCity, Any], BaseModel]
    method: Literal["POST", "GET"] = "POST"
    heavy: bool = True
    keywords: tuple[str, ...] = ()
    version: str = "1.0.0"
    writers: Mapping[str, Writer] = field(default_factory=dict)
    media_types: Mapping[str, str] = field(default_factory=dict)
    #: a POST analysis that also answers GET: the (scalar) query-parameter model, whose fields are the request's
    get_request: type[BaseModel] | None = None

    def parse(self, request: BaseModel | Mapping[str, Any] | None = None, /, **fields: Any) -> BaseModel:
        """The request as the analysis's model, validated; InvalidParameter names the first bad field."""
        if isinstance(request, self.request) and not fields:
            return request
        data = dict(request.model_dump() if isinstance(request, BaseModel) else request or {})
        data.update(fields)
        try:
            return self.request.model_validate(data)
        except ValidationError as exc:
            raise InvalidParameter(_where(exc), f"Invalid request for {self.id}: {_message(exc)}") from None

    def execute(self, city: LocalCity, request: BaseModel | Mapping[str, Any] | None = None, /, **fields: Any):
        """Validate the request and run the analysis on a local city; returns the result model."""
        return self.run(city, self.parse(request, **fields))

    def write(self, fmt: str, result: BaseModel, request: BaseModel) -> str | bytes:
        """The result in output format ``fmt`` (``json`` or one of ``writers``)."""
        if fmt == "json":
            return result.model_dump_json()
        try:
            return self.writers[fmt](result, request)
        except KeyError:
            raise InvalidParameter("f", f"{self.id} writes {', '.join(self.formats())}; not {fmt!r}.") from None

    def formats(self) -> list[str]:
        return ["json", *self.writers]


def _where(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return ".".join(str(p) for p in err.get("loc", ())) or "body"


def _message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
        parts.append(f"{loc}: {err.get('msg')}")
    return "; ".join(parts) + "."


_REGISTRY: dict[str, Analysis] = {}
_LOCK = threading.Lock()
_LOADED = False


def register(analysis: Analysis, *, overwrite: bool = False) -> Analysis:
    """Add an analysis; an id already taken raises ValueError unless ``overwrite``."""
    with _LOCK:
        if analysis.id in _REGISTRY and not overwrite and _REGISTRY[analysis.id] is not analysis:
            raise ValueError(f"An analysis {analysis.id!r} is already registered.")
        _REGISTRY[analysis.id] = analysis
    return analysis


def unregister(analysis_id: str) -> None:
    """Remove an analysis (tests that register toys)."""
    with _LOCK:
        _REGISTRY.pop(analysis_id, None)


def _load(entry: str) -> Analysis:
    module, _, attr = entry.strip().partition(":")
    found = getattr(importlib.import_module(module), attr or "ANALYSIS")
    if not isinstance(found, Analysis):
        raise TypeError(f"{entry} is not a cim.analysis.registry.Analysis")
    return found


def plugins() -> list[str]:
    """Analyses from outside the package: ``CIM_ANALYSES`` (comma-separated ``module:attribute``, read when
    the registry is first used) and the ``cim.analyses`` entry points of installed distributions."""
    from importlib.metadata import entry_points

    named = [e for e in os.environ.get("CIM_ANALYSES", "").split(",") if e.strip()]
    return named + [ep.value for ep in entry_points(group="cim.analyses")]


def _load_builtins() -> None:
    global _LOADED
    if _LOADED:
        return
    for entry in BUILTIN:
        register(_load(entry), overwrite=True)
    for entry in plugins():
        register(_load(entry), overwrite=True)
    _LOADED = True


def analyses() -> dict[str, Analysis]:
    """Every registered analysis by id, in registration order (built-ins first)."""
    _load_builtins()
    return dict(_REGISTRY)


def get(analysis_id: str) -> Analysis:
    """The analysis with this id, or UnknownAnalysis."""
    found = analyses().get(analysis_id)
    if found is None:
        raise UnknownAnalysis(analysis_id, list(_REGISTRY))
    return found
