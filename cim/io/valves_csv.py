"""Isolation-valve layers as CSV (``pipe,node``, optionally ``id``): gate valves on pipes already in the store.

Each row is a valve on pipe ``pipe`` beside its end node ``node`` (WNTR's valve layer); it becomes a
:class:`PipeNode` of kind ``valve`` with ``attributes`` ``{"isolation": true, "pipe", "node"}``, placed on the
pipe's centreline :data:`VALVE_OFFSET_M` from that end (a third of the pipe when shorter), with the node's
ground elevation (the pipe end's axis + half the pipe + the default cover where the node is not stored).
The id is the ``id`` column, else ``valve:<pipe>:<node>``.  The store must already hold the pipes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import shapely

from ..errors import FeatureNotFound
from ..model import NodeKind, PipeNode
from .base import ImportContext, ImportError_, ImportResult
from .registry import register

VALVE_OFFSET_M = 3.0


def _header(head: bytes) -> list[str]:
    line = head.decode("utf-8-sig", errors="replace").splitlines()[0] if head.strip() else ""
    return [c.strip().lower() for c in line.split(",")]


class ValvesCsvReader:
    """The importer of an isolation-valve layer: rows of pipe id, end node id (and valve id) become valve pipe-nodes."""

    name = "valves-csv"
    extensions = (".csv",)
    description = "Isolation-valve layer (CSV with columns pipe,node[,id]) on pipes already in the store"

    def sniff(self, head: bytes, path: Path) -> bool:
        cols = _header(head)
        return "pipe" in cols and "node" in cols and set(cols) <= {"pipe", "node", "id"}

    def read(self, path: Path, ctx: ImportContext) -> ImportResult:
        name = ctx.filename or path.name
        if ctx.store is None:
            raise ImportError_("A valve layer is imported into a store that holds its pipes.", file=name)
        text = path.read_bytes().decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        out: list[PipeNode] = []
        seen: set[str] = set()
        for k, row in enumerate(rows, start=2):
            row = {(key or "").strip().lower(): (v or "").strip() for key, v in row.items()}
            pipe_id, node_id = row.get("pipe", ""), row.get("node", "")
            if not pipe_id or not node_id:
                raise ImportError_(f"Line {k}: a valve needs a pipe and a node.", file=name, line=k)
            try:
                pipe = ctx.store.get("pipes", pipe_id)
            except FeatureNotFound:
                raise ImportError_(
                    f"Line {k}: no pipe {pipe_id!r} in the store.", file=name, line=k, feature=pipe_id
                ) from None
            if node_id not in (pipe.from_node, pipe.to_node):
                raise ImportError_(
                    f"Line {k}: node {node_id!r} is not an end of pipe {pipe_id!r} "
                    f"({pipe.from_node!r}, {pipe.to_node!r}).",
                    file=name,
                    line=k,
                    feature=pipe_id,
                )
            fid = row.get("id") or f"valve:{pipe_id}:{node_id}"
            if fid in seen:
                raise ImportError_(f"Line {k}: valve {fid!r} is listed twice.", file=name, line=k, feature=fid)
            seen.add(fid)
            c = pipe.coords()
            line = shapely.LineString(c[:, :2])
            d = min(VALVE_OFFSET_M, line.length / 3)
            at_start = node_id == pipe.from_node
            pt = line.interpolate(d if at_start else line.length - d)
            try:
                z = ctx.store.get("pipe-nodes", node_id).position[2]
            except FeatureNotFound:
                end = c[0] if at_start else c[-1]
                z = float(end[2]) + pipe.outer_height / 2 + (ctx.default_cover or ctx.city.frost_depth + 0.1)
            out.append(
                PipeNode(
                    id=fid,
                    kind=NodeKind.valve,
                    utility=pipe.utility,
                    position=(pt.x, pt.y, float(z)),
                    attributes={"isolation": True, "pipe": pipe_id, "node": node_id},
                )
            )
        if not out:
            raise ImportError_("The valve layer lists no valves.", file=name)
        return ImportResult(features=out)


register(ValvesCsvReader())
