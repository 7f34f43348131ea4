"""EPANET 2 input files (``.inp``): water supply networks.

What becomes what (utility ``water``, or ``ImportContext.default_utility``, e.g. ``reclaimed``):

* ``[JUNCTIONS]`` -> :class:`PipeNode` ``junction``; ``position`` z = the junction elevation, taken as the
  ground elevation.  ``depth`` = cover + the largest connected pipe diameter (an assumption, marked
  ``attributes["depth_assumed"]``).
* ``[RESERVOIRS]`` -> ``reservoir`` at z = its head; ``[TANKS]`` -> ``tank`` at z = its bottom elevation.
* ``[PIPES]`` -> :class:`PipeSegment`: centreline = node 1, the link's ``[VERTICES]``, node 2 (2-D from the
  file, reprojected); EPANET gives no burial depth, so the axis lies at ground - cover - diameter / 2 at
  each end, linear in between (``attributes["depth_assumed"] = True``).  Cover is
  ``ImportContext.default_cover`` or the city's frost depth + 0.1 m (GB 50289 §4.1.1).  The ground at a
  tank or reservoir end is the mean elevation of the junctions linked to it (a tank's elevation is its
  bottom, often on a tower; a reservoir's head is a water level), or its own elevation when none is.
* ``[PUMPS]`` and ``[VALVES]`` are links in EPANET but equipment in a city model: each becomes a
  :class:`PipeNode` (``pump`` / ``valve``) halfway along the link, at the mean ground of its end nodes,
  with id ``pump:<id>`` / ``valve:<id>`` (EPANET ids of nodes and links may coincide) and the link's ends
  in ``attributes["from_node"]`` / ``["to_node"]``.  A valve's diameter is kept in ``attributes``.

Units follow ``[OPTIONS] Units``: CFS, GPM, MGD, IMGD, AFD are US (elevations and lengths in feet,
diameters in inches), LPS, LPM, MLD, CMH, CMD, CMS are SI (metres, millimetres).  Everything is
converted to metres.  Every feature carries ``attributes["network"]`` (the file name without extension)
and the file's text is stored as the blob ``epanet/<network>`` in the same transaction, so that
:mod:`cim.water` simulates the stored network exactly like the file.  EPANET files declare no CRS:
``ImportContext.crs`` (``--crs``) gives the CRS of ``[COORDINATES]`` and ``[VERTICES]``.  Other sections
(demands, patterns, curves, controls ...) become no features (they live in the blob); demands and
patterns of junctions are kept in ``attributes``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model import NodeKind, PipeNode, PipeSegment, Utility
from . import _inp
from .base import ImportContext, ImportResult
from .registry import register

US_UNITS = frozenset({"CFS", "GPM", "MGD", "IMGD", "AFD"})
SI_UNITS = frozenset({"LPS", "LPM", "MLD", "CMH", "CMD", "CMS"})
FT = 0.3048
LINK_WORD = {"PIPES": "pipe", "PUMPS": "pump", "VALVES": "valve"}
INCH = 0.0254


class EpanetReader:
    """EPANET ``.inp`` water networks: pipes, junctions, tanks and reservoirs as pipe features."""

    name = "epanet"
    extensions = (".inp",)
    description = "EPANET 2 network (.inp): water pipes, junctions, reservoirs, tanks, pumps, valves"

    def sniff(self, head: bytes, path: Path) -> bool:
        return _inp.classify(head) == "epanet"

    def read(self, path: Path, ctx: ImportContext) -> ImportResult:
        return _read(path, ctx)


def _read(path: Path, ctx: ImportContext) -> ImportResult:  # noqa: C901 - predates the complexity gate (issue 14); split it when it next changes
    filename = ctx.filename or path.name
    inp = _inp.parse(path, filename, what="EPANET input file")
    warnings: list[str] = []
    utility = _inp.utility_of(ctx, Utility.water)

    units, us = _inp.flow_units(inp, "UNITS", "GPM", US_UNITS, SI_UNITS, "EPANET", warnings)
    length_m = FT if us else 1.0
    diameter_m = INCH if us else 0.001

    # nodes
    for sec, n, cols in (
        ("JUNCTIONS", 2, "id, elevation"),
        ("RESERVOIRS", 2, "id, head"),
        ("TANKS", 6, "id, elevation, init, min and max level, diameter"),
    ):
        for r in inp.rows(sec):
            inp.need(r, n, cols)
    nodes = _inp.unique_ids(inp, [(s, inp.rows(s)) for s in ("JUNCTIONS", "RESERVOIRS", "TANKS")], "node")
    if not nodes:
        raise inp.error("The file defines no nodes ([JUNCTIONS], [RESERVOIRS] or [TANKS])." + inp.truncation_hint())
    elev = {
        fid: inp.number(r, 1, "head" if r.section == "RESERVOIRS" else "elevation") * length_m
        for fid, r in nodes.items()
    }

    # links
    for sec, n, cols in (
        ("PIPES", 6, "id, node1, node2, length, diameter, roughness"),
        ("PUMPS", 4, "id, node1, node2, parameters"),
        ("VALVES", 6, "id, node1, node2, diameter, type, setting"),
    ):
        for r in inp.rows(sec):
            inp.need(r, n, cols)
    links = _inp.unique_ids(inp, [(s, inp.rows(s)) for s in ("PIPES", "PUMPS", "VALVES")], "link")
    for fid, r in links.items():
        what = LINK_WORD[r.section]
        for end in r.fields[1:3]:
            if end not in nodes:
                raise inp.error(
                    f"[{r.section}] {what} {fid!r} references unknown node {end!r} (line {r.line})."
                    + inp.truncation_hint(),
                    r,
                    feature=fid,
                )
        if r.fields[1] == r.fields[2]:
            raise inp.error(
                f"[{r.section}] {what} {fid!r} starts and ends at node {r.fields[1]!r} (line {r.line}).", r, feature=fid
            )
    ctx.report(0.3)

    # positions (one reprojection for the file)
    geo = _inp.plan(inp, ctx, nodes, links, what="EPANET input file")
    warnings += geo.warnings
    for fid, r in links.items():
        for end in r.fields[1:3]:
            if end not in geo.node_xy:
                raise inp.error(
                    f"[{r.section}] {LINK_WORD[r.section]} {fid!r} (line {r.line}) uses node {end!r}, "
                    "which has no [COORDINATES] entry." + inp.truncation_hint(),
                    r,
                    feature=fid,
                )
    unplaced = [fid for fid in nodes if fid not in geo.node_xy]
    if unplaced:
        warnings.append(
            f"skipped {len(unplaced)} nodes without [COORDINATES] and without links: "
            + ", ".join(unplaced[:5])
            + (" ..." if len(unplaced) > 5 else "")
        )
    ctx.report(0.5)

    # the ground at each node: junctions as given; tanks and reservoirs from their linked junctions
    kind_of = {fid: r.section for fid, r in nodes.items()}
    neighbours: dict[str, list[float]] = {}
    for r in links.values():
        a, b = r.fields[1], r.fields[2]
        if kind_of[b] == "JUNCTIONS":
            neighbours.setdefault(a, []).append(elev[b])
        if kind_of[a] == "JUNCTIONS":
            neighbours.setdefault(b, []).append(elev[a])
    ground = {
        fid: (elev[fid] if kind_of[fid] == "JUNCTIONS" or fid not in neighbours else float(np.mean(neighbours[fid])))
        for fid in nodes
    }

    cover, rule = _inp.default_cover(ctx)
    features: list = []
    widest: dict[str, float] = {}
    skipped_flat: list[str] = []
    pipes = inp.rows("PIPES")
    for k, r in enumerate(pipes):
        fid, a, b = r.fields[0], r.fields[1], r.fields[2]
        length = inp.number(r, 3, "length", nonnegative=True) * length_m
        d = inp.number(r, 4, "diameter", positive=True) * diameter_m
        roughness = inp.number(r, 5, "roughness")
        xy = _path(geo, fid, a, b)
        if not np.any(np.hypot(*np.diff(xy, axis=0).T) > 0):
            skipped_flat.append(fid)
            continue
        z = _inp.path_z(xy, ground[a] - cover - d / 2, ground[b] - cover - d / 2)
        attrs = {
            "length_m": length,
            "roughness": roughness,
            "cover_m": cover,
            "cover_rule": rule,
            "depth_assumed": True,
        }
        if len(r.fields) > 6:
            attrs["minor_loss"] = inp.number(r, 6, "minor loss")
        if len(r.fields) > 7:
            attrs["status"] = r.fields[7]
        features.append(
            _inp.build(
                inp,
                r,
                PipeSegment,
                id=fid,
                utility=utility,
                diameter=d,
                from_node=a,
                to_node=b,
                centreline=np.column_stack([xy, z]).tolist(),
                attributes=attrs,
            )
        )
        widest[a] = max(widest.get(a, 0.0), d)
        widest[b] = max(widest.get(b, 0.0), d)
        if k % 2000 == 1999:
            ctx.report(0.5 + 0.4 * k / len(pipes))
    if skipped_flat:
        warnings.append(
            f"skipped {len(skipped_flat)} pipes of zero horizontal length (both ends at one position): "
            + ", ".join(skipped_flat[:5])
            + (" ..." if len(skipped_flat) > 5 else "")
        )

    for fid, r in nodes.items():
        if fid not in geo.node_xy:
            continue
        x, y = (float(v) for v in geo.node_xy[fid])
        if r.section == "JUNCTIONS":
            attrs = {"elevation_m": elev[fid]}
            if len(r.fields) > 2:
                attrs["base_demand"] = inp.number(r, 2, "demand")
                attrs["flow_units"] = units
            if len(r.fields) > 3:
                attrs["pattern"] = r.fields[3]
            depth = None
            if fid in widest:
                depth = cover + widest[fid]
                attrs.update(depth_assumed=True, cover_m=cover, cover_rule=rule)
            features.append(
                _inp.build(
                    inp,
                    r,
                    PipeNode,
                    id=fid,
                    kind=NodeKind.junction,
                    utility=utility,
                    position=(x, y, elev[fid]),
                    depth=depth,
                    attributes=attrs,
                )
            )
        elif r.section == "RESERVOIRS":
            attrs = {"head_m": elev[fid]}
            if len(r.fields) > 2:
                attrs["pattern"] = r.fields[2]
            features.append(
                _inp.build(
                    inp,
                    r,
                    PipeNode,
                    id=fid,
                    kind=NodeKind.reservoir,
                    utility=utility,
                    position=(x, y, elev[fid]),
                    attributes=attrs,
                )
            )
        else:
            attrs = {"elevation_m": elev[fid]}
            for col, key in ((2, "init_level_m"), (3, "min_level_m"), (4, "max_level_m"), (5, "tank_diameter_m")):
                attrs[key] = inp.number(r, col, key.removesuffix("_m").replace("_", " "), nonnegative=True) * length_m
            features.append(
                _inp.build(
                    inp,
                    r,
                    PipeNode,
                    id=fid,
                    kind=NodeKind.tank,
                    utility=utility,
                    position=(x, y, elev[fid]),
                    attributes=attrs,
                )
            )

    for r in inp.rows("PUMPS") + inp.rows("VALVES"):
        fid, a, b = r.fields[0], r.fields[1], r.fields[2]
        mid = _inp.midpoint(_path(geo, fid, a, b))
        attrs = {"link_id": fid, "from_node": a, "to_node": b}
        if r.section == "PUMPS":
            kind, prefix = NodeKind.pump, "pump"
            attrs["parameters"] = " ".join(r.fields[3:])
        else:
            kind, prefix = NodeKind.valve, "valve"
            attrs.update(
                diameter_m=inp.number(r, 3, "diameter", positive=True) * diameter_m,
                valve_type=r.fields[4].upper(),
                setting=r.fields[5],
            )
            if len(r.fields) > 6:
                attrs["minor_loss"] = inp.number(r, 6, "minor loss")
        features.append(
            _inp.build(
                inp,
                r,
                PipeNode,
                id=f"{prefix}:{fid}",
                kind=kind,
                utility=utility,
                position=(float(mid[0]), float(mid[1]), (ground[a] + ground[b]) / 2),
                attributes=attrs,
            )
        )
    ctx.report(1.0)
    network = Path(filename).stem  # the features' network; the file's text is kept for simulation (cim.water)
    for f in features:
        f.attributes["network"] = network
    result = ImportResult(features=features, source_crs=geo.source_crs, warnings=warnings)
    result.blobs[f"epanet/{network}"] = path.read_bytes()
    if hasattr(result, "info"):
        result.info.update(flow_units=units, cover_m=cover, vertices=sum(len(v) for v in geo.link_vertices.values()))
    return result


def _path(geo: _inp.Plan, fid: str, a: str, b: str) -> np.ndarray:
    """(n, 2) city metres: node a, the link's vertices, node b."""
    verts = geo.link_vertices.get(fid)
    if verts is None:
        return np.vstack([geo.node_xy[a], geo.node_xy[b]])
    return np.vstack([geo.node_xy[a], verts, geo.node_xy[b]])


register(EpanetReader())
