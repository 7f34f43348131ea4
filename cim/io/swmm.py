"""SWMM 5 input files (``.inp``): drainage networks.

What becomes what (utility ``storm``, or ``ImportContext.default_utility``, e.g. ``sewer`` for a foul
network: a SWMM file does not say which it models, and rainfall-runoff models are storm or combined):

* ``[JUNCTIONS]``, ``[STORAGE]`` (SWMM models many manholes as storage) and ``[DIVIDERS]`` ->
  :class:`PipeNode` ``manhole``: ``position`` z = invert + max depth (the rim, taken as the ground),
  ``depth`` = max depth.  A max depth of 0 means, in SWMM, "up to the crown of the highest connected
  conduit": that crown is used and marked ``attributes["depth_assumed"]``.
* ``[OUTFALLS]`` -> ``outfall`` at z = its invert (SWMM gives no rim), ``depth`` None.
* ``[CONDUITS]`` -> :class:`PipeSegment`: centreline = from node, the link's ``[VERTICES]``, to node
  (2-D from the file, reprojected); the axis z at each end = node invert + offset + section height / 2
  (``LINK_OFFSETS DEPTH``, the default) or offset + height / 2 (``ELEVATION``; ``*`` = the node invert),
  linear in between.  The section comes from ``[XSECTIONS]``: CIRCULAR, FORCE_MAIN, FILLED_CIRCULAR and
  the closed shapes given by their height alone -> ``diameter`` = geom1; shapes with a width (RECT_CLOSED,
  RECT_OPEN, TRAPEZOIDAL, ..., geom2 > 0) -> a box, ``section_height`` = geom1, ``width`` = geom2.
  The shape and barrels are kept in ``attributes``; DUMMY, IRREGULAR and STREET sections are skipped
  with a warning (no pipe size).
* Subcatchments, pumps, orifices, weirs and outlets are not pipes: skipped, with a warning giving counts.
  The whole file is stored as the blob ``swmm/<file stem>`` in the same transaction, so that
  ``POST /analysis/drainage`` runs it as it was written (subcatchments, gages, options, curves, transects).

The nodes are also recorded in ``ImportContext.nodes`` (id -> x, y, rim z, invert z), so that a pipe file
read after this one in the same import can take its elevations from them.

Units follow ``[OPTIONS] FLOW_UNITS``: CFS, GPM, MGD are US (feet), CMS, LPS, MLD are SI (metres).
SWMM files declare no CRS: ``ImportContext.crs`` (``--crs``) gives the CRS of ``[COORDINATES]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model import NodeKind, PipeNode, PipeSegment, Utility
from . import _inp
from .base import ImportContext, ImportResult
from .registry import register

US_UNITS = frozenset({"CFS", "GPM", "MGD"})
SI_UNITS = frozenset({"CMS", "LPS", "MLD"})
FT = 0.3048
ROUND = frozenset({"CIRCULAR", "FORCE_MAIN", "FILLED_CIRCULAR"})
NO_SIZE = frozenset({"DUMMY", "IRREGULAR", "STREET"})
# the column of the maximum depth in [DIVIDERS], by divider type
DIVIDER_YMAX = {"CUTOFF": 5, "OVERFLOW": 4, "TABULAR": 5, "WEIR": 7}
SWMM_TYPE = {"JUNCTIONS": "junction", "OUTFALLS": "outfall", "STORAGE": "storage", "DIVIDERS": "divider"}
NODE_SECTIONS = ("JUNCTIONS", "OUTFALLS", "STORAGE", "DIVIDERS")
LINK_SECTIONS = ("CONDUITS", "PUMPS", "ORIFICES", "WEIRS", "OUTLETS")
BLOB_PREFIX = "swmm/"  # the imported file is kept as the blob swmm/<file stem>


class SwmmReader:
    name = "swmm"
    extensions = (".inp",)
    description = "SWMM 5 drainage network (.inp): conduits, manholes (junctions, storage), outfalls"

    def sniff(self, head: bytes, path: Path) -> bool:
        return _inp.classify(head) == "swmm"

    def read(self, path: Path, ctx: ImportContext) -> ImportResult:
        return _read(path, ctx)


def _read(path: Path, ctx: ImportContext) -> ImportResult:
    filename = ctx.filename or path.name
    inp = _inp.parse(path, filename, what="SWMM input file")
    warnings: list[str] = []
    utility = _inp.utility_of(ctx, Utility.storm)

    units, us = _inp.flow_units(inp, "FLOW_UNITS", "CFS", US_UNITS, SI_UNITS, "SWMM", warnings)
    m = FT if us else 1.0
    row = inp.option("LINK_OFFSETS")
    by_elevation = row is not None and row.fields[1].upper() == "ELEVATION"
    if row is not None and row.fields[1].upper() not in ("DEPTH", "ELEVATION"):
        raise inp.error(f"Unknown LINK_OFFSETS {row.fields[1]!r} (line {row.line}); SWMM knows DEPTH, ELEVATION.", row)

    # nodes
    for sec, n, cols in (
        ("JUNCTIONS", 2, "name, invert elevation"),
        ("OUTFALLS", 3, "name, invert elevation, type"),
        ("STORAGE", 5, "name, invert elevation, max depth, initial depth, shape"),
        ("DIVIDERS", 4, "name, invert elevation, diverted link, type"),
    ):
        for r in inp.rows(sec):
            inp.need(r, n, cols)
    nodes = _inp.unique_ids(inp, [(s, inp.rows(s)) for s in NODE_SECTIONS], "node")
    if not nodes:
        raise inp.error("The file defines no nodes ([JUNCTIONS], [OUTFALLS], [STORAGE] or [DIVIDERS]).")
    invert = {fid: inp.number(r, 1, "invert elevation") * m for fid, r in nodes.items()}
    max_depth: dict[str, float] = {}
    for fid, r in nodes.items():
        col = {"JUNCTIONS": 2, "STORAGE": 2}.get(r.section)
        if r.section == "DIVIDERS":
            col = DIVIDER_YMAX.get(r.fields[3].upper())
        max_depth[fid] = (
            inp.number(r, col, "max depth", nonnegative=True) * m if col is not None and len(r.fields) > col else 0.0
        )

    # links
    for r in inp.rows("CONDUITS"):
        inp.need(r, 7, "name, from node, to node, length, roughness, inlet offset, outlet offset")
    for sec in LINK_SECTIONS[1:]:
        for r in inp.rows(sec):
            inp.need(r, 3, "name, from node, to node")
    links = _inp.unique_ids(inp, [(s, inp.rows(s)) for s in LINK_SECTIONS], "link")
    conduits = inp.rows("CONDUITS")
    for r in conduits:
        for end in r.fields[1:3]:
            if end not in nodes:
                raise inp.error(
                    f"[CONDUITS] conduit {r.fields[0]!r} references unknown node {end!r} (line {r.line}).",
                    r,
                    feature=r.fields[0],
                )
    xsect: dict[str, _inp.Row] = {}
    for r in inp.rows("XSECTIONS"):
        inp.need(r, 3, "link, shape, geom1")
        if r.fields[0] in xsect:
            raise inp.error(
                f"[XSECTIONS] gives link {r.fields[0]!r} twice (lines {xsect[r.fields[0]].line} and {r.line}).",
                r,
                feature=r.fields[0],
            )
        xsect[r.fields[0]] = r

    # sections and end elevations of conduits
    skipped_shape: list[str] = []
    spec: list[tuple[_inp.Row, dict, float, float, float]] = []  # row, size, height, z inlet, z outlet
    for r in conduits:
        fid, a, b = r.fields[0], r.fields[1], r.fields[2]
        xs = xsect.get(fid)
        if xs is None:
            raise inp.error(
                f"[CONDUITS] conduit {fid!r} (line {r.line}) has no [XSECTIONS] entry."
                + inp.truncation_hint("XSECTIONS"),
                r,
                feature=fid,
            )
        shape = xs.fields[1].upper()
        if shape in NO_SIZE:
            skipped_shape.append(fid)
            continue
        g1 = inp.number(xs, 2, "geom1 (height)", positive=True) * m
        g2 = inp.number(xs, 3, "geom2", nonnegative=True) * m if len(xs.fields) > 3 and shape != "CUSTOM" else 0.0
        size = {"diameter": g1} if shape in ROUND or g2 == 0 else {"section_height": g1, "width": g2}
        ends = []
        for node, col, what in ((a, 5, "inlet offset"), (b, 6, "outlet offset")):
            text = r.fields[col]
            if text == "*":
                ends.append(invert[node])
            else:
                off = inp.number(r, col, what) * m
                ends.append(off if by_elevation else invert[node] + off)
        attrs = {
            "length_m": inp.number(r, 3, "length", nonnegative=True) * m,
            "roughness": inp.number(r, 4, "roughness"),
            "shape": shape,
            "invert_in_m": ends[0],
            "invert_out_m": ends[1],
        }
        if len(xs.fields) > 6 and shape not in ("CUSTOM",):
            attrs["barrels"] = int(inp.number(xs, 6, "barrels", positive=True))
        spec.append((r, size | {"attributes": attrs}, g1, ends[0], ends[1]))
    if skipped_shape:
        warnings.append(
            f"skipped {len(skipped_shape)} conduits without a pipe size (DUMMY, IRREGULAR or STREET "
            "sections): " + ", ".join(skipped_shape[:5]) + (" ..." if len(skipped_shape) > 5 else "")
        )
    ctx.report(0.3)

    geo = _inp.plan(inp, ctx, nodes, links, what="SWMM input file")
    warnings += geo.warnings
    for r, *_ in spec:
        for end in r.fields[1:3]:
            if end not in geo.node_xy:
                raise inp.error(
                    f"[CONDUITS] conduit {r.fields[0]!r} (line {r.line}) uses node {end!r}, which has "
                    "no [COORDINATES] entry." + inp.truncation_hint("COORDINATES"),
                    r,
                    feature=r.fields[0],
                )
    ctx.report(0.5)

    # a max depth of 0: up to the highest crown of the connected conduits (SWMM's rule)
    crown: dict[str, float] = {}
    for r, _, h, z_in, z_out in spec:
        for node, z in ((r.fields[1], z_in), (r.fields[2], z_out)):
            crown[node] = max(crown.get(node, -np.inf), z + h - invert[node])
    features: list = []
    rim: dict[str, float] = {}
    for fid, r in nodes.items():
        if fid not in geo.node_xy:
            continue
        x, y = (float(v) for v in geo.node_xy[fid])
        attrs = {"swmm_type": SWMM_TYPE[r.section], "invert_elevation_m": invert[fid]}
        if r.section == "OUTFALLS":
            attrs["outfall_type"] = r.fields[2].upper()
            features.append(
                _inp.build(
                    inp,
                    r,
                    PipeNode,
                    id=fid,
                    kind=NodeKind.outfall,
                    utility=utility,
                    position=(x, y, invert[fid]),
                    attributes=attrs,
                )
            )
            continue
        depth = max_depth[fid]
        attrs["max_depth_m"] = depth
        if depth == 0 and crown.get(fid, 0) > 0:
            depth = crown[fid]
            attrs["depth_assumed"] = True
        rim[fid] = invert[fid] + depth
        features.append(
            _inp.build(
                inp,
                r,
                PipeNode,
                id=fid,
                kind=NodeKind.manhole,
                utility=utility,
                position=(x, y, invert[fid] + depth),
                depth=depth if depth > 0 else None,
                attributes=attrs,
            )
        )

    above: list[str] = []
    for k, (r, size, h, z_in, z_out) in enumerate(spec):
        fid, a, b = r.fields[0], r.fields[1], r.fields[2]
        verts = geo.link_vertices.get(fid)
        xy = np.vstack([geo.node_xy[a]] + ([verts] if verts is not None else []) + [geo.node_xy[b]])
        if not np.any(np.hypot(*np.diff(xy, axis=0).T) > 0):
            raise inp.error(
                f"[CONDUITS] conduit {fid!r} (line {r.line}) has zero horizontal length: nodes {a!r} "
                f"and {b!r} share a position.",
                r,
                feature=fid,
            )
        z = _inp.path_z(xy, z_in + h / 2, z_out + h / 2)
        if any(node in rim and zc + h > rim[node] + 1e-6 for node, zc in ((a, z_in), (b, z_out))):
            above.append(fid)
        features.append(
            _inp.build(
                inp,
                r,
                PipeSegment,
                id=fid,
                utility=utility,
                from_node=a,
                to_node=b,
                centreline=np.column_stack([xy, z]).tolist(),
                **size,
            )
        )
        if k % 2000 == 1999:
            ctx.report(0.5 + 0.5 * k / len(spec))
    if above:
        warnings.append(
            f"{len(above)} conduits reach above the rim of an end node (crown higher than the ground): "
            + ", ".join(above[:5])
            + (" ..." if len(above) > 5 else "")
        )
    shared = getattr(ctx, "nodes", None)  # for pipe files of the same import that name these nodes
    if shared is not None:
        for f in features:
            if isinstance(f, PipeNode):
                shared[f.id] = (*f.position, f.attributes["invert_elevation_m"])
    counts = {s.lower(): len(inp.rows(s)) for s in ("SUBCATCHMENTS", *LINK_SECTIONS[1:]) if inp.rows(s)}
    if counts:
        warnings.append("skipped (not pipes): " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    ctx.report(1.0)
    result = ImportResult(features=features, source_crs=geo.source_crs, warnings=warnings)
    # the file itself, so that the stored model runs like the original (cim.analysis.drainage)
    result.blobs[f"{BLOB_PREFIX}{Path(filename).stem}"] = path.read_bytes()
    if hasattr(result, "info"):
        result.info.update(flow_units=units, link_offsets="ELEVATION" if by_elevation else "DEPTH")
    return result


register(SwmmReader())
