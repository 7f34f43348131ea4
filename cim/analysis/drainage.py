"""Drainage-network capacity under a design storm (``POST /analysis/drainage``).

Runs a stored SWMM model (the blob ``swmm/<name>`` kept by the SWMM import, :mod:`cim.io.swmm`) with pyswmm
(SWMM 5.2, ``swmm-toolkit``).  The storm replaces every rain gage's data: the gages read one time series
of the storm's intensities (mm/h, or in/h for US-unit models); everything else runs as the file says.  The
simulation is extended to the storm's end when it would stop earlier.

Per node: flooding volume (m^3) and hours flooded, hours surcharged; per conduit: the peak flow, the
largest share of its full depth used and hours surcharged; per outfall the volume discharged.  With
``"couple": true`` the flooding volume of every manhole is poured onto the terrain at the manhole as a point
source of the ponding analysis (:mod:`cim.analysis.ponding`), whose result comes back as ``ponding``.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidParameter
from ..hydro.storm import Hyetograph, Storm, hyetograph
from ..io.swmm import BLOB_PREFIX, US_UNITS
from ..model import PipeNode
from ..store.typed import get_typed
from .ponding import PondingRequest, PondingResult, ponding
from .registry import Analysis

if TYPE_CHECKING:
    from ..city import LocalCity

FT3 = 0.3048**3
SERIES = "cim_storm"
_SECTION = re.compile(r"^\s*\[([A-Za-z_]+)\]")


class DrainageRequest(BaseModel):
    """A drainage run: the design storm, the stored SWMM model and whether to pond manhole flooding on the terrain."""

    model_config = ConfigDict(extra="forbid")
    storm: Storm = Field(default_factory=Storm, description="Design storm (default: the city's design period).")
    model: str | None = Field(None, description="Stored SWMM model (file stem); default the only one stored.")
    couple: bool = Field(False, description="Pour manhole flooding onto the terrain (the ponding analysis).")
    ponding: PondingRequest | None = Field(None, description="Ponding parameters when coupling (storm is ours).")


class NodeResult(BaseModel):
    """A SWMM node's flooding volume (m³), hours flooded and surcharged, and greatest depth (m)."""

    id: str
    flooding_m3: float
    hours_flooded: float
    hours_surcharged: float
    max_depth_m: float


class ConduitResult(BaseModel):
    """A conduit's peak flow (model flow units), greatest depth / full depth and hours surcharged."""

    id: str
    peak_flow: float = Field(description="Peak flow in the model's flow units.")
    max_depth_ratio: float | None = Field(description="Largest depth / full depth (null: section unknown).")
    hours_surcharged: float


class OutfallResult(BaseModel):
    """Volume discharged at an outfall over the run, m³."""

    id: str
    volume_m3: float


class DrainageResult(BaseModel):
    """The SWMM run under the storm: nodes, conduits and outfalls, what flooded or surcharged, totals (m³), and the
    coupled ponding."""

    model: str
    flow_units: str
    rainfall_mm: float
    return_period_a: float | None
    nodes: list[NodeResult]
    conduits: list[ConduitResult]
    outfalls: list[OutfallResult]
    flooded_nodes: list[str]
    surcharged_conduits: list[str]
    flooding_m3: float
    outfall_m3: float
    ponding: PondingResult | None = None


def model_names(city: LocalCity) -> list[str]:
    """The SWMM models stored with the city (the file stems of their ``swmm/`` blobs)."""
    return [n[len(BLOB_PREFIX) :] for n in city.store.blob_names(BLOB_PREFIX)]


def with_storm(text: str, hy: Hyetograph) -> str:
    """The SWMM input with every rain gage reading the storm's time series (mm/h; in/h for US units)."""
    lines = text.splitlines()
    units = "CMS"
    for ln in lines:
        f = ln.split()
        if len(f) >= 2 and f[0].upper() == "FLOW_UNITS":
            units = f[1].upper()
    scale = 1 / 25.4 if units in US_UNITS else 1.0
    step_h = hy.step_min / 60.0
    out: list[str] = []
    section = ""
    series_written = False
    for ln in lines:
        m = _SECTION.match(ln)
        if m:
            section = m.group(1).upper()
            if section == "TIMESERIES":
                out.append(ln)
                out += _series(hy, scale)
                series_written = True
                continue
        elif section == "RAINGAGES" and ln.strip() and not ln.lstrip().startswith(";"):
            name = ln.split()[0]
            ln = f"{name:<16} INTENSITY {step_h:.6f} 1.0 TIMESERIES {SERIES}"
        out.append(ln)
    if not series_written:
        out += ["", "[TIMESERIES]", *_series(hy, scale)]
    return _extend(out, hy.duration_min) + "\n"


def _series(hy: Hyetograph, scale: float) -> list[str]:
    rows = [f"{SERIES} {k * hy.step_min / 60:.6f} {v * scale:.6f}" for k, v in enumerate(hy.intensity_mm_per_h)]
    return [*rows, f"{SERIES} {hy.duration_min / 60:.6f} 0"]


def _extend(lines: list[str], minutes: float) -> str:
    """Make END_DATE/END_TIME at least the storm's end (+ 1 h to drain)."""
    from datetime import datetime, timedelta

    opts = {}
    for ln in lines:
        f = ln.split()
        if len(f) >= 2 and f[0].upper() in ("START_DATE", "START_TIME", "END_DATE", "END_TIME"):
            opts[f[0].upper()] = f[1]

    def when(d: str | None, t: str | None) -> datetime | None:
        if d is None:
            return None
        t = t or "00:00:00"
        t = t if t.count(":") == 2 else t + ":00"
        try:
            return datetime.strptime(f"{d} {t}", "%m/%d/%Y %H:%M:%S")
        except ValueError:
            return None

    start = when(opts.get("START_DATE"), opts.get("START_TIME"))
    end = when(opts.get("END_DATE"), opts.get("END_TIME"))
    if start is None or end is None:
        return "\n".join(lines)
    need = start + timedelta(minutes=minutes + 60)
    if end >= need:
        return "\n".join(lines)
    new = []
    for ln in lines:
        f = ln.split()
        if f and f[0].upper() == "END_DATE":
            ln = f"END_DATE             {need:%m/%d/%Y}"
        elif f and f[0].upper() == "END_TIME":
            ln = f"END_TIME             {need:%H:%M:%S}"
        new.append(ln)
    return "\n".join(new)


def simulate(inp_text: str, workdir: Path | None = None) -> dict:
    """Run a SWMM input with pyswmm (in ``workdir``, where files it names are found, or a temporary one);
    per node, conduit and outfall statistics in the model's units.

    The engine runs in a child process of its own (:mod:`cim.analysis._swmm_child`): SWMM keeps its state in
    process-wide globals, so two runs at once in one process (the server's threads) would share them, and a run
    in a process that has loaded other native libraries gave a different answer about one time in ten (the
    same model, the same storm)."""
    import pickle
    import subprocess
    import sys

    with tempfile.TemporaryDirectory(prefix="cim-swmm-") as tmp:
        path = Path(workdir or tmp) / "cim-model.inp"
        path.write_text(inp_text, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "cim.analysis._swmm_child", str(path)], capture_output=True, check=False
        )
        if done.returncode != 0 or not done.stdout:
            raise RuntimeError(f"SWMM did not run: {done.stderr.decode(errors='replace')[-2000:]}")
        status, value = pickle.loads(done.stdout)
        if status == "error":
            raise value
        return value


def run_here(path: Path) -> dict:
    """The SWMM run itself, in this process (called by :mod:`cim.analysis._swmm_child`)."""
    from pyswmm import Links, Nodes, Simulation

    nodes, links, outfalls = {}, {}, {}
    with Simulation(str(path)) as sim:
        for _ in sim:
            pass
        for n in Nodes(sim):
            st = _numbers(n.statistics)
            nodes[n.nodeid] = st
            if n.is_outfall():
                outfalls[n.nodeid] = n.cumulative_inflow
        for lk in Links(sim):
            if lk.is_conduit():
                links[lk.linkid] = (_numbers(lk.conduit_statistics), None)
    return {"nodes": nodes, "links": links, "outfalls": outfalls}


def _numbers(stats: dict) -> dict[str, float]:
    """The numeric members of a pyswmm statistics record (the rest are engine handles that stay in the child)."""
    return {k: float(v) for k, v in stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _full_depths(text: str) -> dict[str, float]:
    depth: dict[str, float] = {}
    section = ""
    for ln in text.splitlines():
        m = _SECTION.match(ln)
        if m:
            section = m.group(1).upper()
            continue
        f = ln.split(";")[0].split()
        if section == "XSECTIONS" and len(f) >= 3:
            try:
                depth[f[0]] = float(f[2])
            except ValueError:
                continue
    return depth


def run(city: LocalCity, req: DrainageRequest) -> DrainageResult:
    """The registered analysis: the stored SWMM model run under the design storm (then, with ``couple``, ponded)."""
    names = model_names(city)
    if not names:
        raise InvalidParameter("model", "The city holds no SWMM model: import a SWMM .inp file first.")
    if req.model is None:
        if len(names) > 1:
            raise InvalidParameter("model", f"The city holds several SWMM models; name one of: {', '.join(names)}.")
        name = names[0]
    elif req.model in names:
        name = req.model
    else:
        raise InvalidParameter("model", f"No stored SWMM model {req.model!r}; stored: {', '.join(names)}.")
    blob = city.store.get_blob(BLOB_PREFIX + name)
    if blob is None:  # removed since it was listed
        raise InvalidParameter("model", f"No stored SWMM model {name!r}.")
    text = blob.decode("utf-8", errors="replace")
    hy = hyetograph(req.storm, city.city().urban_population)
    inp = with_storm(text, hy)
    units = next((ln.split()[1].upper() for ln in text.splitlines() if ln.split()[:1] == ["FLOW_UNITS"]), "CFS")
    us = units in US_UNITS
    vol = FT3 if us else 1.0
    length = 0.3048 if us else 1.0
    stats = simulate(inp)
    full = _full_depths(text)
    nodes = [
        NodeResult(
            id=nid,
            flooding_m3=float(st["flooding_volume"]) * vol,
            hours_flooded=float(st["flooding_duration"]),
            hours_surcharged=float(st["surcharge_duration"]),
            max_depth_m=float(st["max_depth"]) * length,
        )
        for nid, st in stats["nodes"].items()
    ]
    conduits = []
    for lid, (st, _) in stats["links"].items():
        fd = full.get(lid)
        conduits.append(
            ConduitResult(
                id=lid,
                peak_flow=float(st["peak_flow"]),
                max_depth_ratio=float(st["peak_depth"] / fd) if fd else None,
                hours_surcharged=float(st["time_surcharged"]),
            )
        )
    outfalls = [OutfallResult(id=k, volume_m3=float(v) * vol) for k, v in stats["outfalls"].items()]
    flooded = [n.id for n in nodes if n.flooding_m3 > 0]
    result = DrainageResult(
        model=name,
        flow_units=units,
        rainfall_mm=round(hy.total_mm, 3),
        return_period_a=hy.return_period_a,
        nodes=nodes,
        conduits=conduits,
        outfalls=outfalls,
        flooded_nodes=flooded,
        surcharged_conduits=[c.id for c in conduits if c.hours_surcharged > 0],
        flooding_m3=float(sum(n.flooding_m3 for n in nodes)),
        outfall_m3=float(sum(o.volume_m3 for o in outfalls)),
    )
    if req.couple:
        preq = (req.ponding or PondingRequest()).model_copy(update={"storm": req.storm})
        pts = []
        for n in nodes:
            if n.flooding_m3 <= 0:
                continue
            try:
                feat = get_typed(city.store, "pipe-nodes", n.id, PipeNode)
            except Exception:  # noqa: BLE001 - a model node that is not a stored feature has no position
                continue
            pts.append((feat.position[0], feat.position[1], n.flooding_m3))
        result.ponding = ponding(city, preq, np.asarray(pts, dtype=float).reshape(-1, 3))
    return result


ANALYSIS = Analysis(
    id="drainage",
    title="Drainage-network capacity under a design storm",
    description=(
        "Runs the stored SWMM model with pyswmm under the design storm: manhole flooding and surcharge, "
        "conduit capacity used, outfall volumes; with couple=true the manhole flooding ponds on the terrain."
    ),
    request=DrainageRequest,
    result=DrainageResult,
    run=run,
    keywords=("flood", "drainage", "SWMM", "排水"),
)
